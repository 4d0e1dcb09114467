"""The public dashboard: every request, its status and answer, with no personal data.

Handles, network user ids and message texts appear only for requesters who
agreed to be named (Requester.consented_public); titles are redacted at creation.
"""

from __future__ import annotations

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session
from starlette.routing import Route

from bot.web.views import Ctx, page_number, view
from storage.models import REQUEST_STATUSES, Campaign, Message, Request, Requester, StatusEvent

PAGE_SIZE = 20
LISTED = Request.status != "duplicate"  # a duplicate's supporters are counted on the request it joined


def supporter_counts():
    return (
        select(Message.request_id, func.count(distinct(Message.requester_id)).label("n"))
        .where(Message.request_id.is_not(None))
        .group_by(Message.request_id)
        .subquery()
    )


def dashboard_counts(db: Session) -> dict[str, list[tuple[str, str, int]]]:
    """Requests per status, campaign and network: (filter value, label, count)."""
    by_status = dict(db.execute(select(Request.status, func.count()).where(LISTED).group_by(Request.status)).all())
    by_campaign = db.execute(
        select(Campaign.slug, Campaign.title, func.count(Request.id))
        .join(Request, Request.campaign_id == Campaign.id).where(LISTED)
        .group_by(Campaign.id, Campaign.slug, Campaign.title).order_by(Campaign.slug.desc())
    ).all()
    by_network = db.execute(
        select(Message.network, func.count(distinct(Message.request_id)))
        .join(Request, Request.id == Message.request_id).where(LISTED)
        .group_by(Message.network).order_by(Message.network)
    ).all()
    return {
        "status": [(s, s, by_status[s]) for s in REQUEST_STATUSES if by_status.get(s)],
        "campaign": [(slug, title, n) for slug, title, n in by_campaign],
        "network": [(network, network, n) for network, n in by_network],
    }


@view()
def dashboard(ctx: Ctx):
    params = ctx.request.query_params
    status = params.get("status", "") if params.get("status") in REQUEST_STATUSES else ""
    campaign, network = params.get("campaign", "")[:64], params.get("network", "")[:32]
    page = page_number(ctx)
    supporters = supporter_counts()
    query = (
        select(Request, func.coalesce(supporters.c.n, 0))
        .outerjoin(supporters, supporters.c.request_id == Request.id)
        .where(LISTED)
        .order_by(Request.id.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    )
    if status:
        query = query.where(Request.status == status)
    if campaign:
        query = query.where(Request.campaign_id.in_(select(Campaign.id).where(Campaign.slug == campaign)))
    if network:
        query = query.where(Request.id.in_(select(Message.request_id).where(Message.network == network)))
    db_rows = ctx.db.execute(query).all()
    rows = [(request, count) for request, count in db_rows[:PAGE_SIZE]]
    total = ctx.db.scalar(select(func.count()).select_from(Request).where(LISTED))
    return ctx.render(
        "dashboard.html", rows=rows, has_next=len(db_rows) > PAGE_SIZE, page=page, total=total,
        counts=dashboard_counts(ctx.db), filters={"status": status, "campaign": campaign, "network": network},
    )


@view()
def public_request(ctx: Ctx):
    request = ctx.db.get(Request, ctx.request.path_params["request_id"])
    if request is None:
        return ctx.error(404, "error.not_found")
    if request.status == "duplicate" and request.duplicate_of_id:
        # Replies about a merged request link here; its supporters now follow the surviving one.
        return ctx.redirect(f"/requests/{request.duplicate_of_id}")
    supporters, networks = ctx.db.execute(
        select(func.count(distinct(Message.requester_id)), func.count(distinct(Message.network)))
        .where(Message.request_id == request.id)
    ).one()
    named = ctx.db.execute(
        select(Requester.handle, Requester.network, Message.text)
        .join(Message, Message.requester_id == Requester.id)
        .where(Message.request_id == request.id, Requester.consented_public.is_(True))
        .order_by(Message.id)
    ).all()
    events = ctx.db.scalars(
        select(StatusEvent).where(StatusEvent.request_id == request.id).order_by(StatusEvent.id)
    ).all()
    campaign = ctx.db.get(Campaign, request.campaign_id) if request.campaign_id else None
    return ctx.render(
        "public_request.html", request=request, supporters=supporters, networks=networks,
        named=named, events=events, campaign=campaign,
    )


routes = [
    Route("/", dashboard, methods=["GET"]),
    Route("/requests/{request_id:int}", public_request, methods=["GET"]),
]
