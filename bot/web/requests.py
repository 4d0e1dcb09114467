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
from bot.pipeline.status import NEEDS_ANSWER, NEEDS_URL, StatusError, check_change
from bot.replies.render import LANGUAGES
from bot.web import decisions
from bot.web.queue import act, confirmed_reopen, queued_replies
from bot.web.views import Ctx, parse_id, view
from storage import queries
from storage.public_titles import public_titles
from storage.models import REQUEST_STATUSES, Message, Reply, Request, StatusEvent


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
    )


def _preview(ctx: Ctx, request: Request) -> dict | None:
    """The replies a status change would queue, as the outbox would write them."""
    params = ctx.request.query_params
    status = params.get("status", "")
    if status not in REQUEST_STATUSES:
        return None
    answer = params.get("answer", request.answer if status == request.status else "") or ""
    url = params.get("url", request.url if status == request.status else "") or ""
    target = params.get("of", "")
    writer = ctx.writer
    limit = max(writer.max_length.values(), default=500)
    # What supporters other than the draft's author read; its author reads their own words.
    titles = {lang: public_titles(ctx.db, [request], lang=lang)[request.id] for lang in LANGUAGES}
    texts = {
        lang: writer.templates.render(
            status, lang, max_length=limit, id=request.id, title=titles[lang], answer=answer, url=url,
            duplicate_of=target, link=writer._link(request.id, lang),  # the same link the outbox adds
        )
        for lang in LANGUAGES
    }
    recipients = [
        requester for requester, _ in queries.supporters(ctx.db, request_id=request.id)
        if not requester.opted_out and requester.network in writer.max_length
    ]
    refusal = ""
    missing = (status in NEEDS_URL and not url) or (status in NEEDS_ANSWER and not answer)
    if not missing and (status != "duplicate" or parse_id(target) is not None):
        try:  # the same check the change will face: say now that it would be refused
            check_change(ctx.db, request, status, answer=answer or None, url=url or None,
                         duplicate_of=parse_id(target) if status == "duplicate" else None, reopen=True)
        except StatusError as exc:
            refusal = str(exc)
    return {
        "expected": params.get("expected", "")[:10],
        "status": status, "answer": answer, "url": url, "target": target, "texts": texts, "refusal": refusal,
        "recipients": len(recipients), "needs_url": status in NEEDS_URL, "needs_answer": status in NEEDS_ANSWER,
    }


@view(write=True)
def change_status(ctx: Ctx):
    request_id = ctx.request.path_params["request_id"]

    def work():
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
        event = decisions.change_status(
            ctx.db, request_id, "duplicate", officer=ctx.user.name, writer=ctx.writer, duplicate_of=target
        )
        return ctx.t("done.merged", id=request_id, target=target, n=queued_replies(ctx.db, event.id))

    return act(ctx, work, _page(ctx))


@view(write=True)
def rename(ctx: Ctx):
    request_id = ctx.request.path_params["request_id"]

    def work():
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


routes = [
    Route("/queue/requests/{request_id:int}", request_page, methods=["GET"]),
    Route("/queue/requests/{request_id:int}/status", change_status, methods=["POST"]),
    Route("/queue/requests/{request_id:int}/merge", merge, methods=["POST"]),
    Route("/queue/requests/{request_id:int}/title", rename, methods=["POST"]),
    Route("/queue/requests/{request_id:int}/replies/{reply_id:int}/retry", retry, methods=["POST"]),
    Route("/queue/requests/{request_id:int}/replies/{reply_id:int}/mark-sent", mark_sent, methods=["POST"]),
]
