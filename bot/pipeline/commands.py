"""Commands a requester can send on any network: /start, /status, /stop.

/stop is the opt-out: no more replies to that person, and replies still
waiting in the outbox for them are dropped.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.pipeline.replies import ReplyWriter
from storage.models import Message, Request
from storage.public_titles import title_for
from storage.queries import drop_waiting_replies

COMMAND = re.compile(r"^\s*/(start|status|stop|help)(?:@\w+)?(?:\s|$)", re.IGNORECASE)
STATUS_LINES = 10
OPTED_OUT_REASON = "the requester opted out with /stop"


def command_of(text: str) -> str | None:
    match = COMMAND.match(text)
    if not match:
        return None
    name = match.group(1).lower()
    return "start" if name == "help" else name


def handle_command(session: Session, message: Message, command: str, *, writer: ReplyWriter) -> None:
    requester = message.requester
    if command == "stop":
        requester.opted_out = True
        drop_waiting_replies(session, requester_id=requester.id, reason=OPTED_OUT_REASON)
        # One last message confirming the opt-out, then silence.
        writer.queue_answer(session, message=message, template="stop")
    elif command == "start":
        requester.opted_out = False
        writer.queue_answer(session, message=message, template="start")
    elif not requester.opted_out:
        writer.queue_answer(session, message=message, template="status", requests=_status_lines(session, message))


def _status_lines(session: Session, message: Message) -> str:
    requests = session.scalars(
        select(Request)
        .join(Message, Message.request_id == Request.id)
        .where(Message.requester_id == message.requester_id)
        .distinct()
        .order_by(Request.id.desc())
        .limit(STATUS_LINES)
    ).all()
    if not requests:
        return "—"
    lang = message.requester.lang if message.requester.lang in ("fr", "en") else "en"
    return " · ".join(
        f"#{r.id} {r.status}: {title_for(session, r, requester_id=message.requester_id, lang=lang)[:60]}"
        for r in requests
    )
