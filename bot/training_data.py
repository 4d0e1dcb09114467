"""Officer decisions as training examples: the database side of `datacall train --with-decisions`.

classifiers/ stays free of database code; it receives these as plain records.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

import classifiers
from storage.erasure import ERASED_TEXT
from storage.models import Message
from storage.queries import latest_decisions


def decision_records(session: Session, *, first_decided_after: int | None = None) -> list[dict]:
    """One labelled record per decided message, from its latest decision (text, label, lang, decision_id).

    "Latest" is the newest `created_at`, then the highest id; messages whose
    text was erased, or decisions with a label the classifier does not know,
    are left out. Ordered by message id so training is reproducible.
    `decision_id` is the highest decision id of the message: a model trained on
    these records remembers the highest of all (`last_decision_id` in its
    meta.json). `first_decided_after` keeps only the messages whose every
    decision is newer than that id: the messages such a model has never seen.
    """
    newest = latest_decisions()
    query = (
        select(Message.text, Message.lang, newest.c.label, newest.c.last_id)
        .join(newest, newest.c.message_id == Message.id)
        .where(newest.c.rank == 1)
        .order_by(Message.id)
    )
    if first_decided_after is not None:
        query = query.where(newest.c.first_id > first_decided_after)
    records = []
    for text, lang, label, last_id in session.execute(query):
        if label not in classifiers.LABELS or not (text or "").strip() or text.strip() == ERASED_TEXT:
            continue  # an erased person's words are gone, and "[erased]" teaches nothing
        record = {"text": text, "label": label, "decision_id": last_id}
        if lang:
            record["lang"] = lang
        records.append(record)
    return records
