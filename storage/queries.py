"""Reusable reads and conditional writes. They never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import Campaign, Message, Post, Reply, Request, Requester, StatusEvent


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


def due_replies(session: Session, *, networks: Sequence[str], now: datetime, limit: int) -> Sequence[Reply]:
    return session.scalars(
        select(Reply)
        .where(
            Reply.state.in_(("pending", "failed")),
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
