"""Suggest: for each new request, what an officer may want to decide.

- `duplicate`: open requests that ask for the same dataset (any language, any network);
- `already_available`: catalogue datasets that may already answer it, with their link;
- `out_of_scope`: `[scope]` rules whose keywords it names, with the rule's answer.

Suggestions are rows for officers; this step never changes a request's status.
Each request is looked at once: the highest request id done is kept in
`app_settings` (key `suggest_last_request_id`), locked and moved in the same
transaction as the suggestions it covers, so concurrent workers never do a
request twice and a crash redoes at most one uncommitted batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from classifiers import matching
from storage.erasure import ERASED_TEXT
from storage.models import AppSetting, CatalogueDataset, Message, Request, Requester, Suggestion, utcnow

MARK_KEY = "suggest_last_request_id"
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
) -> int:
    """Suggestions for every request not looked at yet, one committed batch at a time; returns how many."""
    added = 0
    while True:
        with sessions() as session, session.begin():
            if not _anything_new(session):
                return added
            mark = _lock_mark(session)
            batch = _next_batch(session, mark, batch_size)
            if not batch:
                return added
            context = _Context.load(session, upto=batch[-1].id)
            for request in batch:
                if request.status not in CLOSED:
                    added += _suggest(session, request, context, rules, default_language)
            _move_mark(session, batch[-1].id)


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


def _insert(session: Session, model):
    """A dialect INSERT that can skip rows already there (both backends speak ON CONFLICT)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def _anything_new(session: Session) -> bool:
    """A cheap look before taking the lock, so idle passes write nothing."""
    value = session.scalar(select(AppSetting.value).where(AppSetting.key == MARK_KEY))
    mark = int(value) if value and value.isdigit() else 0
    return session.scalar(select(Request.id).where(Request.id > mark).limit(1)) is not None


def _lock_mark(session: Session) -> int:
    """The last request id done, locked until this transaction ends (PostgreSQL; SQLite serialises writers)."""
    session.execute(_insert(session, AppSetting).values(key=MARK_KEY, value="0").on_conflict_do_nothing())
    value = session.scalar(select(AppSetting.value).where(AppSetting.key == MARK_KEY).with_for_update())
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _move_mark(session: Session, request_id: int) -> None:
    setting = session.get(AppSetting, MARK_KEY)
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


@dataclass
class _Context:
    """What one batch matches against: open requests' texts, their languages, the catalogue."""

    texts: dict[int, str]
    langs: dict[int, str | None]
    open_ids: list[int]
    datasets: list[tuple[int, matching.DatasetText]]
    urls: dict[int, str]

    @classmethod
    def load(cls, session: Session, *, upto: int) -> _Context:
        first = (
            select(func.min(Message.id).label("id"))
            .where(Message.request_id.is_not(None), Message.request_id <= upto)
            .group_by(Message.request_id)
        )
        texts, langs = {}, {}
        rows = session.execute(
            select(Message.request_id, Message.text, Message.lang, Requester.lang)
            .join(Requester, Requester.id == Message.requester_id)
            .where(Message.id.in_(first))
        )
        for request_id, text, message_lang, requester_lang in rows:
            texts[request_id] = text
            langs[request_id] = requester_lang or message_lang
        titles = dict(session.execute(select(Request.id, Request.title).where(Request.id <= upto)).all())
        for request_id, title in titles.items():
            if request_id not in texts or texts[request_id] == ERASED_TEXT:
                texts[request_id] = title  # the title keeps the words without the person
        open_ids = list(
            session.scalars(select(Request.id).where(Request.id <= upto, Request.status.not_in(CLOSED)))
        )
        datasets, urls = [], {}
        for row in session.execute(
            select(CatalogueDataset.id, CatalogueDataset.title, CatalogueDataset.keywords,
                   CatalogueDataset.description, CatalogueDataset.url)
        ):
            datasets.append((row.id, matching.DatasetText(row.title, row.keywords, row.description)))
            urls[row.id] = row.url
        return cls(texts, langs, open_ids, datasets, urls)


def _suggest(session: Session, request: Request, context: _Context, rules: Sequence[Rule], default: str) -> int:
    text = context.texts.get(request.id, request.title)
    rows = []
    # Earlier open requests only: the newer request is the one that joins the older.
    candidates = [(rid, context.texts[rid]) for rid in context.open_ids if rid < request.id and rid in context.texts]
    for other, score in matching.best_matches(text, candidates, limit=LIMIT):
        rows.append({"kind": "duplicate", "target": f"request:{other}", "score": score})
    for dataset_id, score in matching.best_datasets(text, context.datasets, limit=LIMIT):
        rows.append({"kind": "already_available", "target": f"dataset:{dataset_id}", "score": score,
                     "url": context.urls[dataset_id]})
    lang = context.langs.get(request.id)
    lang = lang if lang in ("fr", "en") else default
    for rule in rules:
        if matching.keyword_hits(text, rule.keywords):
            rows.append({"kind": "out_of_scope", "target": f"rule:{rule.name}", "score": 1.0,
                         "answer": rule.answers[lang]})
    if not rows:
        return 0
    now = utcnow()
    values = [
        {"request_id": request.id, "url": None, "answer": None, "created_at": now, **row} for row in rows
    ]
    inserted = session.scalars(
        _insert(session, Suggestion)
        .values(values)
        .on_conflict_do_nothing(index_elements=["request_id", "kind", "target"])
        .returning(Suggestion.id)
    ).all()
    return len(inserted)
