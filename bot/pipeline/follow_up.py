"""Follow-up: some weeks after a request is published, ask each supporter once what it was worth.

Each supporter (not opted out, not erased, on an enabled network) gets ONE
reply on their network: did this dataset meet your need, and what did you
build with it? The reply row's idempotency key is unique per
(request, requester, 'follow_up') and a `follow_ups` row remembers the
question, so nobody is asked twice, whatever crashes or runs in parallel.

Answers to that question (recognised at ingest by the id they reply to) are
stored as reuse feedback on the request, and never classified as requests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.networks.base import Incoming
from bot.pipeline.replies import ReplyWriter
from storage import queries
from storage.erasure import is_erased
from storage.models import FollowUp, Message, Reply, Request, ReuseFeedback, StatusEvent, utcnow

log = logging.getLogger(__name__)

TEMPLATE = "follow_up"
# A request published longer ago than the delay plus this window is not followed up:
# after a long outage, or when the feature is turned on, nobody gets a question about old data.
LATE_WINDOW = timedelta(days=30)


def follow_up_key(request_id: int, requester_id: int) -> str:
    return f"datacall-followup-{request_id}-{requester_id}"


def due_requests(session: Session, *, after_days: int, now: datetime) -> list[tuple[int, datetime]]:
    """Published requests whose publication is `after_days` old (within the late window): (id, published at)."""
    published_at = func.max(StatusEvent.created_at)
    cutoff = now - timedelta(days=after_days)
    rows = session.execute(
        select(Request.id, published_at)
        .join(StatusEvent, StatusEvent.request_id == Request.id)
        .where(Request.status == "published", StatusEvent.status == "published")
        .group_by(Request.id)
        .having(published_at <= cutoff, published_at > cutoff - LATE_WINDOW)
        .order_by(Request.id)
    ).all()
    return [(request_id, when) for request_id, when in rows]


def queue_follow_ups(
    sessions: sessionmaker[Session], *, writer: ReplyWriter, after_days: int, now: datetime | None = None
) -> int:
    """Queue the question for every supporter not asked yet; one committed transaction; returns how many."""
    now = now or utcnow()
    try:
        with sessions() as session, session.begin():
            queued = 0
            for request_id, _ in due_requests(session, after_days=after_days, now=now):
                queued += _ask_supporters(session, session.get_one(Request, request_id), writer)
            return queued
    except IntegrityError:
        # Another worker asked the same people at the same moment: its rows stand, ours are rolled back.
        log.info("follow-up questions queued by another worker meanwhile; nothing more to do")
        return 0


def _ask_supporters(session: Session, request: Request, writer: ReplyWriter) -> int:
    asked = set(session.scalars(select(FollowUp.requester_id).where(FollowUp.request_id == request.id)))
    queued = 0
    for requester, message in queries.supporters(session, request_id=request.id):
        if requester.id in asked or requester.opted_out or is_erased(requester):
            continue
        if not writer.reaches(requester):
            continue  # a network no longer enabled: nobody to ask there
        lang = writer.language(requester)
        text = writer.render(TEMPLATE, lang, requester, id=request.id, title=request.title, url=request.url)
        reply = Reply(
            requester_id=requester.id, message_id=message.id, network=requester.network,
            idempotency_key=follow_up_key(request.id, requester.id), lang=lang, text=text,
            state="pending", attempts=0,
        )
        session.add(reply)
        session.flush()
        session.add(FollowUp(request_id=request.id, requester_id=requester.id, reply_id=reply.id))
        queued += 1
    session.flush()
    return queued


def store_reuse_answers(session: Session, network: str, items: Iterable[Incoming]) -> int:
    """Messages just stored that answer a follow-up question become reuse feedback, not requests.

    Called by ingest in the transaction that stores the messages, so no
    classifier ever sees them. Only the person asked counts: others replying
    in a public thread are ordinary messages.
    """
    replying = {item.external_id: item.in_reply_to_id for item in items if item.in_reply_to_id}
    if not replying:
        return 0
    questions = {
        external_id: (request_id, requester_id)
        for external_id, request_id, requester_id in session.execute(
            select(Reply.external_id, FollowUp.request_id, FollowUp.requester_id)
            .join(FollowUp, FollowUp.reply_id == Reply.id)
            .where(Reply.network == network, Reply.external_id.in_(set(replying.values())))
        )
    }
    if not questions:
        return 0
    stored = 0
    now = utcnow()
    for message in session.scalars(
        select(Message).where(Message.network == network, Message.external_id.in_(list(replying)))
    ):
        asked = questions.get(replying[message.external_id])
        if asked is None or asked[1] != message.requester_id or message.classified_at is not None:
            continue
        # Taken out of classification and routing: an answer, not a new request.
        message.classified_at = now
        message.routed_at = now
        session.add(ReuseFeedback(request_id=asked[0], requester_id=message.requester_id, message_id=message.id))
        stored += 1
    session.flush()
    return stored


def reuse_feedback_of(session: Session, *, request_id: int) -> list[Message]:
    """The answers supporters gave about a request's data, oldest first (texts erased with their author)."""
    return list(
        session.scalars(
            select(Message)
            .join(ReuseFeedback, ReuseFeedback.message_id == Message.id)
            .where(ReuseFeedback.request_id == request_id)
            .order_by(Message.id)
        )
    )
