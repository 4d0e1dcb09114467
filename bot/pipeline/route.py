"""Route: a classified data request becomes a Request with an acknowledgement queued.

Commands (/start, /status, /stop) are answered instead; off-topic messages are
only marked routed: stored, no request, no reply.

Routing works a batch at a time. The batch is read and planned first: titles,
languages and acknowledgement texts, with the ids its requests and events will
get. The write transaction then claims the batch and inserts its requests,
`received` events and replies in a handful of statements, whatever the batch
size. On SQLite that transaction holds the database's only write lock, so the
plan is made before it, from a snapshot, and checked under the lock (planned
again only if another writer changed the same rows meanwhile). On PostgreSQL
the batch's rows are locked from the read on (SKIP LOCKED), so concurrent
workers plan different batches; there the plan is made inside the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import cast

from sqlalchemy import CursorResult, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from bot.pipeline.commands import command_of, handle_command
from bot.pipeline.replies import ReplyWriter
from bot.redact import title_from
from storage.database import reading
from storage.models import Message, Reply, Request, Requester, StatusEvent, utcnow

SYSTEM_ACTOR = "datacall"


@dataclass(frozen=True)
class RouteRow:
    """What routing reads of a message and its requester."""

    id: int
    text: str
    lang: str | None
    label: str | None
    needs_review: bool
    campaign_id: int | None
    requester_id: int
    network: str
    handle: str | None
    requester_lang: str | None
    opted_out: bool

    @property
    def opens_request(self) -> bool:
        return not self.needs_review and self.label == "data_request"


@dataclass
class RoutePlan:
    """The rows one batch writes, built before the write transaction."""

    message_ids: list[int]
    languages: dict[int, str] = field(default_factory=dict)  # requester id -> their latest language
    requests: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)  # message -> its new request
    events: list[dict] = field(default_factory=list)
    replies: list[dict] = field(default_factory=list)
    # Messages of requesters who sent a command in this batch: routed one by one, in order, after the
    # rest, so that a /stop or /start between two of their messages has exactly its usual effect.
    one_by_one: list[int] = field(default_factory=list)


def route_classified(sessions: sessionmaker[Session], *, writer: ReplyWriter, batch_size: int = 200) -> int:
    """Turn classified messages into requests, one committed batch at a time; returns how many requests."""
    created = 0
    route_batch = _route_batch_sqlite if _dialect(sessions) == "sqlite" else _route_batch_locked
    while (batch_created := route_batch(sessions, writer, batch_size)) is not None:
        created += batch_created
    return created


def _route_batch_sqlite(sessions: sessionmaker[Session], writer: ReplyWriter, batch_size: int) -> int | None:
    with reading(sessions) as session:
        rows = load_rows(session, limit=batch_size)
        if not rows:
            return None
        next_ids = _next_ids(session)
    plan = plan_batch(rows, count(next_ids[0]), count(next_ids[1]), writer=writer, now=utcnow())
    with sessions() as session, session.begin():
        # Under the write lock: the same rows, still unrouted, and the same next ids, or plan again.
        fresh = load_rows(session, ids=[row.id for row in rows])
        fresh_ids = _next_ids(session)
        if fresh != rows or fresh_ids != next_ids:
            plan = plan_batch(fresh, count(fresh_ids[0]), count(fresh_ids[1]), writer=writer, now=utcnow())
        return write_batch(session, plan, writer=writer)


def _route_batch_locked(sessions: sessionmaker[Session], writer: ReplyWriter, batch_size: int) -> int | None:
    with sessions() as session, session.begin():
        rows = load_rows(session, limit=batch_size, lock=True)
        if not rows:
            return None
        opening = sum(1 for row in rows if row.opens_request)
        request_ids = _reserve_ids(session, "requests", opening)
        event_ids = _reserve_ids(session, "status_events", opening)
        plan = plan_batch(rows, iter(request_ids), iter(event_ids), writer=writer, now=utcnow())
        return write_batch(session, plan, writer=writer)


def load_rows(
    session: Session, *, limit: int | None = None, ids: Sequence[int] | None = None, lock: bool = False
) -> list[RouteRow]:
    """Classified, unrouted messages in id order: the next `limit`, or those of `ids` still waiting."""
    query = (
        select(
            Message.id, Message.text, Message.lang, Message.label, Message.needs_review, Message.campaign_id,
            Message.requester_id, Requester.network, Requester.handle, Requester.lang.label("requester_lang"),
            Requester.opted_out,
        )
        .join(Requester, Requester.id == Message.requester_id)
        .where(Message.classified_at.is_not(None), Message.routed_at.is_(None))
        .order_by(Message.id)
    )
    if ids is not None:
        query = query.where(Message.id.in_(ids))
    if limit is not None:
        query = query.limit(limit)
    if lock:
        # PostgreSQL: concurrent workers take different batches (messages only; requesters stay free).
        query = query.with_for_update(skip_locked=True, of=Message)
    return [RouteRow(**row._asdict()) for row in session.execute(query)]


def plan_batch(
    rows: Sequence[RouteRow], request_ids: Iterator[int], event_ids: Iterator[int], *,
    writer: ReplyWriter, now: datetime,
) -> RoutePlan:
    """Titles, languages and acknowledgement texts of a batch, with the ids its rows will take."""
    plan = RoutePlan(message_ids=[row.id for row in rows])
    commanding = {row.requester_id for row in rows if command_of(row.text)}
    languages: dict[int, str | None] = {}
    for row in rows:
        if row.requester_id in commanding:
            plan.one_by_one.append(row.id)
            continue
        if row.lang:  # a requester's language is that of their latest message
            languages[row.requester_id] = plan.languages[row.requester_id] = row.lang
        if not row.opens_request:
            continue  # off topic, or uncertain: an officer decides in the queue, nothing is sent before
        request_id, event_id = next(request_ids), next(event_ids)
        title = title_from(row.text)
        plan.requests.append({
            "id": request_id, "title": title, "status": "received", "campaign_id": row.campaign_id,
            "title_message_id": row.id, "not_a_request": False, "created_at": now, "updated_at": now,
            # What storage.support would store for a request of one message (this bulk insert skips its hook).
            "support": 1, "networks": row.network,
        })
        plan.links.append({"message_id": row.id, "new_request_id": request_id})
        plan.events.append({
            "id": event_id, "request_id": request_id, "status": "received", "actor": SYSTEM_ACTOR, "created_at": now,
        })
        if row.opted_out or row.network not in writer.networks:
            continue  # opted out, or a network no longer enabled: nobody to tell there
        lang = writer.language_of(languages.get(row.requester_id, row.requester_lang))
        # The draft title is this requester's own words: they may read it back.
        reply_text = writer.status_text(
            "received", lang, network=row.network, handle=row.handle, request_id=request_id, title=title
        )
        plan.replies.append({
            "status_event_id": event_id, "requester_id": row.requester_id, "message_id": row.id,
            "network": row.network, "idempotency_key": f"datacall-{event_id}-{row.requester_id}", "lang": lang,
            "text": reply_text, "state": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
        })
    return plan


def write_batch(session: Session, plan: RoutePlan, *, writer: ReplyWriter) -> int:
    """Claim the batch and write its rows; returns how many requests it opened."""
    messages = _table(Message)  # Core executemany: one statement per kind of row, not one per message
    claimed = cast(CursorResult, session.execute(
        update(messages)
        .where(messages.c.id.in_(plan.message_ids), messages.c.routed_at.is_(None))
        .values(routed_at=utcnow())
    )).rowcount
    if claimed != len(plan.message_ids):
        # Never expected: the rows were read unrouted under this lock (SQLite) or locked (PostgreSQL).
        raise RuntimeError(f"routing claimed {claimed} of {len(plan.message_ids)} messages; batch rolled back")
    if plan.languages:
        requesters = _table(Requester)
        session.execute(
            update(requesters).where(requesters.c.id == bindparam("requester_id")).values(lang=bindparam("lang")),
            [{"requester_id": rid, "lang": lang} for rid, lang in plan.languages.items()],
        )
    if plan.requests:
        session.execute(insert(_table(Request)), plan.requests)
        session.execute(
            update(messages).where(messages.c.id == bindparam("message_id"))
            .values(request_id=bindparam("new_request_id")),
            plan.links,
        )
        session.execute(insert(_table(StatusEvent)), plan.events)
    if plan.replies:
        session.execute(insert(_table(Reply)), plan.replies)
    return len(plan.requests) + _route_one_by_one(session, plan.one_by_one, writer=writer)


def _route_one_by_one(session: Session, message_ids: Iterable[int], *, writer: ReplyWriter) -> int:
    """Route already-claimed messages one at a time, in order (requesters who sent a command)."""
    created = 0
    for message_id in message_ids:
        message = session.get_one(Message, message_id)
        if message.lang:
            message.requester.lang = message.lang
        command = command_of(message.text)
        if command:
            handle_command(session, message, command, writer=writer)
        elif message.needs_review:
            continue
        elif message.label == "data_request":
            open_request(session, message, writer=writer)
            created += 1
    return created


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


def _table(model) -> Table:
    return cast(Table, model.__table__)


def _dialect(sessions: sessionmaker[Session]) -> str:
    return sessions.kw["bind"].dialect.name


def _next_ids(session: Session) -> tuple[int, int]:
    """The ids SQLite gives the next request and status event (max + 1; writers are serialised)."""
    request_id = session.scalar(select(func.max(Request.id))) or 0
    event_id = session.scalar(select(func.max(StatusEvent.id))) or 0
    return request_id + 1, event_id + 1


def _reserve_ids(session: Session, table: str, how_many: int) -> list[int]:
    """`how_many` ids from the table's PostgreSQL sequence, ours whatever other workers do."""
    if not how_many:
        return []
    return sorted(session.scalars(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
        {"table": table, "n": how_many},
    ))

