"""Classify: give every new message a label, a score and a language.

A message is decided automatically only when the model was trained for its
language (French, English) and its score is outside the review band; any
other message waits for an officer (`needs_review`). A small share of the
automatic ones, drawn at random, waits for an officer too (`spot_check`):
their decisions measure the automatic ones.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session, sessionmaker

import classifiers
from storage import queries
from storage.database import reading
from storage.models import Message, utcnow

# The languages the classifier was trained on: only these are decided without an officer.
AUTOMATIC_LANGUAGES = ("fr", "en")


def classify_pending(
    sessions: sessionmaker[Session],
    classifier: classifiers.TextClassifier,
    *,
    threshold: float,
    batch_size: int,
    review_band: tuple[float, float] | None = None,
    spot_check_share: float = 0.0,
) -> int:
    """Classify unclassified messages, one committed batch at a time; returns how many."""
    done = 0
    sqlite = sessions.kw["bind"].dialect.name == "sqlite"
    while True:
        if sqlite:
            # The model runs on a snapshot, outside SQLite's one write lock; only the UPDATE takes it.
            with reading(sessions) as session:
                messages = queries.messages_to_classify(session, limit=batch_size)
            if not messages:
                return done
            rows = _classified_rows(messages, classifier, threshold, review_band, spot_check_share)
            with sessions() as session, session.begin():
                _store(session, rows, classifier.version)
        else:
            # PostgreSQL: the batch's rows stay locked while the model runs, so workers take different batches.
            with sessions() as session, session.begin():
                messages = queries.messages_to_classify(session, limit=batch_size)
                if not messages:
                    return done
                rows = _classified_rows(messages, classifier, threshold, review_band, spot_check_share)
                _store(session, rows, classifier.version)
        done += len(messages)


def _classified_rows(messages, classifier, threshold, review_band, spot_check_share) -> list[dict]:
    predictions = classifier.predict([m.text for m in messages], threshold=threshold)
    rows = []
    for message, prediction in zip(messages, predictions, strict=True):
        lang = message.lang or prediction.lang  # the network's own language tag, when it gave one, beats detection
        uncertain = needs_review(prediction.score, lang, review_band)
        spot_check = not uncertain and drawn_for_spot_check(message.network, message.external_id, spot_check_share)
        rows.append({
            "message_id": message.id,
            "label": prediction.label,
            "score": prediction.score,
            "lang": lang,
            "needs_review": uncertain or spot_check,
            "spot_check": spot_check,
        })
    return rows


def _store(session: Session, rows: list[dict], model_version: str) -> None:
    """One statement for the batch. The condition keeps the first result if two workers classified the
    same message (SQLite reads outside the lock; on PostgreSQL, a worker that skipped the row lock)."""
    table = Message.metadata.tables[Message.__tablename__]  # Core executemany, not the ORM bulk-by-primary-key
    session.execute(
        update(table)
        .where(table.c.id == bindparam("message_id"), table.c.classified_at.is_(None))
        .values(
            label=bindparam("label"),
            score=bindparam("score"),
            lang=bindparam("lang"),
            model_version=model_version,
            needs_review=bindparam("needs_review"),
            spot_check=bindparam("spot_check"),
            classified_at=utcnow(),
        ),
        rows,
    )


def in_band(score: float, band: tuple[float, float] | None) -> bool:
    return band is not None and band[0] <= score <= band[1]


def base_language(lang: str | None) -> str:
    """"fr" for "fr", "fr-CA" or "FR"; "" for no language."""
    return (lang or "").split("-")[0].split("_")[0].lower()


def needs_review(score: float, lang: str | None, band: tuple[float, float] | None) -> bool:
    """An officer decides: the score is uncertain, or the language is one the model never learnt
    (detected as another language, or undetermined)."""
    return in_band(score, band) or base_language(lang) not in AUTOMATIC_LANGUAGES


def drawn_for_spot_check(network: str, external_id: str, share: float) -> bool:
    """Whether this message is one of the `share` of automatic decisions an officer checks.

    Drawn from a hash of the message's identity, not a random generator: any worker, or
    the same worker after a crash, draws the same way for the same message.
    """
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{network}\x00{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
