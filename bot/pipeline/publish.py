"""Publish suggestions: a catalogue gained a dataset that an accepted or in-progress request asked for.

When an import adds datasets, each new one is matched against the requests an
officer has already promised (`accepted`, `in_progress`). A match becomes a
`publish` suggestion, shown by `datacall request show`: the officer checks it
and sets the request `published` with the dataset's link. Nothing is sent by itself.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from classifiers import matching
from storage.database import dialect_insert
from storage.erasure import ERASED_TEXT
from storage.models import CatalogueDataset, Message, Request, Suggestion, utcnow

PROMISED = ("accepted", "in_progress")
KIND = "publish"


def last_dataset_id(session: Session) -> int:
    """The newest catalogue row so far: datasets after it are the ones an import adds."""
    return session.scalar(select(func.max(CatalogueDataset.id))) or 0


def suggest_publish(session: Session, *, after_dataset_id: int) -> int:
    """`publish` suggestions for datasets added after `after_dataset_id`; in the caller's transaction."""
    datasets = [
        (row.id, matching.DatasetText(row.title, row.keywords, row.description), row.url)
        for row in session.execute(
            select(CatalogueDataset.id, CatalogueDataset.title, CatalogueDataset.keywords,
                   CatalogueDataset.description, CatalogueDataset.url)
            .where(CatalogueDataset.id > after_dataset_id)
        )
    ]
    if not datasets:
        return 0
    urls = {dataset_id: url for dataset_id, _, url in datasets}
    candidates = [(dataset_id, text) for dataset_id, text, _ in datasets]
    rows = []
    for request_id, text in _promised_texts(session).items():
        for dataset_id, score in matching.best_datasets(text, candidates):
            rows.append({"request_id": request_id, "kind": KIND, "target": f"dataset:{dataset_id}",
                         "score": score, "url": urls[dataset_id], "answer": None, "created_at": utcnow()})
    if not rows:
        return 0
    return len(session.scalars(
        dialect_insert(session, Suggestion).values(rows)
        .on_conflict_do_nothing(index_elements=["request_id", "kind", "target"])
        .returning(Suggestion.id)
    ).all())


def _promised_texts(session: Session) -> dict[int, str]:
    """What each promised request asks, in its first supporter's words (its title once they are erased)."""
    titles = dict(session.execute(select(Request.id, Request.title).where(Request.status.in_(PROMISED))).all())
    if not titles:
        return {}
    first = select(func.min(Message.id)).where(Message.request_id.in_(list(titles))).group_by(Message.request_id)
    texts = dict(titles)
    for request_id, text in session.execute(select(Message.request_id, Message.text).where(Message.id.in_(first))):
        if request_id is not None and text and text != ERASED_TEXT:
            texts[request_id] = f"{titles[request_id]}. {text}"
    return texts
