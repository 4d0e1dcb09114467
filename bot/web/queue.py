"""The officers' queue: what waits for a decision first, filters, and single or bulk decisions.

One row per message, with its request: the classifier labels messages, and an
officer confirms or corrects that label, while statuses and merges apply to
the message's request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, joinedload
from starlette.datastructures import QueryParams
from starlette.routing import Route

from bot.web import decisions
from bot.web.decisions import DecisionError
from bot.web.views import Ctx, local_next, page_number, view
from storage.models import LABELS, REQUEST_STATUSES, Campaign, Message, Reply, Request

PAGE_SIZE = 25
NO_REQUEST = "none"


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

    @classmethod
    def from_query(cls, params: QueryParams) -> Filters:
        values = {f.name: params.get(f.name, f.default).strip()[:200] for f in fields(cls)}
        if values["scope"] not in ("todo", "all"):
            values["scope"] = "todo"
        return cls(**values)

    def where(self) -> list:
        clauses = []
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


def queue_page_rows(db: Session, filters: Filters, page: int) -> tuple[list[tuple[Message, Request | None]], bool]:
    """One page, uncertain messages first, then new requests, oldest first; and whether more follow."""
    query = (
        select(Message, Request)
        .outerjoin(Request, Message.request_id == Request.id)
        .options(joinedload(Message.requester))
        .where(*filters.where())
        .order_by(
            case((Message.needs_review.is_(True), 0), else_=1),
            case((Request.status == "received", 0), else_=1),
            Message.id,
        )
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    )
    rows = [(message, request) for message, request in db.execute(query)]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def filter_options(db: Session) -> dict[str, list[str]]:
    return {
        "campaign": list(db.scalars(select(Campaign.slug).order_by(Campaign.created_at.desc()))),
        "network": list(db.scalars(select(Message.network).distinct().order_by(Message.network))),
        "language": list(db.scalars(
            select(Message.lang).distinct().where(Message.lang.is_not(None)).order_by(Message.lang)
        )),
        "label": list(LABELS),
        "status": [*REQUEST_STATUSES, NO_REQUEST],
    }


@view(login=True)
def queue_page(ctx: Ctx):
    filters = Filters.from_query(ctx.request.query_params)
    page = page_number(ctx)
    rows, has_next = queue_page_rows(ctx.db, filters, page)
    todo = ctx.db.scalar(
        select(func.count()).select_from(Message).outerjoin(Request, Message.request_id == Request.id)
        .where(*Filters().where())
    )
    campaigns = dict(ctx.db.execute(select(Campaign.id, Campaign.slug)).all())
    return ctx.render(
        "queue.html", rows=rows, filters=filters, options=filter_options(ctx.db), page=page,
        has_next=has_next, todo=todo, campaigns=campaigns, statuses=REQUEST_STATUSES,
        here=ctx.url_with(),
    )


def act(ctx: Ctx, work: Callable[[], str], default_next: str = "/queue"):
    """Run one decision as one transaction; a refusal is rolled back and shown to the officer."""
    try:
        done = work()
        ctx.db.commit()
        ctx.flash(done)
    except DecisionError as exc:
        ctx.db.rollback()
        ctx.flash(ctx.t(exc.key, **exc.values), "error")
    return ctx.redirect(local_next(ctx.field("next"), default_next))


def queued_replies(db: Session, event_id: int) -> int:
    return db.scalar(select(func.count()).where(Reply.status_event_id == event_id))


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


@view(write=True)
def bulk(ctx: Ctx):
    """The same decision on every selected message (or on their requests), all or nothing."""
    ids = sorted({int(value) for value in ctx.form.getlist("ids") if str(value).isdigit()})
    action, officer = ctx.field("action"), ctx.user.name

    def work():
        if not ids:
            raise DecisionError("error.nothing_selected")
        if action == "confirm":
            for message_id in ids:
                decisions.confirm_request(ctx.db, message_id, officer=officer, writer=ctx.writer)
            return ctx.t("done.bulk_confirmed", n=len(ids))
        if action == "off_topic":
            for message_id in ids:
                decisions.mark_off_topic(ctx.db, message_id, officer=officer, writer=ctx.writer)
            return ctx.t("done.bulk_off_topic", n=len(ids))
        request_ids = list(dict.fromkeys(
            ctx.db.scalars(select(Message.request_id).where(Message.id.in_(ids), Message.request_id.is_not(None)))
        ))
        if not request_ids:
            raise DecisionError("error.no_request_selected")
        if action == "merge":
            target = _int(ctx.field("target"))
            for request_id in request_ids:
                if request_id != target:
                    decisions.change_status(ctx.db, request_id, "duplicate", officer=officer,
                                            writer=ctx.writer, duplicate_of=target)
            return ctx.t("done.bulk_merged", n=len([r for r in request_ids if r != target]), target=target)
        if action == "status":
            status = ctx.field("status")
            for request_id in request_ids:
                decisions.change_status(ctx.db, request_id, status, officer=officer, writer=ctx.writer,
                                        answer=ctx.field("answer"), url=ctx.field("url"))
            return ctx.t("done.bulk_status", n=len(request_ids), status=ctx.t(f"status.{status}"))
        raise DecisionError("error.unknown_action")

    return act(ctx, work)


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


routes = [
    Route("/queue", queue_page, methods=["GET"]),
    Route("/queue/messages/{message_id:int}/confirm", confirm, methods=["POST"]),
    Route("/queue/messages/{message_id:int}/off-topic", off_topic, methods=["POST"]),
    Route("/queue/bulk", bulk, methods=["POST"]),
]
