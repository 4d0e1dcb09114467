"""An officer settles a reply the outbox would not resend on its own: mark it sent, or resend it.

A reply ends `unknown` when a network without idempotency keys timed out after
the request left (or a worker died mid-send): only someone who looks at the
network can tell whether the citizen got it. `dead` replies (out of attempts,
refused) can be resent too. Nothing is ever resent to an erased or opted-out
requester. Works in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import queries
from storage.models import Reply, utcnow

SETTLEABLE = (queries.UNKNOWN, "dead")


class ReplyCheckError(ValueError):
    """Refused; the message says why, for the officer."""


def _reply(session: Session, reply_id: int) -> Reply:
    reply = session.get(Reply, reply_id, with_for_update=True)
    if reply is None:
        raise ReplyCheckError(f"no reply #{reply_id}")
    if reply.state not in SETTLEABLE:
        raise ReplyCheckError(f"reply #{reply_id} is {reply.state}; only an unknown or dead reply can be settled")
    return reply


def mark_sent(session: Session, reply_id: int, *, officer: str) -> Reply:
    """The officer saw it on the network: it counts as sent, and is never sent again."""
    reply = _reply(session, reply_id)
    reply.state, reply.sent_at = "sent", utcnow()
    reply.last_error = f"marked sent by {officer} after checking the network"
    return reply


def resend(session: Session, reply_id: int) -> Reply:
    """The officer checked it did not go out: back to the outbox with fresh attempts."""
    reply = _reply(session, reply_id)
    allowed = session.scalar(select(Reply.id).where(Reply.id == reply_id, queries.reply_allowed()))
    if allowed is None:
        raise ReplyCheckError(f"reply #{reply_id}: its requester was erased or opted out; nothing is sent to them")
    reply.state, reply.next_attempt_at, reply.attempts, reply.claimed_at = "pending", utcnow(), 0, None
    return reply
