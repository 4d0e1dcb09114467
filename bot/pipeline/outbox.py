"""Send: deliver due replies and posts, each claim naming its worker.

Replies are claimed a batch at a time in one statement, which re-checks consent
too. Right before the network calls a group of replies is marked as started,
in the same short transaction that records the previous group's outcomes; so a
claimed reply that never left is known to be safe to send, and one that may
have left is known to need a look first. A group is one reply, except on a
network that drops a repeated send, where a crash mid-group costs nothing but
sending the group again: there it holds up to 50 replies (and sends for at
most a second, so none leaves long after its consent check), and the sandbox
takes the whole group in one call.

A claim belongs to a worker (`claimed_by`), alive while its heartbeat is fresh
(`bot/worker.py`). A worker that restarts frees its own claims at once; the
others take back a dead worker's claims once its heartbeat is older than the
lease. A taken-back reply that never left is sent; one that may have left is
resent only on networks that drop a repeated idempotency key (the sandbox;
Mastodon's `Idempotency-Key`); elsewhere the bot's own recent posts are
searched for it (X's user timeline): found, it counts as sent; not found, it is
sent; where the network cannot tell (Telegram), it is marked `unknown` for an
officer, because a citizen must never get the same reply twice.

Posts (a call, a reminder, a note, the survey) are claimed one at a time and
recovered the same way, with `find_own_post`: a post of the same text that is
not a reply, made since its send started and not already recorded for another
post (as X shows it: links wrapped in t.co); for a native poll, the same
question with exactly the same options, which tells apart the polls of a survey
split in several (their questions are numbered, "(2/3)", unless that does not fit). Found, it is `posted` with the
network's id, so the replies to it are polled; surely not there, it is posted
again in the same pass; where the network cannot tell (Telegram; X when more of
our posts came since than one lookup reads), it is `dead` with the reason, for
an officer. A post is never a thread: each is one tweet (texts are fitted to
the network's length, never split), and a survey of several polls is several
posts, each looked for on its own; so "found" means the whole post is out.
Should posts ever become threads, only a whole thread found may count as
posted, and a part found must go to an officer, never be posted again whole.

An outage (5xx, a timeout, a 429) does not use up a reply's attempts, only
errors that would repeat do; both lengthen the backoff.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.campaigns import survey
from bot.campaigns.publishing import Publisher, Sent, Skip, skip_passed
from bot.networks.base import (
    CANNOT_TELL,
    NOT_FOUND,
    Connector,
    Lookup,
    NetworkError,
    OutgoingReply,
    PostRef,
    ReplyTarget,
)
from storage import queries
from storage.database import reading
from storage.models import Message, Post, Reply, utcnow

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted during sending; not resent automatically so that nobody gets it twice"
OUTCOME_UNKNOWN = "no answer after the request left; not resent automatically so that nobody gets it twice"
TO_CHECK = "no answer after the request left; the network's own posts are checked before any resend"
FOUND_SENT = "its worker stopped during the send; found on the network, so counted as sent and not resent"
NO_CONSENT = "the requester was erased or opted out before it was sent"
# Retries of an outage never stop, so their backoff needs a ceiling.
MAX_RETRY_DELAY = timedelta(hours=1)
# Clock difference allowed between this host and the network when looking for our own reply.
LOOKUP_SKEW = timedelta(minutes=1)
# On a network that drops a repeated send, replies start a group at a time (one transaction per
# group); the group's sends stop after this long, so none leaves long after its consent check.
SEND_GROUP = 50
SEND_GROUP_SECONDS = 1.0


@dataclass(frozen=True)
class Claims:
    """Who claims rows (None: an anonymous caller, such as a rehearsal), and the lease on a silent worker."""

    worker: str | None = None
    lease_seconds: float = 30.0

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)


def send_due_replies(
    sessions: sessionmaker[Session],
    connectors: dict[str, Connector],
    *,
    max_attempts: int,
    retry_base_seconds: float,
    batch_size: int = 100,
    claims: Claims = Claims(),
    stopping: Callable[[], bool] = lambda: False,
) -> int:
    """Send every reply due when the pass starts, once; returns how many were sent (or found sent)."""
    found = take_back_replies(sessions, connectors, claims)
    with sessions() as session, session.begin():
        queries.drop_waiting_replies(session, reason=NO_CONSENT)
    retry = {"max_attempts": max_attempts, "retry_base_seconds": retry_base_seconds}
    sent = 0
    pass_start = utcnow()  # a reply that fails now is due again later: never retried within this pass
    # Networks that answered "slow down" in this pass, or that polling paused because they keep
    # failing: their replies wait (and keep their attempts) until the network is back.
    with reading(sessions) as session:
        waiting: set[str] = queries.paused_networks(session, now=pass_start)
    while not stopping():
        open_networks = [name for name in connectors if name not in waiting]
        if not open_networks:
            break
        batch = _claim_replies(sessions, networks=open_networks, due_before=pass_start, limit=batch_size,
                               worker=claims.worker)
        if not batch:
            break
        sent += _send_batch(sessions, connectors, batch, waiting, claims=claims, stopping=stopping, retry=retry)
    return sent + found


def _claim_replies(sessions, *, networks, due_before, limit, worker) -> list[int]:
    """One transaction: a batch of due replies becomes this worker's."""
    with sessions() as session, session.begin():
        return queries.claim_due_replies(
            session, networks=networks, due_before=due_before, limit=limit, worker=worker, now=utcnow()
        )


def _send_batch(sessions, connectors, batch: list[int], waiting: set[str], *, claims: Claims, stopping,
                retry: dict) -> int:
    """Send the claimed replies a group at a time: one short transaction records a group's outcomes and
    marks the next group as started; the network calls happen between two of them, holding no lock."""
    with reading(sessions) as session:
        rows = {
            reply.id: reply for reply in session.scalars(
                select(Reply).where(Reply.id.in_(batch))
                .options(selectinload(Reply.message).selectinload(Message.requester))
            )
        }
        outgoing = {
            reply.id: OutgoingReply(reply_target(reply.message), reply.text, reply.idempotency_key)
            for reply in rows.values()
        }
    queue = [reply_id for reply_id in batch if reply_id in rows]
    sent = 0
    outcomes: dict[int, PostRef | Exception] = {}
    untried: list[int] = []
    try:
        while True:
            with sessions() as session, session.begin():
                sent += _record_outcomes(session, outcomes, rows, connectors, retry)
                queries.unmark_sends_started(session, untried, worker=claims.worker)
                group = [] if stopping() else _start_group(session, queue, rows, connectors, waiting, claims)
            if not group:
                break
            network = rows[group[0]].network
            connector = connectors[network]
            outcomes = _send_group(connector, [outgoing[reply_id] for reply_id in group], group, stopping)
            untried = [reply_id for reply_id in group if reply_id not in outcomes]
            queue[:0] = untried  # not handed to the network: started again, consent checked again, or released
            if any(isinstance(outcome, NetworkError) and outcome.retry_after for outcome in outcomes.values()):
                waiting.add(network)
    finally:
        # What the batch still holds: skipped (a network said slow down, a stop came, a requester
        # said stop) or, after an error here, replies whose outcome was not recorded.
        with contextlib.suppress(Exception), sessions() as session, session.begin():
            queries.release_claims(session, Reply, batch, worker=claims.worker, now=utcnow())
    return sent


def _start_group(session, queue: list[int], rows, connectors, waiting: set[str], claims: Claims) -> list[int]:
    """Take the next group off the queue and mark it as started (in the caller's transaction); its ids.

    A group is one network's: up to SEND_GROUP replies where the network drops a repeated send
    (a crash mid-group is made good by sending the group again), else one reply, so that a crash
    leaves at most one reply whose fate must be looked up or handed to an officer. A reply that
    cannot start (its network said slow down, it was dropped meanwhile, its requester said stop)
    stays unstarted, and is released at the end of the batch.
    """
    while queue:
        network = rows[queue[0]].network
        if network in waiting:
            queue.pop(0)
            continue
        size = SEND_GROUP if connectors[network].idempotent_sends else 1
        group = [reply_id for reply_id in queue if rows[reply_id].network == network][:size]
        taken = set(group)
        queue[:] = [reply_id for reply_id in queue if reply_id not in taken]
        started = queries.mark_sends_started(session, group, worker=claims.worker, now=utcnow())
        if started:
            return [reply_id for reply_id in group if reply_id in started]
    return []


def _send_group(connector: Connector, replies: list[OutgoingReply], ids: list[int], stopping) -> dict:
    """Hand a started group to the network; the outcome of each reply tried, by id.

    Sending stops between two replies when a stop comes or the group has taken SEND_GROUP_SECONDS,
    so that no reply leaves much later than the consent check of its start mark.
    """
    deadline = time.monotonic() + SEND_GROUP_SECONDS
    results = connector.reply_all(replies, stop=lambda: stopping() or time.monotonic() > deadline)
    return dict(zip(ids, results, strict=False))


def _record_outcomes(session, outcomes: dict[int, PostRef | Exception], rows, connectors, retry: dict) -> int:
    """Record a group's outcomes in the caller's transaction: every success in one statement,
    each failure on its row; returns how many were sent."""
    done = [(reply_id, outcome.external_id) for reply_id, outcome in outcomes.items()
            if isinstance(outcome, PostRef)]
    queries.record_sent_replies(session, done, now=utcnow())
    for reply_id, outcome in outcomes.items():
        if isinstance(outcome, Exception):
            connector = connectors[rows[reply_id].network]
            _record_failure(session.get(Reply, reply_id, with_for_update=True), outcome,
                            idempotent=connector.idempotent_sends, finds_own=connector.finds_own_replies, **retry)
    return len(done)


def reply_target(message: Message) -> ReplyTarget:
    return ReplyTarget(
        external_id=message.external_id,
        author_id=message.requester.external_user_id,
        author_handle=message.requester.handle or "",
        is_private=message.is_private,
        conversation_id=message.conversation_id,
        visibility=message.visibility,
    )


def post_due(
    sessions: sessionmaker[Session],
    connectors: dict[str, Connector],
    *,
    max_attempts: int,
    retry_base_seconds: float,
    publisher: Publisher | None = None,
    now: Callable[[], datetime] = utcnow,
    claims: Claims = Claims(),
) -> int:
    """Publish every due post once, skip those whose moment passed, read closed surveys; returns posts made.

    `publisher` adds the campaign behaviour (texts written at posting time, surveys
    as polls); without it a post's stored text is sent as is. `now` is the clock,
    a parameter so that tests and rehearsals can move it.
    """
    found = _take_back_posts(sessions, connectors, claims, publisher=publisher, clock=now)
    with sessions() as session, session.begin():
        skip_passed(session, now=now())
    posted, seen = found, set()
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
            # Claimed and started in real time, whatever `now` says: worker liveness and the
            # network's own clock (a lookup after a crash) are real.
            if not _claim(sessions, Post, post.id, "sending", worker=claims.worker):
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
            except Exception as exc:  # noqa: BLE001 - every failure is recorded on the row
                with sessions() as session, session.begin():
                    _record_failure(session.get(Post, post.id, with_for_update=True), exc,
                                    max_attempts=max_attempts, retry_base_seconds=retry_base_seconds,
                                    idempotent=connector.idempotent_sends, finds_own=connector.finds_own_posts,
                                    now=now())
                continue
            with sessions() as session, session.begin():
                row = session.get_one(Post, post.id)
                row.claimed_by = None
                if isinstance(outcome, Skip):
                    row.state, row.skip_reason = "skipped", outcome.reason
                    continue
                row.state, row.external_id, row.url, row.posted_at = "posted", outcome.external_id, outcome.url, now()
                row.attempts += 1
                row.last_error = None
            posted += 1
    survey.read_closed(sessions, connectors, now=now())
    return posted


def _claim(sessions: sessionmaker[Session], model, row_id: int, claimed_state: str, *,
           worker: str | None = None) -> bool:
    """Take one due row for `worker`, committed before the network call, which follows at once.

    For a reply the claim also re-checks consent, in the same statement, so a
    /stop or an erasure committed a moment ago is honoured.
    """
    where = [model.state.in_(("pending", "failed"))]
    if model is Reply:
        where.append(queries.reply_allowed())
    moment = utcnow()
    with sessions() as session, session.begin():
        return queries.claim(
            session, model, row_id, where=where,
            values={"state": claimed_state, "claimed_at": moment, "claimed_by": worker, "send_started_at": moment},
        )


def retry_delay(attempts: int, base_seconds: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, at most an hour; a network's own `retry_after` is a floor."""
    ceiling = min(base_seconds * 2 ** min(max(attempts - 1, 0), 32), MAX_RETRY_DELAY.total_seconds())
    delay = random.uniform(min(base_seconds / 2, ceiling), ceiling)
    return max(delay, retry_after or 0.0)


def _record_failure(row, exc: Exception, *, max_attempts: int, retry_base_seconds: float, idempotent: bool,
                    finds_own: bool, now: datetime | None = None) -> None:
    """What a failed send leaves on its row (a Reply or a Post), in the caller's transaction."""
    model = type(row)
    log.warning("%s %s failed: %s", model.__name__.lower(), row.id, exc)
    moment = now or utcnow()
    row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    if row.state != queries.SENDING:
        row.attempts += 1
        return  # dropped meanwhile (erasure, /stop): it stays dropped
    row.claimed_by = None  # whatever comes next, this worker holds it no more
    if _outcome_unknown(exc) and not idempotent:
        if finds_own:
            # Left claimed by nobody: once the lease has passed (real time), a worker looks for it on the network.
            row.claimed_at = utcnow()
            row.last_error = f"{TO_CHECK} ({row.last_error})"[:1000]
            return
        # Resending could reach the citizen twice: an officer checks the network first.
        row.attempts += 1
        row.state = queries.UNKNOWN if model is Reply else "dead"
        row.last_error = f"{OUTCOME_UNKNOWN} ({row.last_error})"[:1000]
        return
    permanent = isinstance(exc, NetworkError) and exc.permanent
    transient = isinstance(exc, NetworkError) and (exc.transient or exc.outcome_unknown) and not permanent
    if transient:
        row.transient_failures += 1  # an outage: the reply keeps its attempts
    else:
        row.attempts += 1
    if permanent or row.attempts >= max_attempts:
        row.state = "dead"
        return
    row.state, row.send_started_at = "failed", None
    retry_after = exc.retry_after if isinstance(exc, NetworkError) else None
    delay = timedelta(seconds=retry_delay(row.attempts + row.transient_failures, retry_base_seconds, retry_after))
    if model is Reply:
        row.next_attempt_at = moment + delay
    else:
        row.due_at = moment + delay


def _outcome_unknown(exc: Exception) -> bool:
    """Connectors turn every failure they understand into NetworkError; anything else may have
    happened after the request left, so whether the network took it is unknown."""
    return not isinstance(exc, NetworkError) or exc.outcome_unknown


# -- taking claims back ---------------------------------------------------------------------------


def take_back_replies(sessions: sessionmaker[Session], connectors: dict[str, Connector], claims: Claims) -> int:
    """Recover the replies of dead workers; returns how many were found already sent.

    Never left: waiting again. May have left: waiting again on a network that drops
    a repeat; looked for on one that can list our posts; else `unknown`.
    """
    to_check = _take_back(sessions, connectors, claims, Reply, can_look=lambda connector: connector.finds_own_replies,
                          cannot_tell=queries.UNKNOWN)
    return sum(_check(sessions, connectors, reply_id, claims) for reply_id in to_check)


def _take_back(sessions, connectors, claims: Claims, model, *, can_look: Callable[[Connector], bool],
               cannot_tell: str) -> list[int]:
    """Free the claims of dead workers that never left, or that a repeat cannot harm; hold for ourselves
    those to look for on the network (returned); the rest go to an officer as `cannot_tell`."""
    now = utcnow()  # real time: worker liveness is real
    to_check = []
    with sessions() as session, session.begin():
        paused = queries.paused_networks(session, now=now)
        for row in queries.claims_to_take_back(session, model, worker=claims.worker, now=now, lease=claims.lease):
            connector = connectors.get(row.network)
            if connector is None:
                continue  # a network this worker does not serve: one that does will take it
            if row.send_started_at is None or connector.idempotent_sends:
                _release(row)
            elif can_look(connector):
                if row.network not in paused:
                    row.claimed_by, row.claimed_at = claims.worker, now  # ours while we look
                    to_check.append(row.id)
            else:
                row.state, row.last_error, row.claimed_by = cannot_tell, INTERRUPTED, None
    return to_check


def _check(sessions, connectors, reply_id: int, claims: Claims) -> bool:
    """Look for a taken-back reply on the network: sent if found, sent again if surely not, else `unknown`."""
    with reading(sessions) as session:
        row = session.get_one(Reply, reply_id)
        connector = connectors[row.network]
        target = reply_target(row.message)
        assert row.send_started_at is not None  # only a reply whose send started is looked for
        since = row.send_started_at - LOOKUP_SKEW
        known = set(session.scalars(
            select(Reply.external_id).where(
                Reply.message_id == row.message_id, Reply.id != row.id, Reply.external_id.is_not(None)
            )
        ))
    return _look(sessions, Reply, reply_id, row.network, claims,
                 lambda: connector.find_own_reply(target, since=since, known=known), found_at=utcnow)


def _take_back_posts(sessions, connectors, claims: Claims, *, publisher: Publisher | None, clock) -> int:
    """Recover the posts of dead workers; returns how many were found already posted.

    Never left: due again. May have left: due again on a network that drops a repeat;
    looked for among the account's own posts on one that can list them; else `dead`.
    """
    to_check = _take_back(sessions, connectors, claims, Post, can_look=lambda connector: connector.finds_own_posts,
                          cannot_tell="dead")
    return sum(_check_post(sessions, connectors, post_id, claims, publisher=publisher, clock=clock)
               for post_id in to_check)


def _check_post(sessions, connectors, post_id: int, claims: Claims, *, publisher: Publisher | None, clock) -> bool:
    """Look for a taken-back post on the network: posted if found, posted again if surely not, else `dead`."""
    with reading(sessions) as session:
        row = session.get_one(Post, post_id)
        connector = connectors[row.network]
        sent = publisher.sent_as(session, row, connector) if publisher is not None else Sent(row.text)
        assert row.send_started_at is not None  # only a post whose send started is looked for
        since = row.send_started_at - LOOKUP_SKEW
        # Our other posts already recorded (the polls of a split survey may ask the same question).
        known = set(session.scalars(
            select(Post.external_id).where(
                Post.network == row.network, Post.id != row.id, Post.external_id.is_not(None)
            )
        ))
    if sent is None:
        return _settle(sessions, Post, post_id, NOT_FOUND, claims, found_at=clock)  # it never reached the network
    return _look(
        sessions, Post, post_id, row.network, claims,
        lambda: connector.find_own_post(sent.text, since=since, known=known, poll_options=sent.poll_options),
        found_at=clock,
    )


def _look(sessions, model, row_id: int, network: str, claims: Claims, lookup: Callable[[], Lookup], *,
          found_at: Callable[[], datetime]) -> bool:
    """Ask the network about a taken-back row whose send may have happened, then settle it."""
    what = model.__name__.lower()
    try:
        answer = lookup()
    except NetworkError as exc:
        if exc.transient and not exc.permanent:
            log.warning("%s %s: cannot look for it on %s now (%s); trying again later", what, row_id, network, exc)
            with sessions() as session, session.begin():
                again = session.get_one(model, row_id, with_for_update=True)
                if again.state == queries.SENDING and again.claimed_by == claims.worker:
                    again.claimed_by, again.claimed_at = None, utcnow()
            return False
        answer = CANNOT_TELL
    except Exception:  # noqa: BLE001 - not knowing is safe: an officer looks
        log.exception("%s %s: looking for it on %s failed", what, row_id, network)
        answer = CANNOT_TELL
    return _settle(sessions, model, row_id, answer, claims, found_at=found_at)


def _settle(sessions, model, row_id: int, lookup: Lookup, claims: Claims, *,
            found_at: Callable[[], datetime]) -> bool:
    """Found: sent (a reply) or posted (a post), with the network's id. Surely not there: due again.
    Cannot tell: `unknown` (a reply) or `dead` (a post), for an officer."""
    with sessions() as session, session.begin():
        row = session.get(model, row_id, with_for_update=True)
        if row.state != queries.SENDING or row.claimed_by != claims.worker:
            return False  # dropped or taken meanwhile
        row.claimed_by = None
        if lookup.found is not None:
            row.external_id = lookup.found.external_id
            if model is Reply:
                row.state, row.sent_at = "sent", found_at()
            else:
                row.state, row.url, row.posted_at = "posted", lookup.found.url, found_at()
            row.attempts += 1
            row.last_error = FOUND_SENT
            log.info("%s %s was already on %s (%s): not sent again", model.__name__.lower(), row_id, row.network,
                     lookup.found.external_id)
            return True
        if lookup.checked:
            _release(row)  # surely not out: sent in this pass
        else:
            row.state, row.last_error = (queries.UNKNOWN if model is Reply else "dead"), INTERRUPTED
    return False


def _release(row) -> None:
    row.state = "failed" if row.attempts + row.transient_failures else "pending"
    row.claimed_by = row.claimed_at = row.send_started_at = None
