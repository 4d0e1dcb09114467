"""How many people support each request: the queue's "support" column and sort.

One place on purpose: when `storage.support.support_count(session, ids)` exists,
`support_counts` and `support_order` point to it, and the queue follows.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, aliased

from storage.models import Message


def support_counts(session: Session, request_ids: Iterable[int]) -> dict[int, int]:
    """Distinct requesters per request, for the requests on one page (the request_id index serves it)."""
    ids = sorted({request_id for request_id in request_ids if request_id is not None})
    if not ids:
        return {}
    return dict(session.execute(
        select(Message.request_id, func.count(distinct(Message.requester_id)))
        .where(Message.request_id.in_(ids)).group_by(Message.request_id)
    ).all())


def support_order():
    """A correlated count to sort the queue's rows by their request's supporters (rows without one count 0)."""
    other = aliased(Message)
    return (
        select(func.count(distinct(other.requester_id)))
        .where(other.request_id == Message.request_id)
        .correlate(Message)
        .scalar_subquery()
    )
