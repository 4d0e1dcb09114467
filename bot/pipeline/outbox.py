"""Send: deliver due replies and posts, each claimed in its own transaction.

A row is claimed (`sending`) and committed before the network call,
then marked done. If the process dies in between, the row stays claimed: it is
retried only on networks that drop a repeated idempotency key, and otherwise
marked `unknown` for an officer to check, because a second send could reach a
citizen twice. A send that timed out after the request left is `unknown` too.

Consent is checked when a reply is claimed, not only when it was queued: a
reply to a person who was erased or opted out since (put back by a retry, a
stale claim or anything else) is dropped, never sent.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.campaigns import survey
from bot.campaigns.publishing import Publisher, Skip, skip_passed
from bot.networks.base import Connector, NetworkError, PostRef, ReplyTarget
from storage import queries
from storage.models import Post, Reply, utcnow

log = logging.getLogger(__name__)

# A claim older than this belongs to a worker that died mid-send.
STALE_CLAIM = timedelta(minutes=10)
INTERRUPTED = "interrupted during sending; not resent automatically so that nobody gets it twice"
OUTCOME_UNKNOWN = "no answer after the request left; not resent automatically so that nobody gets it twice"
NO_CONSENT = "the requester was erased or opted out before it was sent"


def send_due_replies(
    sessions: sessionmaker[Session],
    connectors: dict[str, Connector],
    *,
    max_attempts: int,
    retry_base_seconds: float,
    batch_size: int = 100,
) -> int:
    """Send every due reply once; returns how many were sent."""
    _recover_stale(sessions, Reply, connectors, state_field="sending")
    with sessions() as session, session.begin():
        queries.drop_waiting_replies(session, reason=NO_CONSENT)
    sent = 0
    # Networks that answered "slow down" in this pass, or that polling paused because they keep
    # failing: their replies wait (and keep their attempts) until the network is back.
    with sessions() as session:
        waiting: set[str] = queries.paused_networks(session, now=utcnow())
    while True:
        with sessions() as session:
            open_networks = [name for name in connectors if name not in waiting]
            due = queries.due_replies(session, networks=open_networks, now=utcnow(), limit=batch_size)
        if not due:
            return sent
        progressed = False
        for reply in due:
            if reply.network in waiting:
                continue
            if not _claim(sessions, Reply, reply.id, "sending"):
                continue
            progressed = True
            with sessions() as session:
                message = session.get_one(Reply, reply.id).message
                target = ReplyTarget(
                    external_id=message.external_id,
                    author_id=message.requester.external_user_id,
                    author_handle=message.requester.handle or "",
                    is_private=message.is_private,
                    conversation_id=message.conversation_id,
                    visibility=message.visibility,
                )
            try:
                ref = connectors[reply.network].reply(target, reply.text, idempotency_key=reply.idempotency_key)
            except Exception as exc:
                _record_failure(sessions, Reply, reply.id, exc, max_attempts, retry_base_seconds,
                                idempotent=connectors[reply.network].idempotent_sends)
                if isinstance(exc, NetworkError) and exc.retry_after:
                    waiting.add(reply.network)
                continue
            with sessions() as session, session.begin():
                row = session.get_one(Reply, reply.id)
                row.state, row.external_id, row.sent_at, row.last_error = "sent", ref.external_id, utcnow(), None
                row.attempts += 1
            sent += 1
        if not progressed:
            return sent


def post_due(
    sessions: sessionmaker[Session],
    connectors: dict[str, Connector],
    *,
    max_attempts: int,
    retry_base_seconds: float,
    publisher: Publisher | None = None,
    now: Callable[[], datetime] = utcnow,
) -> int:
    """Publish every due post once, skip those whose moment passed, read closed surveys; returns posts made.

    `publisher` adds the campaign behaviour (texts written at posting time, surveys
    as polls); without it a post's stored text is sent as is. `now` is the clock,
    a parameter so that tests and rehearsals can move it.
    """
    _recover_stale(sessions, Post, connectors, state_field="sending", now=now())
    with sessions() as session, session.begin():
        skip_passed(session, now=now())
    posted, seen = 0, set()
    while True:  # a survey split into several polls adds posts due at once: post them in this pass too
        with sessions() as session:
            paused = queries.paused_networks(session, now=now())
            open_networks = [name for name in connectors if name not in paused]
            due = [
                post for post in queries.due_posts(session, networks=open_networks, now=now(), limit=100)
                if post.id not in seen
            ]
        if not due:
            break
        for post in due:
            seen.add(post.id)
            if not _claim(sessions, Post, post.id, "sending", now=now()):
                continue
            connector = connectors[post.network]
            try:
                outcome: PostRef | Skip
                with sessions() as session:
                    row = session.get_one(Post, post.id)
                    if publisher is None:
                        outcome = connector.post(row.text, idempotency_key=f"datacall-post-{post.id}")
                    else:
                        outcome = publisher.publish(session, row, connector, now=now())
            except Exception as exc:
                _record_failure(sessions, Post, post.id, exc, max_attempts, retry_base_seconds,
                                idempotent=connector.idempotent_sends, now=now())
                continue
            with sessions() as session, session.begin():
                row = session.get_one(Post, post.id)
                if isinstance(outcome, Skip):
                    row.state, row.skip_reason = "skipped", outcome.reason
                    continue
                row.state, row.external_id, row.url, row.posted_at = "posted", outcome.external_id, outcome.url, now()
                row.attempts += 1
                row.last_error = None
            posted += 1
    survey.read_closed(sessions, connectors, now=now())
    return posted


def _claim(sessions: sessionmaker[Session], model, row_id: int, claimed_state: str, *, now=None) -> bool:
    """Take a due row for this worker, committed before the network call.

    For a reply the claim also re-checks consent, in the same statement, so a
    /stop or an erasure committed a moment ago is honoured.
    """
    where = [model.state.in_(("pending", "failed"))]
    if model is Reply:
        where.append(queries.reply_allowed())
    with sessions() as session, session.begin():
        return queries.claim(
            session, model, row_id, where=where, values={"state": claimed_state, "claimed_at": now or utcnow()},
        )


def retry_delay(attempts: int, base_seconds: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a network's own `retry_after` is a floor."""
    delay = random.uniform(base_seconds / 2, base_seconds * 2 ** max(attempts - 1, 0))
    return max(delay, retry_after or 0.0)


def _record_failure(sessions, model, row_id, exc, max_attempts, retry_base_seconds, *, idempotent: bool,
                    now=None) -> None:
    log.warning("%s %s failed: %s", model.__name__.lower(), row_id, exc)
    with sessions() as session, session.begin():
        row = session.get(model, row_id, with_for_update=True)
        row.attempts += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        if row.state != "sending":
            return  # dropped meanwhile (erasure, /stop): it stays dropped
        if _outcome_unknown(exc) and not idempotent:
            # Resending could reach the citizen twice: an officer checks the network first.
            row.state = queries.UNKNOWN if model is Reply else "dead"
            row.last_error = f"{OUTCOME_UNKNOWN} ({row.last_error})"[:1000]
            return
        permanent = isinstance(exc, NetworkError) and exc.permanent
        if permanent or row.attempts >= max_attempts:
            row.state = "dead"
            return
        row.state = "failed"
        retry_after = exc.retry_after if isinstance(exc, NetworkError) else None
        delay = timedelta(seconds=retry_delay(row.attempts, retry_base_seconds, retry_after))
        if model is Reply:
            row.next_attempt_at = (now or utcnow()) + delay
        else:
            row.due_at = (now or utcnow()) + delay


def _outcome_unknown(exc: Exception) -> bool:
    """Connectors turn every failure they understand into NetworkError; anything else may have
    happened after the request left, so whether the network took it is unknown."""
    return not isinstance(exc, NetworkError) or exc.outcome_unknown


def _recover_stale(sessions, model, connectors, *, state_field: str, now=None) -> None:
    """Release claims left by a worker that died between claiming and finishing."""
    cutoff = (now or utcnow()) - STALE_CLAIM
    with sessions() as session, session.begin():
        stale = select(model).where(model.state == state_field, model.claimed_at < cutoff)
        for row in session.scalars(stale).all():
            connector = connectors.get(row.network)
            if connector is not None and connector.idempotent_sends:
                row.state = "pending"  # the network drops the repeat if the first one went out
            elif connector is not None:
                row.state, row.last_error = (queries.UNKNOWN if model is Reply else "dead"), INTERRUPTED
