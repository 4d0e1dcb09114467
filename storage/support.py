"""Support count: how many people back a request, the number officers sort by.

Supporters are the distinct requesters of the request's messages and of the
requests merged into it (at any depth), plus the votes its options got in
relevance surveys.

The count is also stored on each request (`Request.support`, with the networks
of its messages in `Request.networks`), so the queue can sort by it from an
index and the dashboard count requests per network without reading messages.
`keep_counts` keeps both right on every ORM change that moves them (a message
joins or leaves a request, survey votes, a merge); a bulk UPDATE that moves
messages calls `recount` itself (see bot.pipeline.status).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import event, func, inspect, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import Message, Request, SurveyOption

STALE = "support.stale"  # session.info key: request ids whose stored count a flush changed


def merged_into(session: Session, request_ids: Iterable[int]) -> dict[int, set[int]]:
    """Each request with every request merged into it at any depth, itself included.

    Each group is whole whatever else is asked: a request and the one it was merged
    into, asked together, each get their own group (the second one holding the first).
    """
    groups = {request_id: {request_id} for request_id in request_ids}
    children: dict[int | None, set[int]] = defaultdict(set)
    seen, frontier = set(groups), set(groups)
    while frontier:
        rows = session.execute(
            select(Request.id, Request.duplicate_of_id).where(Request.duplicate_of_id.in_(frontier))
        ).all()
        frontier = set()
        for child, parent in rows:
            children[parent].add(child)
            if child not in seen:  # a cycle cannot happen, but never loop on one
                seen.add(child)
                frontier.add(child)
    for request_id, members in groups.items():
        below = [request_id]
        while below:
            for child in children.get(below.pop(), ()):
                if child not in members:
                    members.add(child)
                    below.append(child)
    return groups


def support_count(session: Session, request_ids: Iterable[int]) -> dict[int, int]:
    """Supporters plus survey votes, per request id (0 for an unknown id)."""
    groups = merged_into(session, list(dict.fromkeys(request_ids)))
    members = set().union(*groups.values())
    if not members:
        return {}
    people: dict[int | None, set[int]] = defaultdict(set)
    for request_id, requester_id in session.execute(
        select(Message.request_id, Message.requester_id).distinct().where(Message.request_id.in_(members))
    ):
        people[request_id].add(requester_id)
    votes: dict[int, int] = defaultdict(int)
    for request_id, total in session.execute(
        select(SurveyOption.request_id, func.sum(SurveyOption.votes))
        .where(SurveyOption.request_id.in_(members))
        .group_by(SurveyOption.request_id)
    ):
        votes[request_id] += int(total or 0)
    return {
        request_id: len(set().union(*(people[member] for member in group))) + sum(votes[member] for member in group)
        for request_id, group in groups.items()
    }


def recount(session: Session, request_ids: Iterable[int | None]) -> None:
    """Store the support of these requests and of every request they were merged into, at any depth."""
    ids = {request_id for request_id in request_ids if request_id is not None}
    frontier = set(ids)
    while frontier:  # up the merge chains: a duplicate's supporters count for the request it joined
        parents = {parent for parent in session.scalars(
            select(Request.duplicate_of_id).where(Request.id.in_(frontier), Request.duplicate_of_id.is_not(None))
        ) if parent is not None} - ids
        ids |= parents
        frontier = parents
    networks = networks_of(session, ids)
    for request_id, count in support_count(session, ids).items():
        values = {"support": count, "networks": networks.get(request_id, "")}
        session.execute(
            # updated_at kept: a count moving is not an officer's edit (versions.py reads it)
            update(Request)
            .where(Request.id == request_id, or_(Request.support != count, Request.networks != values["networks"]))
            .values(**values, updated_at=Request.updated_at).execution_options(synchronize_session=False)
        )
        loaded = session.identity_map.get(inspect(Request).identity_key_from_primary_key((request_id,)))
        if loaded is not None:
            for name, value in values.items():
                set_committed_value(loaded, name, value)


def networks_of(session: Session, request_ids: Iterable[int]) -> dict[int, str]:
    """The networks of each request's own messages, sorted and comma-separated (`Request.networks`)."""
    found: dict[int | None, set[str]] = defaultdict(set)
    for request_id, network in session.execute(
        select(Message.request_id, Message.network).distinct().where(Message.request_id.in_(list(request_ids)))
    ):
        found[request_id].add(network)
    return {request_id: ",".join(sorted(names)) for request_id, names in found.items() if request_id is not None}


def recount_all(session: Session, *, chunk: int = 5000) -> None:
    """Every request's stored count from scratch (after a bulk load)."""
    ids = list(session.scalars(select(Request.id).order_by(Request.id)))
    for start in range(0, len(ids), chunk):
        recount(session, ids[start : start + chunk])


def keep_counts(sessions: sessionmaker[Session]) -> None:
    """Recount, at the end of every flush of these sessions, the requests whose support it may have moved."""
    event.listen(sessions, "after_flush", _note_changes)
    event.listen(sessions, "after_flush_postexec", _recount_noted)


def _note_changes(session: Session, _context) -> None:
    stale: set[int] = session.info.setdefault(STALE, set())
    for instance in (*session.new, *session.dirty, *session.deleted):
        moved: tuple[str, ...]
        if isinstance(instance, Message):
            moved = ("request_id", "requester_id")
        elif isinstance(instance, SurveyOption):
            moved = ("request_id", "votes")
        elif isinstance(instance, Request):
            moved = ("duplicate_of_id",)  # the request it left and the one it joined
        else:
            continue
        state = inspect(instance)
        if instance in session.dirty and not any(state.attrs[name].history.has_changes() for name in moved):
            continue
        key = "duplicate_of_id" if isinstance(instance, Request) else "request_id"
        history = state.attrs[key].history
        stale.update(value for value in (*history.added, *history.unchanged, *history.deleted) if value is not None)


def _recount_noted(session: Session, _context) -> None:
    stale = session.info.pop(STALE, set())
    if stale:
        recount(session, stale)
