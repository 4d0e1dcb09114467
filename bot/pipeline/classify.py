"""Classify: give every new message a label, a score and a language."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

import classifiers
from storage import queries
from storage.models import Message, utcnow


def classify_pending(
    sessions: sessionmaker[Session],
    classifier: classifiers.TextClassifier,
    *,
    threshold: float,
    batch_size: int,
    review_band: tuple[float, float] | None = None,
) -> int:
    """Classify unclassified messages, one committed batch at a time; returns how many."""
    done = 0
    while True:
        with sessions() as session, session.begin():
            messages = queries.messages_to_classify(session, limit=batch_size)
            if not messages:
                return done
            predictions = classifier.predict([m.text for m in messages], threshold=threshold)
            now = utcnow()
            for message, prediction in zip(messages, predictions, strict=True):
                won = queries.claim(
                    session,
                    Message,
                    message.id,
                    where=[Message.classified_at.is_(None)],
                    values={
                        "label": prediction.label,
                        "score": prediction.score,
                        # The network's own language tag, when it gave one, beats detection.
                        "lang": message.lang or prediction.lang,
                        "model_version": classifier.version,
                        "needs_review": in_band(prediction.score, review_band),
                        "classified_at": now,
                    },
                )
                done += won


def in_band(score: float, band: tuple[float, float] | None) -> bool:
    return band is not None and band[0] <= score <= band[1]
