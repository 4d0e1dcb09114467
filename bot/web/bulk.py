"""The queue's bulk bar: one decision on every checked message (or their requests), previewed, then applied.

The bar has no default action: the officer picks one. "Preview" shows what
will happen and the exact replies, as a single status change does; "Apply" on
that page does it, all or nothing. Moving a request back from `published`
needs the `confirm_reopen` box ticked, since its supporters were told the data
is out.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.routing import Route

from bot.web import decisions, versions
from bot.web.acting import act
from bot.web.decisions import DecisionError
from bot.web.preview import reply_preview
from bot.web.views import Ctx, local_next, parse_id, view
from storage.models import REQUEST_STATUSES, Message, Request

ACTIONS = ("status", "merge", "confirm", "off_topic")


def selected_ids(ctx: Ctx) -> list[int]:
    return sorted({number for value in ctx.fields("ids") if (number := parse_id(value)) is not None})


def requests_of(ctx: Ctx, message_ids: list[int]) -> list[int]:
    """The requests of the checked messages, once each, in the order of the messages."""
    return list(dict.fromkeys(
        ctx.db.scalars(select(Message.request_id).where(Message.id.in_(message_ids), Message.request_id.is_not(None))
                       .order_by(Message.id))
    ))


def confirmed_reopen(ctx: Ctx) -> bool:
    """The officer ticked the `confirm_reopen` box: moving a request back from `published` is meant."""
    return ctx.field("confirm_reopen") == "yes"


def _versions(ctx: Ctx, message_ids: list[int]) -> None:
    """Each request is still what the officer saw in the queue (the rows' `v<message id>` tokens)."""
    pairs = ctx.db.execute(select(Message.id, Request.id).join(Request, Message.request_id == Request.id).where(
        Message.id.in_(message_ids))).all()
    for message_id, request_id in pairs:
        versions.check_unchanged(ctx.db, request_id, ctx.field(f"v{message_id}"), lang=ctx.lang)


def _target(ctx: Ctx) -> int | None:
    return parse_id(ctx.field("target"))


@view(write=True)
def bulk(ctx: Ctx):
    ids, action = selected_ids(ctx), ctx.field("action")
    if ctx.field("step") != "apply":
        return preview(ctx, ids, action)
    officer = ctx.signed_in.name

    def work():
        if not ids:
            raise DecisionError("error.nothing_selected")
        _versions(ctx, ids)
        if action == "confirm":
            for message_id in ids:
                decisions.confirm_request(ctx.db, message_id, officer=officer, writer=ctx.writer)
            return ctx.t("done.bulk_confirmed", n=len(ids))
        if action == "off_topic":
            for message_id in ids:
                decisions.mark_off_topic(ctx.db, message_id, officer=officer, writer=ctx.writer)
            return ctx.t("done.bulk_off_topic", n=len(ids))
        request_ids = requests_of(ctx, ids)
        if action not in ACTIONS:
            raise DecisionError("error.choose_action")
        if not request_ids:
            raise DecisionError("error.no_request_selected")
        if action == "merge":
            target = _target(ctx)
            for request_id in request_ids:
                if request_id != target:
                    decisions.change_status(ctx.db, request_id, "duplicate", officer=officer,
                                            writer=ctx.writer, duplicate_of=target)
            return ctx.t("done.bulk_merged", n=len([r for r in request_ids if r != target]), target=target)
        # Moving a published request back without the box is refused by check_change, as on the request
        # page; the refusal rolls back the requests changed before it.
        status = ctx.field("status")
        for request_id in request_ids:
            decisions.change_status(ctx.db, request_id, status, officer=officer, writer=ctx.writer,
                                    answer=ctx.field("answer"), url=ctx.field("url"), reopen=confirmed_reopen(ctx))
        return ctx.t("done.bulk_status", n=len(request_ids), status=ctx.t(f"status.{status}"))

    return act(ctx, work)


def preview(ctx: Ctx, ids: list[int], action: str):
    """What Apply would do, with the replies, and the same form to apply it; nothing is changed here."""
    back = local_next(ctx.field("next"), "/queue")
    problem = None
    if not ids:
        problem = "error.nothing_selected"
    elif action not in ACTIONS:
        problem = "error.choose_action"
    if problem:
        ctx.flash(ctx.t(problem), "error")
        return ctx.redirect(back)
    messages = ctx.db.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id)).all()
    items = []
    if action in ("status", "merge"):
        status = "duplicate" if action == "merge" else ctx.field("status")
        if status not in REQUEST_STATUSES:
            ctx.flash(ctx.t("error.unknown_status", status=status), "error")
            return ctx.redirect(back)
        target = str(_target(ctx) or "")
        for request in ctx.db.scalars(select(Request).where(Request.id.in_(requests_of(ctx, ids)))
                                      .order_by(Request.id)):
            if action == "merge" and str(request.id) == target:
                continue
            items.append((request, reply_preview(ctx, request, status, answer=ctx.field("answer"),
                                                 url=ctx.field("url"), target=target)))
    hidden = [(name, value) for name, value in ctx.form_items() if name not in ("csrf_token", "step", "confirm_reopen")]
    return ctx.render(
        "bulk_preview.html", action=action, messages=messages, items=items, hidden=hidden, back=back,
        status=ctx.field("status"), target=ctx.field("target"),
        reopens=[request.id for request, p in items if p["reopens"]],
    )


routes = [
    Route("/queue/bulk", bulk, methods=["POST"]),
]
