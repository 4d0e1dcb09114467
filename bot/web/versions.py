"""Optimistic concurrency: a form carries what the officer saw of a request, the server compares before acting.

Two officers open the same request; the first sets a status. When the second
submits, the request no longer is what they saw: nothing is changed and they
are told what changed (the new status events, who holds it now, its title),
instead of silently overwriting the first decision.

The token is what matters to a decision, not a timestamp: the last status
event's id, the assignee's id and a checksum of the title ("12.3.a1b2c3d4").
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.web import i18n
from bot.web.decisions import DecisionError
from bot.web.views import parse_id, when
from storage.models import Request, StatusEvent, User


def _title_sum(title: str) -> str:
    return f"{zlib.crc32(title.encode()):08x}"


def token_of(request: Request, last_event_id: int | None) -> str:
    return f"{last_event_id or 0}.{request.assignee_id or 0}.{_title_sum(request.title)}"


def tokens(session: Session, requests: Iterable[Request]) -> dict[int, str]:
    """The tokens of many requests (a page of the queue) in one query on the events' request index."""
    by_id = {request.id: request for request in requests}
    if not by_id:
        return {}
    last: dict[int, int] = dict(session.execute(
        select(StatusEvent.request_id, func.max(StatusEvent.id))
        .where(StatusEvent.request_id.in_(by_id)).group_by(StatusEvent.request_id)
    ).all())
    return {request_id: token_of(request, last.get(request_id)) for request_id, request in by_id.items()}


def check_unchanged(session: Session, request_id: int, seen: str, *, lang: str) -> None:
    """Refuse (DecisionError) if the request changed since the form was drawn. No token: nothing to compare."""
    if not seen:
        return
    request = session.get(Request, request_id, with_for_update=True)  # later deciders wait for this one
    if request is None:
        raise DecisionError("error.no_request", id=request_id)
    last = session.scalar(select(func.max(StatusEvent.id)).where(StatusEvent.request_id == request_id))
    if token_of(request, last) == seen:
        return
    raise DecisionError("error.changed", id=request_id, changes=describe_changes(session, request, seen, lang))


def describe_changes(session: Session, request: Request, seen: str, lang: str) -> str:
    """What happened since `seen`, in the officer's language: events, assignment, title."""
    event_part, _, rest = seen.partition(".")
    assignee_part, _, title_part = rest.partition(".")
    seen_event = parse_id(event_part) or 0  # the token comes back from a form: any text may
    changes = []
    for event in session.scalars(
        select(StatusEvent).where(StatusEvent.request_id == request.id, StatusEvent.id > seen_event)
        .order_by(StatusEvent.id)
    ):
        changes.append(i18n.translate(lang, "changed.status", status=i18n.translate(lang, f"status.{event.status}"),
                                      by=event.actor, when=when(event.created_at)))
    if assignee_part != str(request.assignee_id or 0):
        name = session.scalar(select(User.name).where(User.id == request.assignee_id)) if request.assignee_id else None
        changes.append(i18n.translate(lang, "changed.assignee", name=name) if name
                       else i18n.translate(lang, "changed.unassigned"))
    if title_part != _title_sum(request.title):
        changes.append(i18n.translate(lang, "changed.title", title=request.title))
    return "; ".join(changes) or i18n.translate(lang, "changed.something")
