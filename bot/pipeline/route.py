"""Route: a classified data request becomes a Request with an acknowledgement queued.

Off-topic messages are only marked routed: stored, no request, no reply.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from bot.pipeline.replies import queue_status_replies
from bot.redact import title_from
from storage import queries
from storage.models import Message, Request, StatusEvent, utcnow

SYSTEM_ACTOR = "datacall"


def route_classified(
    sessions: sessionmaker[Session],
    *,
    queue_replies: Callable[..., object],
    batch_size: int = 200,
) -> int:
    """Turn classified messages into requests, one committed batch at a time; returns how many requests."""
    created = 0
    while True:
        with sessions() as session, session.begin():
            messages = queries.messages_to_route(session, limit=batch_size)
            if not messages:
                return created
            now = utcnow()
            for message in messages:
                if not queries.claim(
                    session, Message, message.id,
                    where=[Message.routed_at.is_(None)], values={"routed_at": now},
                ):
                    continue  # another worker routed it
                if message.label == "data_request":
                    open_request(session, message, queue_replies=queue_replies)
                    created += 1


def open_request(session: Session, message: Message, *, queue_replies: Callable[..., object]) -> Request:
    """A new request supported by `message`, its `received` event, and the acknowledgement."""
    if message.lang:
        message.requester.lang = message.lang
    request = Request(
        title=title_from(message.text),
        status="received",
        campaign_id=message.campaign_id,
    )
    session.add(request)
    session.flush()
    message.request_id = request.id
    event = StatusEvent(request_id=request.id, status="received", actor=SYSTEM_ACTOR)
    session.add(event)
    session.flush()
    queue_replies(session, event=event, request=request)
    return request
