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

from sqlalchemy import ColumnElement, case, func, or_, select, text
from sqlalchemy.orm import Session, aliased, joinedload
from starlette.datastructures import QueryParams
from starlette.routing import Route

from bot.overdue import OverdueRule, overdue_among, today_utc
from bot.web import decisions, versions
from bot.web.acting import act
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
        if self.sort == "score":
            clauses.append(Message.score.is_not(None))
        if self.scope == "todo":
            clauses.append(or_(Message.needs_review.is_(True), Request.status == "received"))
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


def _sorts() -> dict[str, Callable[[], tuple]]:
    return {
        "newest": lambda: (Message.id.desc(),),
        # Plain DESC (NULLs have no score and are filtered out): both databases walk the score index backwards.
        "score": lambda: (Message.score.desc(), Message.id),
        "unsure": lambda: (func.abs(Message.score - 0.5), Message.id),  # see _least_sure, which reads it faster
    }


SORTS = ("", "newest", "support", "score", "unsure")


def sorted_page_rows(db: Session, filters: Filters, page: int) -> tuple[list[tuple[Message, Request | None]], bool]:
    """One page in an order the officer chose (not the queue's), counted from the top; and whether more follow."""
    if filters.sort == "support":
        return _most_supported(db, filters, page)
    if filters.sort == "unsure":
        return _least_sure(db, filters, page)
    query = (
        select(Message, Request)
        .outerjoin(Request, Message.request_id == Request.id)
        .options(joinedload(Message.requester))
        .where(*filters.where())
        .order_by(*_sorts()[filters.sort]())
        .limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
    )
    rows: list[tuple[Message, Request | None]] = [(message, request) for message, request in db.execute(query)]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def _least_sure(db: Session, filters: Filters, page: int) -> tuple[list[tuple[Message, Request | None]], bool]:
    """The messages to review nearest to 0.5 first (then by id), the order of `_sorts()["unsure"]`.

    No index holds the distance to 0.5, so the (needs_review, score) index is walked
    twice from 0.5, up and down, and the two runs are merged: a page reads about a page
    from each side instead of sorting every message to review. (A message to review
    always has a score.)
    """
    wanted = page * PAGE_SIZE + 1
    scored = (
        select(Message.id, Message.score).outerjoin(Request, Message.request_id == Request.id).where(*filters.where())
    )
    up = db.execute(scored.where(Message.score >= 0.5).order_by(Message.score, Message.id).limit(wanted)).all()
    down = db.execute(scored.where(Message.score < 0.5).order_by(Message.score.desc(), Message.id).limit(wanted)).all()
    ids = [row.id for row in heapq.merge(up, down, key=lambda row: (abs(row.score - 0.5), row.id))]
    base = (
        select(Message, Request).outerjoin(Request, Message.request_id == Request.id)
        .options(joinedload(Message.requester))
    )
    return _rows_by_id(db, base, ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]), len(ids) >= wanted


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


def queue_page_rows(
    db: Session, filters: Filters, page: int, after: tuple[int, int] | None = None,
    before: tuple[int, int] | None = None,
) -> tuple[list[tuple[Message, Request | None]], bool]:
    """One page, uncertain messages first, then new requests, oldest first; and whether more follow.

    The order has three keys, two of them on different tables, so no index can
    serve it whole: the queue is read as its parts in that order (`_parts`),
    each a walk of an index by message id, and the page is taken across them.
    `after` (a part and a message id, see `cursor`) starts the page right after
    that row, and `before` ends it right before that row, instead of counting
    `page - 1` pages from the top: the links to the next and previous pages
    carry them, so a deep page costs no more than the first.
    """
    base = (
        select(Message, Request)
        .outerjoin(Request, Message.request_id == Request.id)
        .options(joinedload(Message.requester))
        .where(*replace(filters, scope="all").where())
    )
    if filters.assignee not in ("", "none"):
        # One officer's requests are few: sort the ids of their messages in one ORDER BY (from the assignee
        # index, read from indexes alone) rather than walk every message in id order looking for theirs;
        # then read the page's rows.
        officer = filters.me if filters.assignee == "me" else parse_id(filters.assignee)
        ids = list(db.scalars(
            select(Message.id).join(Request, Message.request_id == Request.id)
            .where(Request.assignee_id == officer, *replace(filters, assignee="").where())
            .order_by(*_queue_order()).limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)
        ))
        return _rows_by_id(db, base, ids[:PAGE_SIZE]), len(ids) > PAGE_SIZE
    parts = _parts(filters.scope)
    if before is not None:
        rows = _walk_back(db, base, parts, before, PAGE_SIZE)
        if len(rows) == PAGE_SIZE:
            rows.reverse()
            return rows, bool(_walk(db, base, filters, parts, _position(*rows[-1]), 0, 1))
        # Fewer rows above than a page (the queue changed since): count from the top instead.
    offset = 0 if after is not None else (page - 1) * PAGE_SIZE
    rows = _walk(db, base, filters, parts, after, offset, PAGE_SIZE + 1)
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def _rows_by_id(db: Session, base, ids: list[int]) -> list[tuple[Message, Request | None]]:
    """The rows of these message ids, in that order."""
    found = {message.id: (message, request) for message, request in db.execute(base.where(Message.id.in_(ids)))}
    return [found[message_id] for message_id in ids if message_id in found]


def _walk(db: Session, base, filters: Filters, parts: list[tuple], after: tuple[int, int] | None, offset: int,
          wanted: int) -> list[tuple[Message, Request | None]]:
    """`wanted` rows in the queue's order, after the row `after` (or the top) and `offset` rows more."""
    rows: list[tuple[Message, Request | None]] = []
    for index, part in enumerate(parts):
        if wanted <= 0:
            break
        if after is not None and index < after[0]:
            continue
        if after is not None and index == after[0]:
            part = (*part, Message.id > after[1])
        part_ids = (
            select(Message.id).outerjoin(Request, Message.request_id == Request.id)
            .where(*replace(filters, scope="all").where(), *part)
        )
        if not offset:
            query = base.where(*part).order_by(Message.id)
            found = [(message, request) for message, request in db.execute(query.limit(wanted))]
        else:  # a typed deep page: ids first (the longest part from the new requests' side), then their rows
            ids = _settled_new_ids(filters) if index == SETTLED_NEW else part_ids.order_by(Message.id)
            found = _rows_by_id(db, base, list(db.scalars(ids.limit(wanted).offset(offset))))
            if found:
                offset = 0
            else:  # this whole part lies before the page: skip its rows
                offset -= db.scalar(select(func.count()).select_from(part_ids.limit(offset).subquery())) or 0
        rows.extend(found)
        wanted -= len(found)
    return rows


def _settled_new_ids(filters: Filters):
    """The ids of the new requests' messages not to review (`SETTLED_NEW`), in id order, from the requests' side.

    Skipping `offset` rows of a walk of every message in id order costs ~1 s at a million
    messages; the new requests' messages are a tenth of them, read from the index by
    request (to review or not, and id) and sorted. Written so that no index serves the
    message filter or the order (`coalesce(needs_review)`, `-id DESC`): SQLite, without
    planner statistics, would otherwise still walk every message by id.
    """
    return (
        select(Message.id).join(Request, Message.request_id == Request.id)
        .where(*replace(filters, scope="all").where(), func.coalesce(Message.needs_review, False).is_(False),
               Request.status == "received")
        .order_by((-Message.id).desc())
    )


def _walk_back(db: Session, base, parts: list[tuple], before: tuple[int, int],
               wanted: int) -> list[tuple[Message, Request | None]]:
    """Up to `wanted` rows right before the row `before`, nearest first."""
    rows: list[tuple[Message, Request | None]] = []
    for index in range(before[0], -1, -1):
        part = parts[index]
        if index == before[0]:
            part = (*part, Message.id < before[1])
        query = base.where(*part).order_by(Message.id.desc()).limit(wanted - len(rows))
        rows.extend((message, request) for message, request in db.execute(query))
        if len(rows) >= wanted:
            break
    return rows


def _position(message: Message, request: Request | None) -> tuple[int, int]:
    """Where a row sits in the queue's order: its part (see `_parts`) and its id."""
    part = (0 if message.needs_review else 2) + (0 if request is not None and request.status == "received" else 1)
    return part, message.id


def cursor(message: Message, request: Request | None) -> str:
    """A row's place in the queue's order, as `after=` and `before=` say it: part.id."""
    part, message_id = _position(message, request)
    return f"{part}.{message_id}"


def parse_cursor(value: str | None, scope: str) -> tuple[int, int] | None:
    part, _, message_id = (value or "").partition(".")
    part_number, message_number = parse_id(part), parse_id(message_id)
    if part_number is not None and message_number is not None and part_number < len(_parts(scope)):
        return part_number, message_number
    return None


def _queue_order() -> tuple:
    """The queue's order as one ORDER BY: needs review, then new requests, then message id."""
    return (case((Message.needs_review.is_(True), 0), else_=1),
            case((Request.status == "received", 0), else_=1), Message.id)


SETTLED_NEW = 2  # the part of `_parts` with the new requests' messages not to review: the longest


def _parts(scope: str) -> list[tuple]:
    """The queue's order (needs review first, then new requests, then message id) as parts, one after another."""
    review, settled = Message.needs_review.is_(True), Message.needs_review.is_(False)
    new, other = Request.status == "received", or_(Request.id.is_(None), Request.status != "received")
    parts = [(review, new), (review, other), (settled, new)]
    if scope != "todo":
        parts.append((settled, other))
    return parts


def todo_count(db: Session) -> int:
    """What waits for a decision (needs review, or a new request): the headline of the queue.

    Counted as its two disjoint parts, each from an index: the messages to review,
    and the other messages of new requests (from the requests' status).
    """
    review = db.scalar(select(func.count()).select_from(Message).where(Message.needs_review.is_(True)))
    new = db.scalar(select(func.count()).select_from(Message).where(
        Message.needs_review.is_(False),
        Message.request_id.in_(select(Request.id).where(Request.status == "received")),
    ))
    return (review or 0) + (new or 0)


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
        rows, has_next = queue_page_rows(
            ctx.db, filters, page, parse_cursor(params.get("after"), filters.scope),
            parse_cursor(params.get("before"), filters.scope) if page > 1 else None,
        )
        if has_next:
            ctx.next_page = {"page": page + 1, "after": cursor(*rows[-1])}
        if page > 2 and rows:  # page 1 needs no cursor: it is the top
            ctx.prev_page = {"page": page - 1, "before": cursor(*rows[0])}
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
