"""Support count: how many people back a request, the number officers sort by.

Supporters are the distinct requesters of the request's messages and of the
requests merged into it (at any depth), plus the votes its options got in
relevance surveys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Message, Request, SurveyOption


def merged_into(session: Session, request_ids: Iterable[int]) -> dict[int, set[int]]:
    """Each request with every request merged into it, itself included."""
    groups = {request_id: {request_id} for request_id in request_ids}
    owner = {request_id: request_id for request_id in groups}
    frontier = set(groups)
    while frontier:
        rows = session.execute(
            select(Request.id, Request.duplicate_of_id).where(Request.duplicate_of_id.in_(frontier))
        ).all()
        frontier = set()
        for child, parent in rows:
            assert parent is not None  # the query's filter
            if child in owner:
                continue  # already counted (a cycle cannot happen, but never loop on one)
            owner[child] = owner[parent]
            groups[owner[parent]].add(child)
            frontier.add(child)
    return groups


def support_count(session: Session, request_ids: Iterable[int]) -> dict[int, int]:
    """Supporters plus survey votes, per request id (0 for an unknown id)."""
    groups = merged_into(session, list(dict.fromkeys(request_ids)))
    owner = {member: request_id for request_id, members in groups.items() for member in members}
    if not owner:
        return {}
    people: dict[int, set[int]] = defaultdict(set)
    for request_id, requester_id in session.execute(
        select(Message.request_id, Message.requester_id).distinct().where(Message.request_id.in_(owner))
    ):
        assert request_id is not None  # the query's filter
        people[owner[request_id]].add(requester_id)
    votes: dict[int, int] = defaultdict(int)
    for request_id, total in session.execute(
        select(SurveyOption.request_id, func.sum(SurveyOption.votes))
        .where(SurveyOption.request_id.in_(owner))
        .group_by(SurveyOption.request_id)
    ):
        votes[owner[request_id]] += int(total or 0)
    return {request_id: len(people[request_id]) + votes[request_id] for request_id in groups}
