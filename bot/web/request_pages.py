"""One request for officers: its title, every supporting message, its history and its replies.

Setting a status is two steps without JavaScript: "Preview" (a GET) shows the
exact French and English replies from the templates file, then "Set status"
(a POST) records the event and queues them.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from starlette.routing import Route

from bot.overdue import OverdueRule, today_utc
from bot.pipeline.follow_up import reuse_feedback_of
from bot.web import decisions, versions
from bot.web.acting import act, queued_replies
from bot.web.bulk import confirmed_reopen
from bot.web.preview import reply_preview
from bot.web.suggestions import shown_for
from bot.web.views import Ctx, parse_id, view
from storage.models import REQUEST_STATUSES, Message, Reply, Request, StatusEvent, User
from storage.notes import NoteError, add_note, notes_for
from storage.public_titles import public_titles


def _page(ctx: Ctx) -> str:
    return f"/queue/requests/{ctx.request.path_params['request_id']}"


@view(login=True)
def request_page(ctx: Ctx):
    request = ctx.db.get(Request, ctx.request.path_params["request_id"])
    if request is None:
        return ctx.error(404, "error.not_found")
    messages = ctx.db.scalars(
        select(Message).where(Message.request_id == request.id).options(joinedload(Message.requester))
        .order_by(Message.id)
    ).all()
    merged = ctx.db.scalars(select(Request).where(Request.duplicate_of_id == request.id).order_by(Request.id)).all()
    # The replies of merged requests too: their supporters are this request's supporters now.
    rule = OverdueRule.from_config(ctx.runtime.config)
    replies = ctx.db.scalars(
        select(Reply).join(StatusEvent).where(StatusEvent.request_id.in_([request.id, *(m.id for m in merged)]))
        .options(joinedload(Reply.requester), joinedload(Reply.status_event)).order_by(Reply.id)
    ).all()
    return ctx.render(
        "request.html", request=request, messages=messages, replies=replies, merged=merged,
        public_title=public_titles(ctx.db, [request], lang=ctx.lang)[request.id],
        statuses=REQUEST_STATUSES, preview=_preview(ctx, request), here=_page(ctx),
        overdue=rule.reason(request, today_utc()), overdue_days=rule.working_days,
        feedback=reuse_feedback_of(ctx.db, request_id=request.id),
        version=versions.tokens(ctx.db, [request])[request.id], notes=notes_for(ctx.db, request_id=request.id),
        officers=officers(ctx), suggestions=shown_for(ctx.db, [request.id]).get(request.id, []),
    )


def officers(ctx: Ctx) -> list[tuple[int, str]]:
    """Who a request can be assigned to: the accounts that may decide."""
    return list(ctx.db.execute(select(User.id, User.name).where(User.role.in_(("admin", "officer")))
                               .order_by(User.name)).all())


def unchanged(ctx: Ctx, request_id: int) -> None:
    """The request is still what the officer saw (the form's `version`), or DecisionError says what changed."""
    versions.check_unchanged(ctx.db, request_id, ctx.field("version"), lang=ctx.lang)


def _preview(ctx: Ctx, request: Request) -> dict | None:
    """The replies a status change would queue, from the preview form's query string."""
    params = ctx.request.query_params
    status = params.get("status", "")
    if status not in REQUEST_STATUSES:
        return None
    answer = params.get("answer", request.answer if status == request.status else "") or ""
    url = params.get("url", request.url if status == request.status else "") or ""
    return reply_preview(ctx, request, status, answer=answer, url=url, target=params.get("of", ""),
                         expected=params.get("expected", "")[:10])


@view(write=True)
def change_status(ctx: Ctx):
    request_id = ctx.request.path_params["request_id"]

    def work():
        unchanged(ctx, request_id)
        status = ctx.field("status")
        target = ctx.field("of")
        event = decisions.change_status(
            ctx.db, request_id, status, officer=ctx.user.name, writer=ctx.writer,
            answer=ctx.field("answer"), url=ctx.field("url"),
            duplicate_of=parse_id(target), reopen=confirmed_reopen(ctx), expected=ctx.field("expected"),
        )
        return ctx.t("done.status", id=request_id, status=ctx.t(f"status.{status}"),
                     n=queued_replies(ctx.db, event.id))

    return act(ctx, work, _page(ctx))


@view(write=True)
def merge(ctx: Ctx):
    request_id = ctx.request.path_params["request_id"]
    target = parse_id(ctx.field("target"))

    def work():
        if target is None:
            raise decisions.DecisionError("error.needs_target", id=request_id)
        unchanged(ctx, request_id)
        event = decisions.change_status(
            ctx.db, request_id, "duplicate", officer=ctx.user.name, writer=ctx.writer, duplicate_of=target
        )
        return ctx.t("done.merged", id=request_id, target=target, n=queued_replies(ctx.db, event.id))

    return act(ctx, work, _page(ctx))


@view(write=True)
def rename(ctx: Ctx):
    request_id = ctx.request.path_params["request_id"]

    def work():
        unchanged(ctx, request_id)
        request = decisions.rename(ctx.db, request_id, ctx.field("title"))
        if request.public_title is None:
            return ctx.t("done.title_cleared", id=request_id)
        return ctx.t("done.renamed", id=request_id, title=request.public_title)

    return act(ctx, work, _page(ctx))


@view(write=True)
def retry(ctx: Ctx):
    request_id, reply_id = ctx.request.path_params["request_id"], ctx.request.path_params["reply_id"]

    def work():
        decisions.retry_reply(ctx.db, request_id, reply_id)
        return ctx.t("done.retry", id=reply_id)

    return act(ctx, work, _page(ctx))


@view(write=True)
def mark_sent(ctx: Ctx):
    request_id, reply_id = ctx.request.path_params["request_id"], ctx.request.path_params["reply_id"]

    def work():
        decisions.mark_reply_sent(ctx.db, request_id, reply_id, officer=ctx.user.name)
        return ctx.t("done.marked_sent", id=reply_id)

    return act(ctx, work, _page(ctx))


@view(write=True)
def assign(ctx: Ctx):
    """To me, to a colleague, or to nobody (`assignee` = a user id, `me`, or empty)."""
    request_id = ctx.request.path_params["request_id"]

    def work():
        unchanged(ctx, request_id)
        request = ctx.db.get(Request, request_id)
        if request is None:
            raise decisions.DecisionError("error.no_request", id=request_id)
        chosen = ctx.field("assignee")
        chosen_id = parse_id(chosen)
        user = ctx.user if chosen == "me" else ctx.db.get(User, chosen_id) if chosen_id is not None else None
        if chosen and (user is None or user.role == "viewer"):
            raise decisions.DecisionError("error.no_officer")
        request.assignee_id = user.id if user else None
        if user is None:
            return ctx.t("done.unassigned", id=request_id)
        return ctx.t("done.assigned", id=request_id, name=user.name)

    return act(ctx, work, _page(ctx))


@view(write=True)
def note(ctx: Ctx):
    request_id = ctx.request.path_params["request_id"]

    def work():
        if ctx.db.get(Request, request_id) is None:
            raise decisions.DecisionError("error.no_request", id=request_id)
        try:
            add_note(ctx.db, request_id=request_id, author=ctx.user.name, text=ctx.field("text"))
        except NoteError:
            raise decisions.DecisionError("error.empty_note") from None
        return ctx.t("done.noted", id=request_id)

    return act(ctx, work, _page(ctx) + "#notes")


routes = [
    Route("/queue/requests/{request_id:int}/assign", assign, methods=["POST"]),
    Route("/queue/requests/{request_id:int}/notes", note, methods=["POST"]),
    Route("/queue/requests/{request_id:int}", request_page, methods=["GET"]),
    Route("/queue/requests/{request_id:int}/status", change_status, methods=["POST"]),
    Route("/queue/requests/{request_id:int}/merge", merge, methods=["POST"]),
    Route("/queue/requests/{request_id:int}/title", rename, methods=["POST"]),
    Route("/queue/requests/{request_id:int}/replies/{reply_id:int}/retry", retry, methods=["POST"]),
    Route("/queue/requests/{request_id:int}/replies/{reply_id:int}/mark-sent", mark_sent, methods=["POST"]),
]
