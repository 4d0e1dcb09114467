"""Officer decisions as training examples: the database side of `datacall train --with-decisions`.

classifiers/ stays free of database code; it receives these as plain records.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import classifiers
from storage.erasure import ERASED_TEXT
from storage.models import LabelDecision, Message


def decision_records(session: Session) -> list[dict]:
    """One labelled record per decided message, from its latest decision (text, label, lang).

    "Latest" is the newest `created_at`, then the highest id; messages whose
    text was erased, or decisions with a label the classifier does not know,
    are left out. Ordered by message id so training is reproducible.
    """
    newest = (
        select(
            LabelDecision.message_id,
            LabelDecision.label,
            func.row_number()
            .over(
                partition_by=LabelDecision.message_id,
                order_by=(LabelDecision.created_at.desc(), LabelDecision.id.desc()),
            )
            .label("rank"),
        )
    ).subquery()
    rows = session.execute(
        select(Message.id, Message.text, Message.lang, newest.c.label)
        .join(newest, newest.c.message_id == Message.id)
        .where(newest.c.rank == 1)
        .order_by(Message.id)
    )
    records = []
    for _, text, lang, label in rows:
        if label not in classifiers.LABELS or not (text or "").strip() or text.strip() == ERASED_TEXT:
            continue  # an erased person's words are gone, and "[erased]" teaches nothing
        record = {"text": text, "label": label}
        if lang:
            record["lang"] = lang
        records.append(record)
    return records
