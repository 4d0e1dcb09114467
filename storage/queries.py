"""Reusable reads and conditional writes. They never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, and_, cast, func, literal, or_, select, update
from sqlalchemy.orm import Session

from storage.models import Campaign, FollowUp, Message, NetworkCursor, Post, Reply, Request, Requester, StatusEvent

# An erased requester's user id becomes this prefix and their row id (storage.erasure.tombstone).
TOMBSTONE_PREFIX = "erased-"
# Replies not yet out: waiting, waiting to retry, or claimed by a worker right now.
WAITING_REPLY_STATES = ("pending", "failed", "sending")
# Sent or not? A network without idempotency keys timed out after the request left: an officer checks.
UNKNOWN = "unknown"


def posted_external_ids(session: Session, *, network: str) -> list[str]:
    """Our published posts on a network, whose replies are messages to collect."""
    return list(
        session.scalars(
            select(Post.external_id).where(
                Post.network == network, Post.state == "posted", Post.external_id.is_not(None)
            )
        )
    )


def latest_campaign_id(session: Session) -> int | None:
    return session.scalar(select(Campaign.id).order_by(Campaign.created_at.desc(), Campaign.id.desc()))


def claim(session: Session, model, row_id: int, *, where, values: dict) -> bool:
    """Conditional update of one row: True if this worker won it.

    On PostgreSQL a concurrent claimer blocks on the row, re-checks `where`
    after the winner commits, and updates nothing; SQLite serialises writers.
    """
    result = session.execute(
        update(model).where(model.id == row_id, *where).values(**values).execution_options(
            synchronize_session=False
        )
    )
    return result.rowcount == 1


def messages_to_classify(session: Session, *, limit: int) -> Sequence[Message]:
    return session.scalars(
        select(Message)
        .where(Message.classified_at.is_(None))
        .order_by(Message.id)
        .limit(limit)
        # PostgreSQL: concurrent workers take different rows instead of the same batch.
        .with_for_update(skip_locked=True)
    ).all()


def messages_to_route(session: Session, *, limit: int) -> Sequence[Message]:
    return session.scalars(
        select(Message)
        .where(Message.classified_at.is_not(None), Message.routed_at.is_(None))
        .order_by(Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def supporters(session: Session, *, request_id: int) -> list[tuple[Requester, Message]]:
    """Each requester supporting a request, with their latest message (the one to answer)."""
    latest = (
        select(func.max(Message.id))
        .where(Message.request_id == request_id)
        .group_by(Message.requester_id)
    )
    rows = session.execute(
        select(Requester, Message)
        .join(Message, Message.requester_id == Requester.id)
        .where(Message.id.in_(latest))
        .order_by(Message.id)
    ).all()
    return [(requester, message) for requester, message in rows]


def erased_requester():
    """SQL condition: the requester was erased (their user id is the tombstone)."""
    return Requester.external_user_id == literal(TOMBSTONE_PREFIX) + cast(Requester.id, String)


def reply_allowed():
    """SQL condition on Reply: its requester may still be written to, checked when it is sent.

    Never an erased person; an opted-out one only gets the answer to a command
    (the one confirming /stop), never a status reply nor a follow-up question.
    """
    # Correlated EXISTS, not IN (subquery): one primary-key probe per reply instead of reading every
    # requester for each claim (which made sending cost grow with the number of requesters).
    reachable = select(Requester.id).where(Requester.id == Reply.requester_id, ~erased_requester())
    consenting = reachable.where(Requester.opted_out.is_(False))
    follow_up = select(FollowUp.reply_id).where(FollowUp.reply_id == Reply.id)
    command_answer = and_(Reply.status_event_id.is_(None), ~follow_up.exists())
    return or_(consenting.exists(), and_(command_answer, reachable.exists()))


def drop_waiting_replies(session: Session, *, requester_id: int | None = None, reason: str) -> int:
    """Every reply not yet out (pending, failed or claimed) to `requester_id` becomes dead with `reason`.

    Without `requester_id`: the waiting replies nobody may send any more
    (erased or opted-out requester), whatever put them back in the queue.
    A claimed (`sending`) row whose send is under way is still marked `sent` by
    its worker if the network took it: the truth wins over the drop.
    """
    who = Reply.requester_id == requester_id if requester_id is not None else ~reply_allowed()
    return session.execute(
        update(Reply)
        .where(who, Reply.state.in_(WAITING_REPLY_STATES))
        .values(state="dead", last_error=reason)
        .execution_options(synchronize_session=False)
    ).rowcount


def paused_networks(session: Session, *, now: datetime) -> set[str]:
    """Networks that keep failing and were paused until later: nothing is sent to them meanwhile."""
    return set(session.scalars(select(NetworkCursor.network).where(NetworkCursor.paused_until > now)))


def due_replies(session: Session, *, networks: Sequence[str], now: datetime, limit: int) -> Sequence[Reply]:
    return session.scalars(
        select(Reply)
        .where(
            Reply.state.in_(("pending", "failed")),
            reply_allowed(),
            Reply.next_attempt_at <= now,
            Reply.network.in_(networks),
        )
        .order_by(Reply.next_attempt_at, Reply.id)
        .limit(limit)
    ).all()


def due_posts(session: Session, *, networks: Sequence[str], now: datetime, limit: int) -> Sequence[Post]:
    return session.scalars(
        select(Post)
        .where(Post.state.in_(("pending", "failed")), Post.due_at <= now, Post.network.in_(networks))
        .order_by(Post.due_at, Post.id)
        .limit(limit)
    ).all()


def request_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Request.status, func.count()).group_by(Request.status)).all())


def reply_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Reply.state, func.count()).group_by(Reply.state)).all())


def last_event(session: Session, *, request_id: int) -> StatusEvent | None:
    return session.scalar(
        select(StatusEvent).where(StatusEvent.request_id == request_id).order_by(StatusEvent.id.desc())
    )


def uncertainty(threshold: float = 0.5):
    """How sure the model was of a message, as a SQL expression: |score - threshold|, 0 the least sure.

    An unscored message counts as the least sure of all.
    """
    return func.abs(func.coalesce(Message.score, threshold) - threshold)


def messages_to_review(
    session: Session, *, least_sure_first: bool = False, threshold: float = 0.5, limit: int = 50
) -> Sequence[Message]:
    """Messages waiting for an officer's label (`needs_review`): oldest first, or, for uncertainty
    sampling, the ones the model is least sure of first, so each decision teaches the next model most."""
    query = select(Message).where(Message.needs_review.is_(True))
    if least_sure_first:
        query = query.order_by(uncertainty(threshold), Message.id)
    else:
        query = query.order_by(Message.id)
    return session.scalars(query.limit(limit)).all()
