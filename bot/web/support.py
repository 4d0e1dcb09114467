"""How many people support each request: the queue's "support" column and sort.

Support is supporters (merged duplicates included) plus survey votes, as
`storage.support.support_count` counts it; the sort is its SQL twin, so that
the "most supported" order and the column agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, aliased

from storage.models import Message, SurveyOption
from storage.support import support_count


def support_counts(session: Session, request_ids: Iterable[int]) -> dict[int, int]:
    """Support of the requests on one page."""
    return support_count(session, {request_id for request_id in request_ids if request_id is not None})


def support_order():
    """A correlated count to sort the queue's rows by their request's support (rows without one count 0).

    Messages of a merged duplicate point to the request they joined, so counting
    that request's distinct requesters counts the duplicate's supporters too.
    """
    other = aliased(Message)
    supporters = (
        select(func.count(distinct(other.requester_id)))
        .where(other.request_id == Message.request_id)
        .correlate(Message)
        .scalar_subquery()
    )
    votes = (
        select(func.coalesce(func.sum(SurveyOption.votes), 0))
        .where(SurveyOption.request_id == Message.request_id)
        .correlate(Message)
        .scalar_subquery()
    )
    return supporters + votes
