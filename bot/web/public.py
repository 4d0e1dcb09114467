"""The public dashboard: every request, its status and answer, with no personal data.

Handles, network user ids and message texts appear only for requesters who
agreed to be named (Requester.consented_public). Titles are the ones an officer
approved, else neutral (storage.public_titles). A request closed because its
only message was not a data request is not listed.
"""

from __future__ import annotations

from collections import Counter

from markupsafe import Markup
from sqlalchemy import distinct, func, or_, select
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.routing import Route

from bot.campaigns.ical import campaign_calendar
from bot.overdue import OverdueRule, overdue_count, today_utc
from bot.web import charts, downloads
from bot.web.views import Ctx, page_number, view
from storage.models import REQUEST_STATUSES, Campaign, Message, Request, Requester, StatusEvent, utcnow
from storage.public_titles import neutral_title, public_titles

PAGE_SIZE = 20
# A duplicate's supporters are counted on the request it joined; what was not a data request is not shown.
LISTED = (Request.status != "duplicate") & Request.not_a_request.is_(False)
CHARTS_TTL = 300.0  # seconds the charts may lag (drawn from every status event)
COUNTS_TTL = 30.0  # seconds the counts per status, campaign and network may lag (they read every message)


def dashboard_counts(db: Session) -> dict[str, list[tuple[str, str, int]]]:
    """Requests per status, campaign and network: (filter value, label, count).

    One pass over the listed requests, grouped by status, campaign and the networks of
    their messages (stored on each request, `Request.networks`): no message is read.
    """
    by_status: Counter[str] = Counter()
    by_campaign: Counter[int | None] = Counter()
    by_network: Counter[str] = Counter()
    for status, campaign_id, networks, count in db.execute(
        select(Request.status, Request.campaign_id, Request.networks, func.count()).where(LISTED)
        .group_by(Request.status, Request.campaign_id, Request.networks)
    ):
        by_status[status] += count
        by_campaign[campaign_id] += count
        for network in filter(None, networks.split(",")):
            by_network[network] += count
    campaigns = db.execute(select(Campaign.id, Campaign.slug, Campaign.title).order_by(Campaign.slug.desc())).all()
    return {
        "status": [(s, s, by_status[s]) for s in REQUEST_STATUSES if by_status.get(s)],
        "campaign": [(slug, title, by_campaign[id_]) for id_, slug, title in campaigns if by_campaign.get(id_)],
        "network": [(network, network, by_network[network]) for network in sorted(by_network)],
    }


@view()
def dashboard(ctx: Ctx):
    params = ctx.request.query_params
    status = params.get("status", "") if params.get("status") in REQUEST_STATUSES else ""
    campaign, network = params.get("campaign", "")[:64], params.get("network", "")[:32]
    q = " ".join(params.get("q", "").split())[:200]
    page = page_number(ctx)
    rows, has_next = dashboard_rows(ctx.db, page, status=status, campaign=campaign, network=network, q=q)
    total = ctx.db.scalar(select(func.count()).select_from(Request).where(LISTED))
    titles = {
        request_id: heading(request_id, title, ctx.lang)
        for request_id, title in public_titles(ctx.db, [request for request, _ in rows], lang=ctx.lang).items()
    }
    return ctx.render(
        "dashboard.html", rows=rows, titles=titles, has_next=has_next, page=page, total=total,
        counts=ctx.cache.get("dashboard.counts", COUNTS_TTL, lambda: dashboard_counts(ctx.db)),
        overdue=ctx.cache.get("dashboard.overdue", COUNTS_TTL, lambda: overdue_count(
            ctx.db, OverdueRule.from_config(ctx.runtime.config), today=today_utc()
        )),
        filters={"status": status, "campaign": campaign, "network": network, "q": q},
        charts=ctx.request.app.state.charts.get(("dashboard.charts", ctx.lang), CHARTS_TTL, lambda: _charts(ctx)),
        exports=downloads.FILES, export_dates=ctx.request.app.state.exports.dates(),
    )


def _charts(ctx: Ctx) -> dict[str, Markup | charts.Series]:
    """The two charts as inline SVG, kept a few minutes: the time chart reads every status event."""
    label = lambda status: ctx.t(f"status.{status}")  # noqa: E731 - a one-line translator, passed on
    over_time = charts.status_over_time(ctx.db, now=utcnow())
    per_campaign = charts.status_per_campaign(ctx.db)
    return {
        "time": Markup(charts.stacked_bars_svg(over_time, title=ctx.t("dash.chart_time"), status_label=label)),
        "campaign": Markup(charts.stacked_bars_svg(per_campaign, title=ctx.t("dash.chart_campaign"),
                                                   status_label=label, horizontal=True)),
        "time_series": over_time, "campaign_series": per_campaign,
    }


def dashboard_rows(db: Session, page: int, *, status: str = "", campaign: str = "",
                   network: str = "", q: str = "") -> tuple[list[tuple[Request, int]], bool]:
    """One page of listed requests, newest first, each with its number of supporters; and whether more follow."""
    query = select(Request).where(LISTED).order_by(Request.id.desc()).limit(PAGE_SIZE + 1).offset(
        (page - 1) * PAGE_SIZE
    )
    if q:  # the public words only: the approved title and the answer (a draft title is not public)
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(
            Request.public_title.ilike(pattern, escape="\\"), Request.answer.ilike(pattern, escape="\\")
        ))
    if status:
        query = query.where(Request.status == status)
    if campaign:
        query = query.where(Request.campaign_id.in_(select(Campaign.id).where(Campaign.slug == campaign)))
    if network:
        query = query.where(
            select(Message.id).where(Message.request_id == Request.id, Message.network == network).exists()
        )
    found = db.scalars(query).all()
    listed = found[:PAGE_SIZE]
    # Support (supporters, merged ones included, plus survey votes), as stored on each request.
    return [(request, request.support) for request in listed], len(found) > PAGE_SIZE


@view()
def public_request(ctx: Ctx):
    request = ctx.db.get(Request, ctx.request.path_params["request_id"])
    if request is None or request.not_a_request:
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
    title = heading(request.id, public_titles(ctx.db, [request], lang=ctx.lang)[request.id], ctx.lang)
    return ctx.render(
        "public_request.html", request=request, title=title, supporters=supporters, networks=networks,
        named=named, events=events, campaign=campaign,
    )


def heading(request_id: int, title: str, lang: str) -> str:
    """"#12 Bus punctuality", or the neutral title alone (it already carries the number)."""
    return title if title == neutral_title(request_id, lang) else f"#{request_id} {title}"


@view()
def campaign_ics(ctx: Ctx):
    """The campaign's calendar for calendar apps (the note at /campaigns/SLUG is another page)."""
    campaign = ctx.db.scalar(select(Campaign).where(Campaign.slug == ctx.request.path_params["slug"]))
    if campaign is None or not campaign.phases:
        return ctx.error(404, "error.not_found")
    return Response(
        campaign_calendar(campaign, public_url=ctx.runtime.config.web.public_url),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{campaign.slug}.ics"'},
    )


routes = [
    Route("/", dashboard, methods=["GET"]),
    Route("/requests/{request_id:int}", public_request, methods=["GET"]),
    Route("/campaigns/{slug}/calendar.ics", campaign_ics, methods=["GET"]),
]
