"""Reusable reads and conditional writes. They never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    CursorResult,
    Executable,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from storage.models import (
    Campaign,
    FollowUp,
    LabelDecision,
    Message,
    NetworkCursor,
    Post,
    Reply,
    Request,
    Requester,
    StatusEvent,
    Worker,
)

# An erased requester's user id becomes this prefix and their row id (storage.erasure.tombstone).
TOMBSTONE_PREFIX = "erased-"
# Replies not yet out: waiting, waiting to retry, or claimed by a worker right now.
WAITING_REPLY_STATES = ("pending", "failed", "sending")
# Sent or not? A network without idempotency keys timed out after the request left: an officer checks.
UNKNOWN = "unknown"
# A row claimed by a worker (`claimed_by`), on its way to the network.
SENDING = "sending"


def posted_external_ids(session: Session, *, network: str) -> list[str]:
    """Our published posts on a network, whose replies are messages to collect."""
    return list(
        session.scalars(
            select(Post.external_id).where(
                Post.network == network, Post.state == "posted", Post.external_id.is_not(None)
            )
        )
    )


def changed_rows(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE; how many rows it matched.

    `Session.execute()` is typed as returning a `Result`; a DML statement's is a `CursorResult`, which counts.
    """
    result = session.execute(statement)
    if not isinstance(result, CursorResult):
        raise TypeError("not an UPDATE or DELETE: no row count")
    return result.rowcount


def latest_campaign_id(session: Session) -> int | None:
    return session.scalar(select(Campaign.id).order_by(Campaign.created_at.desc(), Campaign.id.desc()))


def claim(session: Session, model, row_id: int, *, where, values: dict) -> bool:
    """Conditional update of one row: True if this worker won it.

    On PostgreSQL a concurrent claimer blocks on the row, re-checks `where`
    after the winner commits, and updates nothing; SQLite serialises writers.
    """
    return changed_rows(
        session,
        update(model).where(model.id == row_id, *where).values(**values).execution_options(
            synchronize_session=False
        ),
    ) == 1


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
    return changed_rows(
        session,
        update(Reply)
        .where(who, Reply.state.in_(WAITING_REPLY_STATES))
        .values(state="dead", last_error=reason)
        .execution_options(synchronize_session=False),
    )


def paused_networks(session: Session, *, now: datetime) -> set[str]:
    """Networks that keep failing and were paused until later: nothing is sent to them meanwhile."""
    return set(session.scalars(select(NetworkCursor.network).where(NetworkCursor.paused_until > now)))


def due_posts(session: Session, *, networks: Sequence[str], now: datetime, limit: int) -> Sequence[Post]:
    return session.scalars(
        select(Post)
        .where(Post.state.in_(("pending", "failed")), Post.due_at <= now, Post.network.in_(networks))
        .order_by(Post.due_at, Post.id)
        .limit(limit)
    ).all()


def claim_due_replies(
    session: Session, *, networks: Sequence[str], due_before: datetime, limit: int, worker: str | None, now: datetime
) -> list[int]:
    """Claim up to `limit` due replies for `worker` in one statement; their ids, oldest due first.

    Consent is re-checked in the same statement, so a /stop or an erasure committed
    a moment ago is honoured. On PostgreSQL concurrent workers skip each other's
    locked rows and take the next batch; SQLite serialises writers. None is
    marked as started: `mark_sends_started` does that right before they are sent.
    """
    due = (
        select(Reply.id)
        .where(
            Reply.state.in_(("pending", "failed")),
            reply_allowed(),
            Reply.next_attempt_at <= due_before,
            Reply.network.in_(networks),
        )
        .order_by(Reply.next_attempt_at, Reply.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(Reply)
        .where(Reply.id.in_(due.scalar_subquery()), Reply.state.in_(("pending", "failed")), reply_allowed())
        .values(state=SENDING, claimed_by=worker, claimed_at=now, send_started_at=None)
        .returning(Reply.id, Reply.next_attempt_at)
        .execution_options(synchronize_session=False)
    ).all()
    return [row_id for row_id, _ in sorted(claimed, key=lambda row: (row[1], row[0]))]


def mark_sends_started(session: Session, ids: Sequence[int], *, worker: str | None, now: datetime) -> set[int]:
    """Record, before the network calls, that these claimed replies are about to leave; the ids that may.

    One is left out when it is not ours any more (dropped by an erasure or /stop, taken back)
    or its requester may no longer be written to.
    """
    if not ids:
        return set()
    return set(session.scalars(
        update(Reply)
        .where(Reply.id.in_(ids), Reply.state == SENDING, _claimed_by(Reply, worker), reply_allowed())
        .values(send_started_at=now)
        .returning(Reply.id)
        .execution_options(synchronize_session=False)
    ))


def unmark_sends_started(session: Session, ids: Sequence[int], *, worker: str | None) -> None:
    """Replies marked as started that this worker knows it never handed to the network: safe to send again."""
    if ids:
        session.execute(
            update(Reply)
            .where(Reply.id.in_(ids), Reply.state == SENDING, _claimed_by(Reply, worker))
            .values(send_started_at=None)
            .execution_options(synchronize_session=False)
        )


def record_sent_replies(session: Session, sent: Sequence[tuple[int, str]], *, now: datetime) -> None:
    """Replies the network took, as (id, external id): `sent`, in one statement run once per row.

    Whatever happened to a row meanwhile (a drop by an erasure or /stop), the truth wins: it went out.
    """
    if not sent:
        return
    table = Reply.metadata.tables[Reply.__tablename__]  # Core executemany, not the ORM bulk-by-primary-key
    session.execute(
        update(table).where(table.c.id == bindparam("reply_id")).values(
            state="sent", external_id=bindparam("ref"), sent_at=now, last_error=None,
            attempts=table.c.attempts + 1, claimed_by=None,
        ),
        [{"reply_id": reply_id, "ref": ref} for reply_id, ref in sent],
    )


def release_claims(session: Session, model, ids: Sequence[int], *, worker: str | None, now: datetime) -> int:
    """Give back what `worker` still holds among `ids`: rows that never left wait again, as they were;
    a row whose send started but was never recorded is left for a look once the lease has passed."""
    if not ids:
        return 0
    mine = and_(model.id.in_(ids), model.state == SENDING, _claimed_by(model, worker))
    waiting_again = case((model.attempts + model.transient_failures > 0, "failed"), else_="pending")
    released = changed_rows(
        session,
        update(model)
        .where(mine, model.send_started_at.is_(None))
        .values(state=waiting_again, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False),
    )
    session.execute(
        update(model)
        .where(mine, model.send_started_at.is_not(None))
        .values(claimed_by=None, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return released


def release_own_claims(session: Session, *, worker: str) -> int:
    """A worker that starts knows it died: its claims become free for recovery at once (replies and posts)."""
    released = 0
    for model in (Reply, Post):
        released += changed_rows(
            session,
            update(model)
            .where(model.state == SENDING, model.claimed_by == worker)
            .values(claimed_by=None, claimed_at=None)
            .execution_options(synchronize_session=False),
        )
    return released


def claims_to_take_back(session: Session, model, *, worker: str | None, now: datetime, lease: timedelta):
    """Claimed rows whose worker is gone: released at its restart (no claim time), or claimed longer ago
    than the lease by a worker whose heartbeat is older than the lease (or that never wrote one).

    A live worker's claims are never among them, however long its send takes: it keeps beating.
    """
    cutoff = now - lease
    live = select(Worker.name).where(Worker.heartbeat_at >= cutoff)
    unowned = or_(model.claimed_by.is_(None), model.claimed_by.not_in(live))
    if worker is not None:
        unowned = and_(unowned, or_(model.claimed_by.is_(None), model.claimed_by != worker))
    return session.scalars(
        select(model)
        .where(model.state == SENDING, or_(model.claimed_at.is_(None), and_(model.claimed_at < cutoff, unowned)))
        .order_by(model.id)
        .with_for_update(skip_locked=True)
    ).all()


def _claimed_by(model, worker: str | None):
    return model.claimed_by.is_(None) if worker is None else model.claimed_by == worker


def request_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Request.status, func.count()).group_by(Request.status)).all())


def reply_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Reply.state, func.count()).group_by(Reply.state)).all())


def latest_decisions(*, scored_only: bool = False):
    """Each decided message's decisions, ranked: `rank` 1 is its latest (newest `created_at`, then highest
    id), with its label and the model's score when it was made; `first_id` and `last_id` are the message's
    oldest and newest decision ids. `scored_only` leaves out decisions on messages that had no score."""
    ranked = select(
        LabelDecision.message_id, LabelDecision.label, LabelDecision.previous_score,
        func.row_number().over(
            partition_by=LabelDecision.message_id, order_by=(LabelDecision.created_at.desc(), LabelDecision.id.desc()),
        ).label("rank"),
        func.min(LabelDecision.id).over(partition_by=LabelDecision.message_id).label("first_id"),
        func.max(LabelDecision.id).over(partition_by=LabelDecision.message_id).label("last_id"),
    )
    if scored_only:
        ranked = ranked.where(LabelDecision.previous_score.is_not(None))
    return ranked.subquery()


def _agreed(latest, threshold: float):
    said_request, is_request = latest.c.previous_score >= threshold, latest.c.label == "data_request"
    return case((or_(and_(said_request, is_request), and_(~said_request, ~is_request)), 1), else_=0)


def decision_agreement(session: Session, *, threshold: float) -> tuple[int, int]:
    """(messages officers decided, of which the model's score had put on the same side of `threshold`).

    Each message counts once, by its latest decision; `previous_score` is the model's score when the
    officer decided, so this is the model in service then, whichever it was.
    """
    latest = latest_decisions(scored_only=True)
    decided, same = session.execute(
        select(func.count(), func.coalesce(func.sum(_agreed(latest, threshold)), 0))
        .select_from(latest).where(latest.c.rank == 1)
    ).one()
    return int(decided), int(same)


def decided_after(session: Session, *, decision_id: int) -> int:
    """Messages whose every decision is newer than `decision_id`: those a model trained on the decisions
    up to that id has never seen (see bot.training_data.decision_records)."""
    latest = latest_decisions()
    return int(session.scalar(
        select(func.count()).select_from(latest).where(latest.c.rank == 1, latest.c.first_id > decision_id)) or 0)


def spot_check_results(session: Session, *, threshold: float) -> dict[str, tuple[int, int]]:
    """For each side the model decided alone ("data_request", "off_topic"): (spot checks officers
    decided, of which they confirmed the model's label). An unbiased sample of the automatic decisions."""
    latest = latest_decisions(scored_only=True)
    side = case((latest.c.previous_score >= threshold, "data_request"), else_="off_topic")
    rows = session.execute(
        select(side, func.count(), func.coalesce(func.sum(_agreed(latest, threshold)), 0))
        .select_from(latest).join(Message, Message.id == latest.c.message_id)
        .where(latest.c.rank == 1, Message.spot_check.is_(True))
        .group_by(side)
    ).all()
    found = {name: (int(n), int(right)) for name, n, right in rows}
    return {name: found.get(name, (0, 0)) for name in ("data_request", "off_topic")}


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
