"""Open-data exports: every request and every status event, with nobody in them.

The Paris review asked that the requests themselves be published as open data.
Requesters appear only as salted hashes: one person has one hash in every file
of a deployment, so supporters can be counted and joined across files, but
nobody without the database's salt can recompute a hash from a handle or id.
Handles, user ids, officers' names and message texts are never exported:
titles are the ones an officer approved, else "Request #N" (unless the first
message's author consented to be shown), and a request closed because its
only message was not a data request is left out with its events.

Rows are built from the database (`request_rows`, `event_rows`), rendered by
pure functions (`csv_text`, `json_text`, `datapackage_descriptor`), and
written only by `write_export`. Query functions never commit: the caller owns
the transaction, which also keeps a newly made salt.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import REQUEST_STATUSES, AppSetting, Campaign, Message, Request, Requester, StatusEvent
from storage.public_titles import public_titles

Format = Literal["csv", "json", "datapackage"]
FORMATS: tuple[Format, ...] = ("csv", "json", "datapackage")
SALT_KEY = "export_salt"
# The actor of automatic events (bot.pipeline.route.SYSTEM_ACTOR; storage does not import bot).
SYSTEM_ACTOR = "datacall"
OFFICER = "officer"
# List values (networks, languages, supporters) in one CSV cell.
LIST_SEPARATOR = ";"
REQUESTS_CSV = "requests.csv"
EVENTS_CSV = "status_events.csv"
DESCRIPTOR = "datapackage.json"

LICENCES: dict[str, dict[str, str]] = {
    "ODbL-1.0": {
        "name": "ODbL-1.0",
        "path": "https://opendatacommons.org/licenses/odbl/1-0/",
        "title": "Open Data Commons Open Database License 1.0",
    },
    "etalab-2.0": {
        "name": "etalab-2.0",
        "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
        "title": "Licence Ouverte / Open Licence version 2.0",
    },
    "CC-BY-4.0": {
        "name": "CC-BY-4.0",
        "path": "https://creativecommons.org/licenses/by/4.0/",
        "title": "Creative Commons Attribution 4.0",
    },
}
DEFAULT_LICENCE = "ODbL-1.0"


def _field(name: str, type_: str, description: str, **constraints) -> dict:
    field: dict[str, object] = {"name": name, "type": type_, "description": description}
    if constraints:
        field["constraints"] = constraints
    return field


# Table Schema fields, in column order. Both files use them; JSON keeps lists as lists.
REQUEST_FIELDS: tuple[dict, ...] = (
    _field("id", "integer", "Request number, as in the replies and on the dashboard.", required=True, unique=True),
    _field("title", "string", "What is asked, as an officer wrote or approved it; \"Request #N\" until then."),
    _field("status", "string", "Current status.", required=True, enum=list(REQUEST_STATUSES)),
    _field("campaign", "string", "Slug of the call for contribution it answered, e.g. 2027-q1."),
    _field("created_at", "datetime", "When the request was opened (UTC)."),
    _field("updated_at", "datetime", "Last change (UTC)."),
    _field("answer", "string", "The public answer of the open-data team."),
    _field("url", "string", "Link to the dataset (published, already_available)."),
    _field("duplicate_of", "integer", "For status duplicate: the request whose supporters it joined."),
    _field("supporter_count", "integer", "Number of distinct people supporting it.", required=True, minimum=0),
    _field("networks", "string", "Networks its supporters wrote on, separated by ';'."),
    _field("languages", "string", "Languages of the supporting messages, separated by ';'."),
    _field("supporters", "string", "Pseudonymous supporter ids (salted hashes), separated by ';'."),
)
EVENT_FIELDS: tuple[dict, ...] = (
    _field("id", "integer", "Status event number.", required=True, unique=True),
    _field("request_id", "integer", "The request (requests.id).", required=True),
    _field("status", "string", "The status set.", required=True, enum=list(REQUEST_STATUSES)),
    _field("answer", "string", "The public answer sent with it."),
    _field("url", "string", "Dataset link sent with it."),
    _field("duplicate_of", "integer", "For status duplicate: the request joined."),
    _field("actor", "string", "Who changed it: datacall (automatic) or officer.", required=True,
           enum=[SYSTEM_ACTOR, OFFICER]),
    _field("created_at", "datetime", "When (UTC).", required=True),
)
LIST_FIELDS = frozenset({"networks", "languages", "supporters"})


class ExportError(ValueError):
    """The export cannot be written as asked; the message says why."""


def export_salt(session: Session) -> str:
    """This database's secret salt, made on first use; the caller commits it.

    Per database, so hashes from two deployments cannot be joined; stored, so
    the same person keeps the same hash from one export to the next.
    """
    value = _stored_salt(session)
    if value is not None:
        return value
    try:
        with session.begin_nested():
            session.add(AppSetting(key=SALT_KEY, value=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another process made it at the same moment: theirs is the salt
    salt = _stored_salt(session)
    if salt is None:
        raise RuntimeError("the export salt could not be stored")
    return salt


def _stored_salt(session: Session) -> str | None:
    return session.scalar(select(AppSetting.value).where(AppSetting.key == SALT_KEY))


def supporter_hash(salt: str, network: str, external_user_id: str) -> str:
    """A stable pseudonym for one requester.

    Plain concatenation is unambiguous because network names are a fixed set
    of which none is a prefix of another.
    """
    return hashlib.sha256(f"{salt}{network}{external_user_id}".encode()).hexdigest()[:16]


def iso_utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def request_rows(session: Session, *, salt: str) -> list[dict]:
    """One dict per request, in REQUEST_FIELDS order; lists stay lists."""
    support = _support(session, salt=salt)
    rows = []
    query = (
        select(Request, Campaign.slug).outerjoin(Campaign, Campaign.id == Request.campaign_id)
        .where(Request.not_a_request.is_(False))
    )
    found = session.execute(query.order_by(Request.id)).all()
    titles = public_titles(session, [request for request, _ in found])
    for request, slug in found:
        networks, languages, hashes = support.get(request.id, (set(), set(), set()))
        rows.append(
            {
                "id": request.id,
                "title": titles[request.id],
                "status": request.status,
                "campaign": slug,
                "created_at": iso_utc(request.created_at),
                "updated_at": iso_utc(request.updated_at),
                "answer": request.answer,
                "url": request.url,
                "duplicate_of": request.duplicate_of_id,
                "supporter_count": len(hashes),
                "networks": sorted(networks),
                "languages": sorted(languages),
                "supporters": sorted(hashes),
            }
        )
    return rows


def _support(session: Session, *, salt: str) -> dict[int, tuple[set, set, set]]:
    """Per request: its supporters' networks, message languages and hashes."""
    support: dict[int, tuple[set, set, set]] = defaultdict(lambda: (set(), set(), set()))
    query = (
        select(Message.request_id, Message.lang, Requester.network, Requester.external_user_id)
        .join(Requester, Requester.id == Message.requester_id)
        .where(Message.request_id.is_not(None))
    )
    for request_id, lang, network, user_id in session.execute(query):
        assert request_id is not None  # the query's filter
        networks, languages, hashes = support[request_id]
        networks.add(network)
        if lang:
            languages.add(lang)
        hashes.add(supporter_hash(salt, network, user_id))
    return support


def event_rows(session: Session) -> list[dict]:
    """One dict per status event, oldest first, in EVENT_FIELDS order.

    Officers appear by role only, and events name no requester, so no salt is needed.
    """
    return [
        {
            "id": event.id,
            "request_id": event.request_id,
            "status": event.status,
            "answer": event.answer,
            "url": event.url,
            "duplicate_of": event.duplicate_of_id,
            "actor": SYSTEM_ACTOR if event.actor == SYSTEM_ACTOR else OFFICER,
            "created_at": iso_utc(event.created_at),
        }
        for event in session.scalars(
            select(StatusEvent)
            .where(StatusEvent.request_id.in_(select(Request.id).where(Request.not_a_request.is_(False))))
            .order_by(StatusEvent.id)
        )
    ]


def csv_text(rows: Iterable[dict], fields: Sequence[dict]) -> str:
    """RFC 4180 CSV with a header; empty cell for none, ';' between list items."""
    names = [field["name"] for field in fields]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: _cell(row[name]) for name in names})
    return buffer.getvalue()


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) can leak
# or mislead); OWASP's advice is to prefix such text with a quote, which shows it as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = LIST_SEPARATOR.join(value)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)  # numbers: never text that a spreadsheet could run


def json_text(requests: list[dict], events: list[dict]) -> str:
    return json.dumps({"requests": requests, "status_events": events}, ensure_ascii=False, indent=2) + "\n"


def datapackage_descriptor(*, created: datetime, licence: str = DEFAULT_LICENCE) -> dict:
    """A Frictionless tabular data package describing the two CSV files."""
    return {
        "profile": "tabular-data-package",
        "name": "datacall-requests",
        "title": "Dataset requests and their answers",
        "description": (
            "Every dataset request received by the open-data team through its calls for contribution, "
            "with its status history and public answers. Supporters are pseudonymous: each is a salted "
            "hash, the same across both files, so they can be counted and joined but not identified."
        ),
        "licenses": [_licence(licence)],
        "sources": [{"title": "datacall"}],
        "created": iso_utc(created),
        "resources": [
            _resource("requests", REQUESTS_CSV, "Dataset requests", REQUEST_FIELDS,
                      [_foreign_key("duplicate_of", "")]),
            _resource("status_events", EVENTS_CSV, "Status changes of the requests", EVENT_FIELDS,
                      [_foreign_key("request_id", "requests"), _foreign_key("duplicate_of", "requests")]),
        ],
    }


def _licence(name: str) -> dict[str, str]:
    if name not in LICENCES:
        raise ExportError(f"unknown licence {name!r}; one of: {', '.join(LICENCES)}")
    return dict(LICENCES[name])


def _resource(name: str, path: str, title: str, fields: Sequence[dict], foreign_keys: list[dict]) -> dict:
    return {
        "profile": "tabular-data-resource",
        "name": name,
        "path": path,
        "title": title,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": {"fields": [dict(field) for field in fields], "primaryKey": ["id"], "foreignKeys": foreign_keys},
    }


def _foreign_key(field: str, resource: str) -> dict:
    # An empty resource name is the resource itself (Table Schema).
    return {"fields": [field], "reference": {"resource": resource, "fields": ["id"]}}


def write_export(
    session: Session,
    fmt: Format,
    out: Path,
    *,
    licence: str = DEFAULT_LICENCE,
    now: datetime | None = None,
) -> list[Path]:
    """Write the export; returns the files written.

    csv: `out` is a folder with requests.csv and status_events.csv;
    json: `out` is one file; datapackage: the folder of csv plus datapackage.json.
    The salt may be made here: the caller commits the session.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}")
    out = Path(out)
    descriptor = datapackage_descriptor(created=now or datetime.now(UTC), licence=licence)
    salt = export_salt(session)
    requests, events = request_rows(session, salt=salt), event_rows(session)
    if fmt == "json":
        _check_file_target(out)
        return [_write(out, json_text(requests, events))]
    _check_folder_target(out)
    written = [
        _write(out / REQUESTS_CSV, csv_text(requests, REQUEST_FIELDS)),
        _write(out / EVENTS_CSV, csv_text(events, EVENT_FIELDS)),
    ]
    if fmt == "datapackage":
        written.append(_write(out / DESCRIPTOR, json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n"))
    return written


def _check_file_target(out: Path) -> None:
    if out.is_dir():
        raise ExportError(f"{out} is a folder; the json export is one file, e.g. --out requests.json")


def _check_folder_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} is a file; the csv and datapackage exports write a folder")


def _write(path: Path, text: str) -> Path:
    """Write through a temporary file, so a reader (the dashboard) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # newline="": the CSV text already carries its RFC 4180 line ends.
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as temporary:
        temporary.write(text)
    os.chmod(temporary.name, 0o644)  # open data: readable by the web server, unlike a private temp file
    os.replace(temporary.name, path)
    return path
