"""Ingest: fetch a network's new messages and store them with the cursor, in one transaction.

Ingest only writes messages. Storing the cursor in the same transaction as the
messages means a crash can neither skip a message nor store it twice.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.campaigns import survey
from bot.networks.base import Connector, Incoming, NetworkError
from bot.pipeline.follow_up import store_reuse_answers
from storage import queries
from storage.models import Message, NetworkCursor, Post, Requester, utcnow

log = logging.getLogger(__name__)

# After this many failed polls in a row a network is paused, so it stops
# eating the poll job's time while the other networks go on.
FAILURES_BEFORE_PAUSE = 3
MAX_PAUSE = timedelta(hours=1)


def poll(connector: Connector, sessions: sessionmaker[Session], *, max_pages: int = 1) -> int:
    """Fetch from `connector` page after page while it has more and its rate budget allows.

    Stops after `max_pages` (`[scheduler] max_pages_per_poll`), so one busy network
    never holds the poll job for long. Each page is stored with its cursor in its own
    transaction; returns how many new messages were stored.
    """
    stored = 0
    for page in range(max_pages):
        try:
            count, more = _poll_page(connector, sessions)
        except Exception as exc:
            if page == 0:
                raise
            # The pages before are stored; the failure is recorded, and the next poll goes on from there.
            log.warning("%s: polling stopped after %d pages: %s", connector.name, page, exc)
            return stored
        stored += count
        if not more:
            break
    return stored


def _poll_page(connector: Connector, sessions: sessionmaker[Session]) -> tuple[int, bool]:
    """Fetch one page and store it with its cursor; returns (new messages, whether more is waiting)."""
    ensure_cursor_row(sessions, connector.name)
    with sessions() as session:
        cursor_row = session.get(NetworkCursor, connector.name)
        if cursor_row and cursor_row.paused_until and cursor_row.paused_until > utcnow():
            return 0, False
        cursor = cursor_row.cursor if cursor_row else None
        state = dict(cursor_row.state) if cursor_row else {}
        watched = queries.posted_external_ids(session, network=connector.name)
    try:
        batch = connector.fetch(cursor, state=state, watched=watched)
    except Exception as exc:
        _record_failure(sessions, connector.name, exc)
        raise
    with sessions() as session, session.begin():
        cursor_row = session.get_one(NetworkCursor, connector.name, with_for_update=True)
        if cursor_row.cursor != cursor:
            return 0, False  # another worker stored this page meanwhile; the next poll goes on from its cursor
        stored = store_messages(session, connector.name, batch.messages)
        now = utcnow()
        cursor_row.cursor = batch.cursor
        cursor_row.state = batch.state or state
        cursor_row.last_poll_at = now
        cursor_row.last_success_at = now
        cursor_row.consecutive_failures = 0
        cursor_row.last_error = None
        cursor_row.paused_until = None
    return stored, batch.more


def ensure_cursor_row(sessions: sessionmaker[Session], network: str) -> None:
    """Create the network's cursor row once; two workers racing to do it is fine."""
    try:
        with sessions() as session, session.begin():
            if session.get(NetworkCursor, network) is None:
                session.add(NetworkCursor(network=network, state={}, consecutive_failures=0))
    except IntegrityError:
        pass  # the other worker created it


def store_messages(session: Session, network: str, incoming: tuple[Incoming, ...]) -> int:
    """Add the messages not stored yet (unique by network and external id).

    Requesters and campaigns are looked up once per batch, not once per message, and the batch is
    written in a few statements (Core inserts: no ORM object per message).
    """
    if not incoming:
        return 0
    known = set(
        session.scalars(
            select(Message.external_id).where(
                Message.network == network,
                Message.external_id.in_([item.external_id for item in incoming]),
            )
        )
    )
    fresh = list({item.external_id: item for item in incoming if item.external_id not in known}.values())
    if not fresh:
        return 0
    requesters = _requesters(session, network, fresh)
    ours = _our_posts(session, network, fresh)
    fresh = [item for item in fresh if not _is_vote(session, item, ours, requesters)]
    if not fresh:
        return 0
    latest_campaign = queries.latest_campaign_id(session)
    now = utcnow()
    session.execute(insert(Message), [
        {
            "network": network,
            "external_id": item.external_id,
            "requester_id": requesters[item.author_id],
            "campaign_id": next(
                (ours[ref].campaign_id for ref in (item.in_reply_to_id, item.conversation_id) if ref in ours),
                latest_campaign,
            ),
            "post_id": next((ours[ref].id for ref in (item.in_reply_to_id, item.conversation_id) if ref in ours),
                            None),
            "text": item.text,
            "lang": item.lang,
            "url": item.url,
            "in_reply_to_id": item.in_reply_to_id,
            "conversation_id": item.conversation_id,
            "is_private": item.is_private,
            "visibility": item.visibility,
            "sent_at": item.sent_at,
            "received_at": now,
            "needs_review": False,
        }
        for item in fresh
    ])
    store_reuse_answers(session, network, fresh)
    return len(fresh)


def _requesters(session: Session, network: str, items: list[Incoming]) -> dict[str, int]:
    """The requester id of each author, created if new, with their latest handle (people rename themselves)."""
    handles = {item.author_id: item.author_handle for item in items}  # the latest message's handle wins
    found = {
        external_user_id: (requester_id, handle)
        for external_user_id, requester_id, handle in session.execute(
            select(Requester.external_user_id, Requester.id, Requester.handle)
            .where(Requester.network == network, Requester.external_user_id.in_(handles))
            # An erasure running now finishes first; its tombstone then matches no author id.
            .with_for_update()
        )
    }
    renamed = [{"requester_id": requester_id, "new_handle": handles[author]}
               for author, (requester_id, handle) in found.items() if handle != handles[author]]
    if renamed:
        table = Requester.metadata.tables[Requester.__tablename__]
        session.execute(
            update(table).where(table.c.id == bindparam("requester_id")).values(handle=bindparam("new_handle")),
            renamed,
        )
    ids = {author: requester_id for author, (requester_id, _) in found.items()}
    new = [author for author in handles if author not in found]
    if new:
        created = session.scalars(insert(Requester).returning(Requester.id, sort_by_parameter_order=True), [
            {"network": network, "external_user_id": author, "handle": handles[author], "opted_out": False,
             "consented_public": False, "created_at": utcnow()}
            for author in new
        ]).all()
        ids.update(zip(new, created, strict=True))
    return ids


def _our_posts(session: Session, network: str, items: list[Incoming]) -> dict[str, Post]:
    """Our campaign posts these messages answer (by reply target or thread), by external id."""
    refs = {ref for item in items for ref in (item.in_reply_to_id, item.conversation_id) if ref}
    if not refs:
        return {}
    posts = session.scalars(
        select(Post).where(Post.network == network, Post.external_id.in_(refs), Post.campaign_id.is_not(None))
    )
    return {post.external_id: post for post in posts if post.external_id}


def _is_vote(session: Session, item: Incoming, ours: dict[str, Post], requesters: dict[str, int]) -> bool:
    """A "+N" answer to a survey post is a vote, counted at once, not a message to classify."""
    post = ours.get(item.in_reply_to_id or "")
    if post is None or post.kind != "survey" or not survey.VOTE.match(item.text):
        return False
    survey.record_votes(session, post=post, requester=session.get_one(Requester, requesters[item.author_id]),
                        external_id=item.external_id, text=item.text)
    return True


def _record_failure(sessions: sessionmaker[Session], network: str, exc: Exception) -> None:
    with sessions() as session, session.begin():
        row = session.get_one(NetworkCursor, network, with_for_update=True)
        now = utcnow()
        row.last_poll_at = now
        row.consecutive_failures += 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        pause = pause_after(row.consecutive_failures, exc)
        if pause:
            row.paused_until = now + pause
            log.warning(
                "%s paused until %s after %d failed polls: %s",
                network, row.paused_until.isoformat(timespec="seconds"), row.consecutive_failures, row.last_error,
            )


def pause_after(failures: int, exc: Exception) -> timedelta | None:
    """How long to leave a failing network alone: what it asked for, else a growing, jittered pause."""
    retry_after = exc.retry_after if isinstance(exc, NetworkError) else None
    if retry_after:
        return timedelta(seconds=retry_after)
    if failures < FAILURES_BEFORE_PAUSE:
        return None
    seconds = min(30 * 2 ** (failures - FAILURES_BEFORE_PAUSE), MAX_PAUSE.total_seconds())
    return timedelta(seconds=random.uniform(seconds / 2, seconds))
