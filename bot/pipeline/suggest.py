"""Suggest: for each new request, what an officer may want to decide.

- `duplicate`: open requests that ask for the same dataset (any language, any network);
- `already_available`: catalogue datasets that may already answer it, with their link;
- `out_of_scope`: `[scope]` rules whose keywords it names, with the rule's answer.

Suggestions are rows for officers; this step never changes a request's status.
It runs as its own job (`suggest`), and finds candidates through the match-term
index (`storage/match_terms.py`: the requests and datasets sharing a term with
the new request), never by reading every open request, so its cost per request
does not grow with the backlog; only those candidates are scored by
`classifiers.matching`. Each request is looked at once: the highest request id done is kept in
`app_settings` (key `suggest_last_request_id`), locked and moved in the same
transaction as the suggestions it covers, so concurrent workers never do a
request twice and a crash redoes at most one uncommitted batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from classifiers import matching
from storage import match_terms
from storage.database import dialect_insert, reading
from storage.erasure import ERASED_TEXT
from storage.models import AppSetting, CatalogueDataset, Message, Request, Requester, Suggestion, utcnow

log = logging.getLogger(__name__)

MARK_KEY = "suggest_last_request_id"
# The index's terms come from `matching.index_terms`: change this when it changes,
# and the next suggest pass rebuilds the index.
INDEX_KEY = "match_terms_version"
INDEX_VERSION = "1"
# Decided requests: nothing to merge into them, nothing to suggest for them.
CLOSED = ("published", "declined", "duplicate", "out_of_scope", "already_available")
LIMIT = 3  # suggestions of each kind per request
# A missing id below newer requests is a request still being committed by another
# worker (PostgreSQL sequences hand ids out before commit): wait for it this long,
# then take the gap as a rolled-back transaction and go on.
GAP_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class Rule:
    """A `[scope]` rule: keywords and the answer in each language."""

    name: str
    keywords: tuple[str, ...]
    answers: dict[str, str]


def rules_from_config(scope) -> tuple[Rule, ...]:
    return tuple(
        Rule(rule.name, tuple(rule.keywords), {"fr": rule.answer_fr, "en": rule.answer_en})
        for rule in scope.rules
    )


def suggest_new(
    sessions: sessionmaker[Session],
    *,
    rules: Sequence[Rule] = (),
    default_language: str = "fr",
    batch_size: int = 100,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Suggestions for every request not looked at yet, one committed batch at a time; returns how many.

    Each batch is computed in a reading session (no write lock: the other jobs go
    on), then written in a short transaction that first checks the mark has not
    moved, so a batch another worker committed meanwhile is dropped, not doubled.
    When `stop()` says so between two batches, the pass ends; the mark keeps where
    it stopped, so the next pass begins there and no request is left out.
    """
    rebuild_index_if_stale(sessions)
    added = 0
    while not stop():
        with reading(sessions) as session:
            mark = _read_mark(session)
            batch = _next_batch(session, mark, batch_size)
            if not batch:
                return added
            plans = _plan(session, batch, rules, default_language)
        with sessions() as session, session.begin():
            if _lock_mark(session) != mark:
                continue  # another worker did this batch
            for plan in plans:
                if plan.request.status not in CLOSED:
                    added += _suggest(session, plan.request, plan.rows)
            match_terms.replace_terms(session, kind="request", terms_by_ref={p.request.id: p.terms for p in plans})
            _move_mark(session, batch[-1].id)
            _set_setting(session, INDEX_KEY, INDEX_VERSION, only_if_missing=True)
    return added


def index_datasets(session: Session, datasets: Iterable[CatalogueDataset]) -> None:
    """(Re-)index catalogue datasets under their terms, in the caller's transaction."""
    match_terms.replace_terms(
        session,
        kind="dataset",
        terms_by_ref={d.id: matching.dataset_index_terms(_dataset_text(d)) for d in datasets},
    )


def reindex_requests(session: Session, request_ids: Iterable[int]) -> None:
    """Index requests again from what is stored now: after an erasure, their author's words leave the index too."""
    known = _known(session, sorted(set(request_ids)))
    match_terms.replace_terms(
        session, kind="request", terms_by_ref={rid: _request_terms(k.text, k.title) for rid, k in known.items()}
    )


def rebuild_index_if_stale(sessions: sessionmaker[Session], *, chunk: int = 1000) -> None:
    """Index every request looked at and every dataset, once after an upgrade or a change of `index_terms`."""
    with reading(sessions) as session:
        if _setting(session, INDEX_KEY) == INDEX_VERSION:
            return
        mark = _read_mark(session)
        has_datasets = session.scalar(select(CatalogueDataset.id).limit(1)) is not None
    if not mark and not has_datasets:
        return  # nothing to index yet; the first batch records the version
    log.info("building the match-term index (requests up to %d and the catalogue)", mark)
    for low in range(0, mark, chunk):
        with reading(sessions) as session:
            ids = list(session.scalars(
                select(Request.id).where(Request.id > low, Request.id <= min(mark, low + chunk))
            ))
            known = _known(session, ids)
            terms = {rid: _request_terms(known[rid].text, known[rid].title) for rid in ids}
        with sessions() as session, session.begin():
            match_terms.replace_terms(session, kind="request", terms_by_ref=terms)
    last = 0
    while True:
        with sessions() as session, session.begin():
            datasets = session.scalars(
                select(CatalogueDataset).where(CatalogueDataset.id > last).order_by(CatalogueDataset.id).limit(chunk)
            ).all()
            if not datasets:
                _set_setting(session, INDEX_KEY, INDEX_VERSION)
                return
            index_datasets(session, datasets)
            last = datasets[-1].id


def suggestions_for(session: Session, *, request_id: int) -> list[Suggestion]:
    """A request's suggestions, best first within each kind."""
    return list(
        session.scalars(
            select(Suggestion)
            .where(Suggestion.request_id == request_id)
            .order_by(Suggestion.kind, Suggestion.score.desc(), Suggestion.id)
        )
    )


# ---------------------------------------------------------------------------


def _setting(session: Session, key: str) -> str | None:
    return session.scalar(select(AppSetting.value).where(AppSetting.key == key))


def _set_setting(session: Session, key: str, value: str, *, only_if_missing: bool = False) -> None:
    statement = dialect_insert(session, AppSetting).values(key=key, value=value)
    if only_if_missing:
        session.execute(statement.on_conflict_do_nothing())
    else:
        session.execute(statement.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


def _read_mark(session: Session) -> int:
    value = _setting(session, MARK_KEY)
    return int(value) if value and value.isdigit() else 0


def _lock_mark(session: Session) -> int:
    """The last request id done, locked until this transaction ends (PostgreSQL; SQLite serialises writers)."""
    session.execute(dialect_insert(session, AppSetting).values(key=MARK_KEY, value="0").on_conflict_do_nothing())
    value = session.scalar(select(AppSetting.value).where(AppSetting.key == MARK_KEY).with_for_update())
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _move_mark(session: Session, request_id: int) -> None:
    setting = session.get_one(AppSetting, MARK_KEY)
    setting.value = str(request_id)
    session.flush()


def _next_batch(session: Session, mark: int, batch_size: int) -> list[Request]:
    """Requests after the mark, stopping at a fresh gap (an id another worker has not committed yet)."""
    rows = session.scalars(select(Request).where(Request.id > mark).order_by(Request.id).limit(batch_size)).all()
    batch, expected, now = [], mark + 1, utcnow()
    for request in rows:
        if request.id != expected and now - request.created_at < GAP_GRACE:
            break
        batch.append(request)
        expected = request.id + 1
    return batch


@dataclass(frozen=True)
class _Known:
    """What matching reads of a request: its first message (or its title), language and status."""

    text: str
    title: str
    lang: str | None
    status: str


def _known(session: Session, ids: Sequence[int]) -> dict[int, _Known]:
    """The matching text of each request: its first message, or its title when that was erased or is missing."""
    known = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        first = (
            select(func.min(Message.id)).where(Message.request_id.in_(chunk)).group_by(Message.request_id)
        )
        messages = {
            request_id: (text, requester_lang or message_lang)
            for request_id, text, message_lang, requester_lang in session.execute(
                select(Message.request_id, Message.text, Message.lang, Requester.lang)
                .join(Requester, Requester.id == Message.requester_id)
                .where(Message.id.in_(first))
            )
        }
        for request_id, title, status in session.execute(
            select(Request.id, Request.title, Request.status).where(Request.id.in_(chunk))
        ):
            text, lang = messages.get(request_id, (None, None))
            if text is None or text == ERASED_TEXT:
                text = title  # the title keeps the words without the person
            known[request_id] = _Known(text, title, lang, status)
    return known


def _request_terms(text: str, title: str) -> frozenset[str]:
    """Indexed under its matching text and its title, which stays when an erasure blanks the text."""
    return matching.index_terms(text) | matching.index_terms(title)


def _dataset_text(dataset: CatalogueDataset) -> matching.DatasetText:
    return matching.DatasetText(dataset.title, dataset.keywords, dataset.description)


@dataclass(frozen=True)
class _Plan:
    """One request's suggestions, computed before the write transaction, and its index terms."""

    request: Request
    rows: list[dict]
    terms: frozenset[str]


def _plan(session: Session, batch: list[Request], rules: Sequence[Rule], default: str) -> list[_Plan]:
    known = _known(session, [request.id for request in batch])
    plans: list[_Plan] = []
    earlier: dict[int, tuple[frozenset[str], _Known]] = {}
    read: dict[int, _Known] = {}  # candidates already read for this batch: new requests share many
    for request in batch:
        mine = known[request.id]
        rows: list[dict] = []
        if request.status not in CLOSED:
            rows = _suggestions(session, request.id, mine, earlier, rules, default, read)
        terms = _request_terms(mine.text, mine.title)
        plans.append(_Plan(request, rows, terms))
        earlier[request.id] = (terms, mine)  # not in the index until this batch commits
    return plans


def _suggestions(session: Session, request_id: int, mine: _Known, earlier: dict, rules, default: str,
                 read: dict[int, _Known]) -> list[dict]:
    text = mine.text
    wanted = matching.index_terms(text)
    rows = []
    # Earlier open requests only (the newer request is the one that joins the older), sharing a term.
    ids = match_terms.candidates(session, kind="request", terms=wanted, below=request_id)
    read.update(_known(session, sorted(ids - read.keys())))
    others = {rid: read[rid] for rid in ids if rid in read}
    others.update({rid: known for rid, (terms, known) in earlier.items() if terms & wanted})
    candidates = [(rid, others[rid].text) for rid in sorted(others) if others[rid].status not in CLOSED]
    for other, score in matching.best_matches(text, candidates, limit=LIMIT):
        rows.append({"kind": "duplicate", "target": f"request:{other}", "score": score})
    dataset_ids = sorted(match_terms.candidates(session, kind="dataset", terms=wanted))
    datasets = {}
    for start in range(0, len(dataset_ids), 500):
        for dataset in session.scalars(
            select(CatalogueDataset).where(CatalogueDataset.id.in_(dataset_ids[start : start + 500]))
        ):
            datasets[dataset.id] = dataset
    scored = [(did, _dataset_text(datasets[did])) for did in dataset_ids if did in datasets]
    for dataset_id, score in matching.best_datasets(text, scored, limit=LIMIT):
        rows.append({"kind": "already_available", "target": f"dataset:{dataset_id}", "score": score,
                     "url": datasets[dataset_id].url})
    lang = mine.lang if mine.lang in ("fr", "en") else default
    for rule in rules:
        if matching.keyword_hits(text, rule.keywords):
            rows.append({"kind": "out_of_scope", "target": f"rule:{rule.name}", "score": 1.0,
                         "answer": rule.answers[lang]})
    return rows


def _suggest(session: Session, request: Request, rows: list[dict]) -> int:
    """Store one request's suggestions; a suggestion already there is kept as it is."""
    if not rows:
        return 0
    now = utcnow()
    values = [
        {"request_id": request.id, "url": None, "answer": None, "created_at": now, **row} for row in rows
    ]
    inserted = session.scalars(
        dialect_insert(session, Suggestion)
        .values(values)
        .on_conflict_do_nothing(index_elements=["request_id", "kind", "target"])
        .returning(Suggestion.id)
    ).all()
    return len(inserted)
