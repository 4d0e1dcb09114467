"""Published datasets from a portal's catalogue API, so requests can be matched against them.

Three shapes are read, as their APIs return them:
- CKAN `package_search` (`/api/3/action/package_search`): `result.results[]`;
  link `<portal>/dataset/<name>`.
- udata, e.g. data.gouv.fr (`/api/1/datasets/`): `data[]`, link in `page`.
- Opendatasoft Explore v2.1 (`/api/explore/v2.1/catalog/datasets`): `results[]`
  with `metas.default`, and v2.0's `datasets[].dataset`; link
  `<portal>/explore/dataset/<dataset_id>/`.

From a URL, the following pages are fetched too (CKAN `start`, udata
`next_page`, Opendatasoft `offset`). Parsers turn JSON into frozen records at
once; only `import_records` touches the database, in the caller's transaction.
"""

from __future__ import annotations

import html
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.pipeline.suggest import index_datasets
from storage.models import CatalogueDataset, utcnow

FORMATS = ("ckan", "udata", "opendatasoft")
USER_AGENT = "datacall (catalogue import)"
TIMEOUT_SECONDS = 30
# A whole page must arrive within this: a server sending one byte at a time never
# trips the per-read timeout, so the read as a whole has a deadline.
READ_DEADLINE_SECONDS = 120.0
MAX_BYTES = 200 * 1024 * 1024  # a page larger than this is not a catalogue page
MAX_PAGES = 200

# Column sizes of CatalogueDataset: longer ids cannot be stored without colliding.
_ID_LENGTH, _SOURCE_LENGTH, _TITLE_LENGTH, _URL_LENGTH = 200, 200, 500, 1000


class CatalogueError(Exception):
    """The catalogue cannot be read; one line naming the source, for the CLI (exit code 2)."""


@dataclass(frozen=True)
class CatalogueRecord:
    """One published dataset, whatever the portal software."""

    external_id: str
    title: str
    url: str
    description: str = ""
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    """What a source held: its format, its portal address (if known) and its datasets."""

    format: str
    base_url: str | None
    records: tuple[CatalogueRecord, ...]
    skipped: int = 0  # entries without an id or a title, or whose id is too long to store


# ---------------------------------------------------------------------------
# Parsing


def detect_format(payload: object) -> str | None:
    """"ckan", "udata" or "opendatasoft" from the shape of an API answer, or None."""
    if not isinstance(payload, dict):
        return None
    result = payload.get("result")
    if isinstance(result, dict) and isinstance(result.get("results"), list):
        return "ckan"
    if isinstance(payload.get("data"), list) and ("page" in payload or "next_page" in payload or "total" in payload):
        return "udata"
    if isinstance(payload.get("results"), list) and (
        "total_count" in payload or any(isinstance(r, dict) and "dataset_id" in r for r in payload["results"])
    ):
        return "opendatasoft"
    if isinstance(payload.get("datasets"), list) and "total_count" in payload:
        return "opendatasoft"
    return None


def plain_text(text: object) -> str:
    """Descriptions come as HTML (Opendatasoft) or Markdown (udata): keep the words."""
    if not isinstance(text, str):
        return ""
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"[*_#`>\[\]]+", " ", html.unescape(text))
    return " ".join(text.split())


def _keywords(values: object) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return ()
    words = []
    for value in values:
        if isinstance(value, dict):  # CKAN tags: {"name": ..., "display_name": ...}
            value = value.get("display_name") or value.get("name")
        if isinstance(value, str) and value.strip() and value.strip() not in words:
            words.append(value.strip())
    return tuple(words)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def parse_ckan(payload: dict, *, base_url: str | None) -> list[CatalogueRecord | None]:
    result = payload.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("results"), list):
        raise CatalogueError("not a CKAN package_search answer (no result.results list)")
    records: list[CatalogueRecord | None] = []
    for package in result["results"]:
        if not isinstance(package, dict):
            records.append(None)
            continue
        external_id = _text(package.get("id")) or _text(package.get("name"))
        name = _text(package.get("name")) or external_id
        if not base_url:
            raise CatalogueError("CKAN dataset links need the portal's address: give --base-url")
        records.append(_record(
            external_id,
            _text(package.get("title")) or name,
            f"{base_url}/dataset/{urllib.parse.quote(name)}",
            plain_text(package.get("notes")),
            _keywords(package.get("tags")),
        ))
    return records


def parse_udata(payload: dict, *, base_url: str | None) -> list[CatalogueRecord | None]:
    if not isinstance(payload.get("data"), list):
        raise CatalogueError("not a udata datasets answer (no data list)")
    records: list[CatalogueRecord | None] = []
    for dataset in payload["data"]:
        if not isinstance(dataset, dict):
            records.append(None)
            continue
        external_id = _text(dataset.get("id"))
        url = _text(dataset.get("page"))
        if not url:
            slug = _text(dataset.get("slug")) or external_id
            if not base_url:
                raise CatalogueError("udata datasets without a page link need the portal's address: give --base-url")
            url = f"{base_url}/datasets/{urllib.parse.quote(slug)}/"
        records.append(_record(
            external_id, _text(dataset.get("title")), url,
            plain_text(dataset.get("description")), _keywords(dataset.get("tags")),
        ))
    return records


def parse_opendatasoft(payload: dict, *, base_url: str | None) -> list[CatalogueRecord | None]:
    if isinstance(payload.get("results"), list):
        items = payload["results"]  # Explore v2.1
    elif isinstance(payload.get("datasets"), list):
        items = [d.get("dataset") if isinstance(d, dict) else None for d in payload["datasets"]]  # v2.0
    else:
        raise CatalogueError("not an Opendatasoft catalog answer (no results list)")
    records: list[CatalogueRecord | None] = []
    for dataset in items:
        if not isinstance(dataset, dict):
            records.append(None)
            continue
        metas = dataset.get("metas")
        metas = metas if isinstance(metas, dict) else {}
        default = metas.get("default")
        default = default if isinstance(default, dict) else {}
        external_id = _text(dataset.get("dataset_id"))
        if not base_url:
            raise CatalogueError("Opendatasoft dataset links need the portal's address: give --base-url")
        records.append(_record(
            external_id,
            _text(default.get("title")),
            f"{base_url}/explore/dataset/{urllib.parse.quote(external_id)}/",
            plain_text(default.get("description")),
            _keywords(default.get("keyword")) + _keywords(default.get("theme")),
        ))
    return records


_PARSERS: dict[str, Callable[..., list[CatalogueRecord | None]]] = {
    "ckan": parse_ckan, "udata": parse_udata, "opendatasoft": parse_opendatasoft,
}


def _record(external_id: str, title: str, url: str, description: str, keywords: tuple[str, ...]):
    if not external_id or not title or len(external_id) > _ID_LENGTH or len(url) > _URL_LENGTH:
        return None
    if len(title) > _TITLE_LENGTH:
        title = title[: _TITLE_LENGTH - 1] + "…"
    return CatalogueRecord(external_id, title, url, description, keywords)


def parse(payload: object, fmt: str = "auto", *, base_url: str | None = None) -> tuple[str, list]:
    """(format, records) of one API answer; entries that cannot be used are None."""
    detected = detect_format(payload)
    if fmt == "auto":
        if detected is None:
            raise CatalogueError(
                "not a catalogue this version reads (CKAN package_search, udata datasets, "
                "Opendatasoft catalog datasets); give --format if it is one of them"
            )
        fmt = detected
    if fmt not in _PARSERS:
        raise CatalogueError(f"unknown format {fmt!r}; one of: auto, {', '.join(FORMATS)}")
    if not isinstance(payload, dict):
        raise CatalogueError(f"not a {fmt} catalogue: expected a JSON object")
    return fmt, _PARSERS[fmt](payload, base_url=base_url.rstrip("/") if base_url else None)


# ---------------------------------------------------------------------------
# Reading a file or a URL


def is_url(source: str) -> bool:
    return urllib.parse.urlsplit(source).scheme in ("http", "https")


def portal_base(url: str) -> str:
    """The portal's address from an API URL: everything before `/api/`."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path
    index = path.find("/api/")
    path = path[:index] if index >= 0 else ""
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def fetch_url(url: str, *, deadline_seconds: float | None = None) -> bytes:
    """GET `url` within an overall deadline; any failure is one CatalogueError line."""
    deadline_seconds = READ_DEADLINE_SECONDS if deadline_seconds is None else deadline_seconds
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=min(TIMEOUT_SECONDS, deadline_seconds)) as response:
            body = bytearray()
            while chunk := response.read1(65536):
                body += chunk
                if time.monotonic() - started > deadline_seconds:
                    raise CatalogueError(f"{url}: too slow: not read within {deadline_seconds:g} s")
                if len(body) > MAX_BYTES:
                    raise CatalogueError(f"{url}: larger than {MAX_BYTES // (1024 * 1024)} MB")
            return bytes(body)
    except urllib.error.HTTPError as exc:
        raise CatalogueError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CatalogueError(f"{url}: cannot be read: {reason}") from None


def _decode(raw: bytes, where: str) -> object:
    try:
        payload = json.loads(raw.decode("utf-8-sig"))
        # A \ud800 escape decodes to a lone surrogate, which no database can store.
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return payload
    except UnicodeDecodeError:
        raise CatalogueError(f"{where}: not UTF-8 text") from None
    except UnicodeEncodeError:
        raise CatalogueError(f"{where}: not valid Unicode (a lone surrogate escape such as \\ud800)") from None
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise CatalogueError(f"{where}: nested too deep to be a catalogue") from None


def _with_query(url: str, **values: object) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    query.update({key: str(value) for key, value in values.items()})
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def next_page(url: str, fmt: str, payload: dict, count: int) -> str | None:
    """The URL of the page after `url` (which held `count` entries), or None at the end."""
    if count == 0:
        return None
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    if fmt == "udata":
        following = payload.get("next_page")
        return following if isinstance(following, str) and following else None
    if fmt == "ckan":
        total = payload["result"].get("count")
        start = int(query.get("start", 0) or 0) + count
        return _with_query(url, start=start) if isinstance(total, int) and start < total else None
    total = payload.get("total_count")
    offset = int(query.get("offset", 0) or 0) + count
    return _with_query(url, offset=offset) if isinstance(total, int) and offset < total else None


def read_catalogue(
    source: str,
    fmt: str = "auto",
    *,
    base_url: str | None = None,
    fetch: Callable[[str], bytes] = fetch_url,
    max_pages: int = MAX_PAGES,
) -> Catalogue:
    """Every dataset of a catalogue file or API URL (following its pages)."""
    if fmt not in ("auto", *FORMATS):
        raise CatalogueError(f"unknown format {fmt!r}; one of: auto, {', '.join(FORMATS)}")
    if not is_url(source):
        path = Path(source)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CatalogueError(f"{source}: cannot be read: {exc.strerror or exc}") from None
        try:
            fmt, entries = parse(_decode(raw, source), fmt, base_url=base_url)
        except CatalogueError as exc:
            raise _named(exc, source) from None
        return _catalogue(fmt, base_url, entries)

    base = base_url or portal_base(source)
    url: str | None = source
    entries = []
    seen: set[str] = set()
    pages = 0
    while url and pages < max_pages and url not in seen:
        seen.add(url)
        payload = _decode(fetch(url), url)
        try:
            fmt, page = parse(payload, fmt, base_url=base)
        except CatalogueError as exc:
            raise _named(exc, url) from None
        entries += page
        pages += 1
        # parse() read it, so it is a JSON object
        url = next_page(url, fmt, payload, len(page)) if isinstance(payload, dict) else None
    return _catalogue(fmt, base, entries)


def _named(exc: CatalogueError, where: str) -> CatalogueError:
    message = str(exc)
    return exc if message.startswith(where) else CatalogueError(f"{where}: {message}")


def _catalogue(fmt: str, base_url: str | None, entries: Sequence) -> Catalogue:
    records: dict[str, CatalogueRecord] = {}
    for record in entries:
        if record is not None:
            records[record.external_id] = record  # the last page wins if a dataset moved between pages
    skipped = sum(record is None for record in entries)
    return Catalogue(fmt, base_url.rstrip("/") if base_url else None, tuple(records.values()), skipped)


def default_source_name(source: str, catalogue: Catalogue) -> str:
    """Datasets are unique per (source name, id): the portal's address, else the file's name."""
    if catalogue.base_url:
        return catalogue.base_url[:_SOURCE_LENGTH]
    return Path(source).name[:_SOURCE_LENGTH]


# ---------------------------------------------------------------------------
# Storing


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int


def import_records(session: Session, *, source: str, records: Iterable[CatalogueRecord]) -> ImportResult:
    """Insert new datasets and update known ones, by (source, external id); never commits."""
    records = list(records)
    known = {
        row.external_id: row
        for chunk in _chunks([r.external_id for r in records], 500)
        for row in session.scalars(
            select(CatalogueDataset).where(CatalogueDataset.source == source, CatalogueDataset.external_id.in_(chunk))
        )
    }
    added = updated = unchanged = 0
    now = utcnow()
    changed: list[CatalogueDataset] = []
    for record in records:
        values = {
            "title": record.title,
            "description": record.description,
            "keywords": ", ".join(record.keywords),
            "url": record.url,
        }
        row = known.get(record.external_id)
        if row is None:
            row = CatalogueDataset(source=source, external_id=record.external_id, imported_at=now, **values)
            session.add(row)
            changed.append(row)
            added += 1
        elif any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            row.imported_at = now
            changed.append(row)
            updated += 1
        else:
            unchanged += 1
    session.flush()
    index_datasets(session, changed)  # new requests find them through the match-term index
    return ImportResult(added, updated, unchanged)


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
