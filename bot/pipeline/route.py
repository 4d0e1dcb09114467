"""Route: a classified data request becomes a Request with an acknowledgement queued.

Commands (/start, /status, /stop) are answered instead; off-topic messages are
only marked routed: stored, no request, no reply.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.pipeline.commands import command_of, handle_command
from bot.pipeline.replies import ReplyWriter
from bot.redact import title_from
from storage import queries
from storage.models import Message, Request, StatusEvent, utcnow

SYSTEM_ACTOR = "datacall"


def route_classified(sessions: sessionmaker[Session], *, writer: ReplyWriter, batch_size: int = 200) -> int:
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
                if message.lang:
                    message.requester.lang = message.lang
                command = command_of(message.text)
                if command:
                    handle_command(session, message, command, writer=writer)
                elif message.needs_review:
                    continue  # uncertain: an officer decides in the queue, nothing is sent before
                elif message.label == "data_request":
                    open_request(session, message, writer=writer)
                    created += 1


def open_request(session: Session, message: Message, *, writer: ReplyWriter) -> Request:
    """A new request supported by `message`, its `received` event, and the acknowledgement."""
    request = Request(
        title=title_from(message.text),
        status="received",
        campaign_id=message.campaign_id,
        title_message_id=message.id,
    )
    session.add(request)
    session.flush()
    message.request_id = request.id
    event = StatusEvent(request_id=request.id, status="received", actor=SYSTEM_ACTOR)
    session.add(event)
    session.flush()
    writer.queue_status_replies(session, event=event, request=request, supporters=[(message.requester, message)])
    return request
