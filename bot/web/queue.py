"""The officers' queue: what waits for a decision first, filters, and single or bulk decisions.

One row per message, with its request: the classifier labels messages, and an
officer confirms or corrects that label, while statuses and merges apply to
the message's request.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, or_, select, text
from sqlalchemy.orm import Session, aliased, joinedload
from starlette.datastructures import QueryParams
from starlette.routing import Route

from bot.overdue import OverdueRule, overdue_among, today_utc
from bot.web import decisions, versions
from bot.web.acting import act
from bot.web.pager import Cursor, Page, Part, Window, page_of, read_page, rows_by_id
from bot.web.suggestions import shown_for
from bot.web.support import support_counts
from bot.web.views import Ctx, page_number, parse_id, view
from storage.models import (
    LABELS,
    REQUEST_STATUSES,
    Campaign,
    Message,
    Request,
    User,
    utcnow,
)

PAGE_SIZE = 25
NO_REQUEST = "none"
TODO_TTL = 10.0  # seconds the headline count may lag changes made outside this app (the pipeline)
OPTIONS_TTL = 60.0  # the networks and languages seen so far
# `Message.queue_part` 0-2 wait for a decision (to review, or on a new request); 3 is the rest.
LAST_TODO_PART = 2


@dataclass(frozen=True)
class Filters:
    """The queue's query string. `scope=todo` (the default) keeps what waits for a decision."""

    scope: str = "todo"
    campaign: str = ""
    network: str = ""
    language: str = ""
    label: str = ""
    status: str = ""
    q: str = ""
    assignee: str = ""  # "me", "none" or a user id
    sort: str = ""  # "" is the queue's order; see SORTS
    me: int = 0  # the officer looking, for assignee=me (not from the query string)

    @classmethod
    def from_query(cls, params: QueryParams, *, me: int = 0) -> Filters:
        values = {f.name: str(params.get(f.name, f.default)).strip()[:200] for f in fields(cls) if f.name != "me"}
        if values["scope"] not in ("todo", "all"):
            values["scope"] = "todo"
        if values["sort"] not in SORTS:
            values["sort"] = ""
        if values["assignee"] not in ("me", "none") and parse_id(values["assignee"]) is None:
            values["assignee"] = ""
        return cls(**values, me=me)

    def where(self) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.assignee == "none":
            clauses.append(Request.assignee_id.is_(None))
        elif self.assignee:
            # From the assignee's requests (their index) to their messages, not every message to its request.
            officer = self.me if self.assignee == "me" else parse_id(self.assignee)
            clauses.append(Message.request_id.in_(select(Request.id).where(Request.assignee_id == officer)))
        if self.sort == "unsure":
            clauses.append(Message.needs_review.is_(True))  # "least sure" means something for review messages only
        if self.sort in ("score", "lowest"):
            clauses.append(Message.score.is_not(None))
        if self.scope == "todo":
            clauses.append(Message.queue_part <= LAST_TODO_PART)
        if self.campaign:
            clauses.append(Message.campaign_id.in_(select(Campaign.id).where(Campaign.slug == self.campaign)))
        if self.network:
            clauses.append(Message.network == self.network)
        if self.language:
            clauses.append(Message.lang == self.language)
        if self.label:
            clauses.append(Message.label == self.label)
        if self.status == NO_REQUEST:
            clauses.append(Message.request_id.is_(None))
        elif self.status:
            clauses.append(Request.status == self.status)
        if self.q:
            # LIKE, not a full-text index: portable to SQLite and PostgreSQL, fine at a team's volumes.
            pattern = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append(or_(Message.text.ilike(pattern, escape="\\"), Request.title.ilike(pattern, escape="\\")))
        return clauses

    def reads_requests(self) -> bool:
        """Whether `where()` names a column of the message's request, so a query must join it."""
        return bool(self.q) or self.assignee == "none" or self.status not in ("", NO_REQUEST)


def _message_rows() -> Select:
    """Messages with their request (if any) and requester: the rows every view of the queue shows."""
    return (
        select(Message, Request).outerjoin(Request, Message.request_id == Request.id)
        .options(joinedload(Message.requester))
    )


SORTS = ("", "newest", "support", "score", "lowest", "unsure")
LAST_PART = 3


def sorted_page_rows(db: Session, filters: Filters, page: int) -> tuple[list[tuple[Message, Request | None]], bool]:
    """One page in an order the officer chose (not the queue's), counted from the top; and whether more follow."""
    if filters.sort == "support":
        return _most_supported(db, filters, page)
    if filters.sort == "unsure":
        return _least_sure(db, filters, page)
    if filters.sort in ("score", "lowest"):
        return _by_score(db, filters, page, highest_first=filters.sort == "score")
    # "newest": the primary key walked backwards.
    query = (
        _message_rows().where(*filters.where()).order_by(Message.id.desc())
        .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    )
    rows: list[tuple[Message, Request | None]] = [(message, request) for message, request in db.execute(query)]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def _least_sure(db: Session, filters: Filters, page: int) -> tuple[list[tuple[Message, Request | None]], bool]:
    """The messages to review nearest to 0.5 first, then by id.

    No index holds the distance to 0.5, so the (needs_review, score) index is walked
    twice from 0.5, up and down, and the two runs are merged: a page reads about a page
    from each side instead of sorting every message to review. (A message to review
    always has a score.)
    """
    wanted, scored = page * PAGE_SIZE + 1, _scored(filters)
    up = db.execute(scored.where(Message.score >= 0.5).order_by(Message.score, Message.id).limit(wanted)).all()
    down = db.execute(scored.where(Message.score < 0.5).order_by(Message.score.desc(), Message.id).limit(wanted)).all()
    return _merged_page(db, [up, down], key=lambda row: (abs(row.score - 0.5), row.id), page=page)


def _by_score(
    db: Session, filters: Filters, page: int, *, highest_first: bool,
) -> tuple[list[tuple[Message, Request | None]], bool]:
    """The messages by score, highest or lowest first (the likely off-topic together, for one
    bulk decision, since a strict review band leaves them to officers), then by id.

    One score index would be walked past every message the filters drop: the lowest
    scores are mostly settled off-topic messages, outside the default queue. So each part
    of the queue is walked by its own (queue_part, score, id) index and the runs are
    merged: a page reads about a page from each part.
    """
    wanted, scored = page * PAGE_SIZE + 1, _scored(filters)
    order = (Message.score.desc(), Message.id) if highest_first else (Message.score, Message.id)
    last_part = LAST_TODO_PART if filters.scope == "todo" else LAST_PART
    runs = [
        db.execute(scored.where(Message.queue_part == part).order_by(*order).limit(wanted)).all()
        for part in range(last_part + 1)
    ]
    sign = -1 if highest_first else 1
    return _merged_page(db, runs, key=lambda row: (sign * row.score, row.id), page=page)


def _scored(filters: Filters) -> Select:
    """The (id, score) of the messages the filters keep, for the walks of the score sorts."""
    return select(Message.id, Message.score).outerjoin(Request, Message.request_id == Request.id).where(
        *filters.where())


def _merged_page(
    db: Session, runs: list, *, key: Callable, page: int,
) -> tuple[list[tuple[Message, Request | None]], bool]:
    """Page `page` of the sorted runs merged by `key` (each run read up to one row past that page)."""
    wanted = page * PAGE_SIZE + 1
    ids = [row.id for row in heapq.merge(*runs, key=key)][:wanted]
    return rows_by_id(db, _message_rows(), ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]), len(ids) >= wanted


def _most_supported(db: Session, filters: Filters, page: int) -> tuple[list[tuple[Message, Request | None]], bool]:
    """One line per request (its first message in the filters), the most supported requests first.

    Walks the requests by their stored support (`Request.support`, an index) and takes,
    for each, its first message the filters keep, until the page is full: no request's
    supporters are counted on the fly.
    """
    ranked = aliased(Request)
    first = (
        select(func.min(Message.id)).join(Request, Message.request_id == Request.id)
        .where(Message.request_id == ranked.id, *filters.where()).correlate(ranked).scalar_subquery()
    )
    first_ids = list(db.scalars(
        select(first).select_from(ranked).where(first.is_not(None))
        .order_by(ranked.support.desc(), ranked.id)
        .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    ))
    shown = first_ids[:PAGE_SIZE]
    found = {
        message.id: (message, request) for message, request in db.execute(
            select(Message, Request).join(Request, Message.request_id == Request.id)
            .options(joinedload(Message.requester)).where(Message.id.in_(shown))
        )
    }
    return [found[message_id] for message_id in shown if message_id in found], len(first_ids) > PAGE_SIZE


def queue_page_rows(db: Session, filters: Filters, window: Window) -> Page:
    """One page, uncertain messages first, then new requests, oldest first; and the cursors of its links.

    The order is each message's stored part (`Message.queue_part`), then its id: the
    queue is read as its parts in that order (`_parts`), each a walk of the
    (queue_part, id) index, and `read_page` takes the page across them.
    """
    rows = _message_rows().where(*replace(filters, scope="all").where())
    if filters.assignee not in ("", "none"):
        # One officer's requests are few: sort the ids of their messages in one ORDER BY (from the assignee
        # index, read from indexes alone) rather than walk every message in id order looking for theirs;
        # then read the page's rows. The links carry cursors as everywhere else; this reading ignores them.
        officer = filters.me if filters.assignee == "me" else parse_id(filters.assignee)
        their_ids = list(db.scalars(
            select(Message.id).join(Request, Message.request_id == Request.id)
            .where(Request.assignee_id == officer, *replace(filters, assignee="").where())
            # `+ 0`: no index serves this order, or PostgreSQL walks every message in order looking for theirs.
            .order_by(Message.queue_part + 0, Message.id).limit(PAGE_SIZE + 1).offset((window.page - 1) * PAGE_SIZE)
        ))
        shown = rows_by_id(db, rows, their_ids[:PAGE_SIZE])
        return page_of([(_position(row[0]), row) for row in shown], more=len(their_ids) > PAGE_SIZE,
                       number=window.page)
    ids = select(Message.id)
    if filters.reads_requests():
        # Only then: with a join it does not need, PostgreSQL sorts a part's ids rather than walk its index.
        ids = ids.outerjoin(Request, Message.request_id == Request.id)
    ids = ids.where(*replace(filters, scope="all").where())
    return read_page(db, _parts(filters), window, PAGE_SIZE, rows=rows, ids=ids)


def _parts(filters: Filters) -> list[Part]:
    """The queue's order as parts, one after another: each a value of `Message.queue_part`, walked by id.

    To review on a new request, to review, on a new request, then (all) the rest; the
    database keeps each message's part (migration 0014_queue_part), so every part, and a
    page number typed by hand, is a walk of one index.
    """
    last = LAST_TODO_PART if filters.scope == "todo" else LAST_TODO_PART + 1
    return [Part((Message.queue_part == part,)) for part in range(last + 1)]


def _position(message: Message) -> Cursor:
    """Where a row sits in the queue's order, for rows not read by parts."""
    return Cursor(message.queue_part or 0, message.id)


def parse_cursor(value: str | None, scope: str) -> Cursor | None:
    """The cursor an `after=` or `before=` names in the queue of this scope, or None."""
    return Cursor.parse(value, len(_parts(Filters(scope=scope))))


def todo_count(db: Session) -> int:
    """What waits for a decision (needs review, or a new request): the headline of the queue, from one index."""
    return db.scalar(select(func.count()).select_from(Message).where(Message.queue_part <= LAST_TODO_PART)) or 0


def _distinct(db: Session, column: str) -> list[str]:
    """The distinct non-null values of an indexed messages column, one index probe each (a loose index scan)."""
    return list(db.scalars(text(
        f"WITH RECURSIVE found(value) AS ("
        f" SELECT min({column}) FROM messages"
        f" UNION ALL"
        f" SELECT (SELECT min({column}) FROM messages WHERE {column} > found.value)"
        f" FROM found WHERE found.value IS NOT NULL)"
        f" SELECT value FROM found WHERE value IS NOT NULL ORDER BY value"
    )))


def filter_options(db: Session) -> dict[str, list[str]]:
    return {
        "campaign": list(db.scalars(select(Campaign.slug).order_by(Campaign.created_at.desc()))),
        "network": _distinct(db, "network"),
        "language": _distinct(db, "lang"),
        "label": list(LABELS),
        "status": [*REQUEST_STATUSES, NO_REQUEST],
    }


@view(login=True)
def queue_page(ctx: Ctx):
    filters = Filters.from_query(ctx.request.query_params, me=ctx.signed_in.id)
    page = page_number(ctx)
    params = ctx.request.query_params
    if filters.sort:
        rows, has_next = sorted_page_rows(ctx.db, filters, page)
    else:
        window = Window(page, after=parse_cursor(params.get("after"), filters.scope),
                        before=parse_cursor(params.get("before"), filters.scope) if page > 1 else None)
        shown = queue_page_rows(ctx.db, filters, window)
        rows, has_next = shown.rows, shown.next is not None
        if shown.next is not None:
            ctx.next_page = {"page": page + 1, "after": str(shown.next)}
        if shown.previous is not None:
            ctx.prev_page = {"page": page - 1, "before": str(shown.previous)}
    requests = [request for _, request in rows if request is not None]
    todo = ctx.cache.get("queue.todo", TODO_TTL, lambda: todo_count(ctx.db))
    campaigns = dict(ctx.db.execute(select(Campaign.id, Campaign.slug)).all())
    options = ctx.cache.get("queue.options", OPTIONS_TTL, lambda: filter_options(ctx.db))
    return ctx.render(
        "queue.html", rows=rows, filters=filters, options=options, page=page,
        has_next=has_next, todo=todo, campaigns=campaigns, statuses=REQUEST_STATUSES,
        here=ctx.url_with(), sorts=SORTS, age=lambda moment: age(ctx, moment),
        support=support_counts(requests),
        overdue=overdue_among(ctx.db, OverdueRule.from_config(ctx.runtime.config),
                              {request.id for request in requests}, today=today_utc()),
        tokens=versions.tokens(ctx.db, requests),
        suggestions=shown_for(ctx.db, [request.id for request in requests]),
        assignees=ctx.cache.get("queue.assignees", OPTIONS_TTL,
                                lambda: dict(ctx.db.execute(select(User.id, User.name)).all())),
    )


@view(write=True)
def confirm(ctx: Ctx):
    message_id = ctx.request.path_params["message_id"]

    def work():
        request = decisions.confirm_request(ctx.db, message_id, officer=ctx.user.name, writer=ctx.writer)
        return ctx.t("done.confirmed", id=message_id, request=request.id)

    return act(ctx, work)


@view(write=True)
def off_topic(ctx: Ctx):
    message_id = ctx.request.path_params["message_id"]

    def work():
        outcome = decisions.mark_off_topic(ctx.db, message_id, officer=ctx.user.name, writer=ctx.writer)
        return ctx.t("done.off_topic", id=message_id) + " " + ctx.t(f"done.off_topic_{outcome}")

    return act(ctx, work)


def age(ctx: Ctx, moment: datetime | None) -> str:
    """How long a message has waited, short: "40 min", "5 h", "3 days"."""
    if moment is None:
        return ""
    minutes = max(int((utcnow() - moment).total_seconds() // 60), 0)
    if minutes < 60:
        return ctx.t("age.min", n=minutes)
    if minutes < 48 * 60:
        return ctx.t("age.hours", n=minutes // 60)
    return ctx.t("age.days", n=minutes // (24 * 60))


routes = [
    Route("/queue", queue_page, methods=["GET"]),
    Route("/queue/messages/{message_id:int}/confirm", confirm, methods=["POST"]),
    Route("/queue/messages/{message_id:int}/off-topic", off_topic, methods=["POST"]),
]
