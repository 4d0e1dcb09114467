"""`datacall campaign create|list|show|post|calendar|rehearse`."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy import func, select

from bot.campaigns import rehearsal
from bot.campaigns.calendar import CalendarError
from bot.campaigns.ical import campaign_calendar
from bot.campaigns.schedule import build_calendar, parse_local
from bot.cli.common import ConfigOption, config_or_exit, console, errors, fail, runtime
from storage.models import Campaign, Message, Post, Request

app = typer.Typer(
    help="Campaigns: the quarterly calendar and its posts, its iCalendar file, its rehearsal.", no_args_is_help=True
)
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@app.command()
def create(
    slug: str = typer.Argument(..., help="Short name, e.g. 2027-q1."),
    title: str = typer.Option("", help="Human title (default: the slug)."),
    text: str = typer.Option("", help="The call's text (default: the [call] template); without --start only."),
    start: str = typer.Option("", help="First day of the call, YYYY-MM-DD: builds the 12-week calendar."),
    meetup: str = typer.Option("", help='The meetup, "YYYY-MM-DD HH:MM" local time (with --start).'),
    meetup_place: str = typer.Option("", help="Where the meetup takes place."),
    meetup_url: str = typer.Option("", help="The meetup's page or video link."),
    config: ConfigOption = None,
) -> None:
    """Create a campaign; with --start, its phases and every post, each with its due time."""
    if not SLUG.match(slug):
        fail(f"campaign slug {slug!r}: use lowercase letters, digits and dashes, e.g. 2027-q1", 2)
    first_day = _date(start) if start else None
    if not first_day and (meetup or meetup_place or meetup_url):
        fail("--meetup, --meetup-place and --meetup-url need --start (the campaign's calendar)", 2)
    if first_day and text:
        fail("--text is for a call posted on demand; with --start the texts come from the campaign templates", 2)
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        if session.scalar(select(Campaign).where(Campaign.slug == slug)):
            fail(f"campaign {slug} already exists", 2)
        if first_day is None:
            call_text = text or rt.templates.render(
                "call", rt.config.campaigns.default_language, max_length=10_000, campaign=title or slug
            )
            session.add(Campaign(slug=slug, title=title or slug, call_text=call_text))
            console.print(f"created campaign {slug}; post its call with: datacall campaign post {slug}")
            return
        campaign = Campaign(
            slug=slug, title=title or slug, call_text="",
            meetup_place=meetup_place or None, meetup_url=meetup_url or None,
        )
        session.add(campaign)
        try:
            meetup_at = parse_local(meetup, rt.config.campaigns.timezone) if meetup else None
            posts = build_calendar(
                session, campaign, start=first_day, settings=rt.config.campaigns, connectors=rt.connectors,
                max_length={name: rt.max_length(name) for name in rt.connectors}, texts=rt.campaign_texts,
                public_url=rt.config.web.public_url, meetup_at=meetup_at,
            )
        except CalendarError as exc:
            fail(str(exc), 2)
        zone = ZoneInfo(rt.config.campaigns.timezone)  # the calendar was just built in it
        ends = (campaign.phases[-1].ends_at - timedelta(seconds=1)).astimezone(zone)
        networks = ", ".join(rt.connectors) or "no network (none is enabled)"
        console.print(
            f"created campaign {slug}: {first_day} to {ends:%Y-%m-%d}, {len(posts)} posts on {networks}; "
            f"`datacall run` publishes each when due. See: datacall campaign show {slug}", markup=False,
        )
        if not rt.config.web.public_url:
            console.print(
                "note: [web] public_url is not set, so the note announcement will carry no link", markup=False
            )


@app.command("list")
def list_(config: ConfigOption = None) -> None:
    """Every campaign, newest first, with its numbers."""
    with runtime(config) as rt, rt.sessions() as session:
        table = Table("slug", "title", "created", "posts", "messages", "requests")
        for campaign in session.scalars(select(Campaign).order_by(Campaign.created_at.desc())):
            table.add_row(
                campaign.slug, campaign.title, campaign.created_at.strftime("%Y-%m-%d"),
                str(_count(session, Post, campaign.id)), str(_count(session, Message, campaign.id)),
                str(_count(session, Request, campaign.id)),
            )
        console.print(table)


@app.command()
def show(slug: str, config: ConfigOption = None) -> None:
    """A campaign's calendar: its phases, then each post with its due time, state, link and what it brought."""
    with runtime(config) as rt, rt.sessions() as session:
        campaign = _get(session, slug)
        zone = ZoneInfo(campaign.timezone or rt.config.campaigns.timezone)
        console.print(f"[bold]{campaign.slug}[/bold] {campaign.title}", highlight=False)
        console.print(campaign.call_text, markup=False)
        if campaign.phases:
            phases = Table("phase", "from", "to", title=f"phases ({zone.key})")
            for phase in campaign.phases:
                last_day = (phase.ends_at - timedelta(seconds=1)).astimezone(zone)
                phases.add_row(phase.name, f"{phase.starts_at.astimezone(zone):%Y-%m-%d}", f"{last_day:%Y-%m-%d}")
            console.print(phases)
            if campaign.meetup_at:
                where = " ".join(p for p in (campaign.meetup_place, campaign.meetup_url) if p)
                console.print(f"meetup: {campaign.meetup_at.astimezone(zone):%Y-%m-%d %H:%M} {where}", markup=False)
        brought = per_post(session, campaign.id)
        # One line per post rather than a table: links and skip reasons stay whole at any width.
        console.print("[bold]posts[/bold] (due time, kind, network, state, messages / requests it brought, link)")
        for post in sorted(campaign.posts, key=lambda p: (p.due_at, p.id)):
            messages, requests = brought.get(post.id, (0, 0))
            detail = post.url or post.skip_reason or post.last_error or ""
            console.print(
                f"{post.due_at.astimezone(zone):%Y-%m-%d %H:%M}  {post.kind:<15} {post.network:<9} "
                f"{post.state:<8} {messages:>3} / {requests:<3} {detail}",
                markup=False, highlight=False,
            )
        console.print(
            f"messages: {_count(session, Message, campaign.id)}, requests: {_count(session, Request, campaign.id)}"
        )


@app.command()
def post(
    slug: str,
    network: list[str] = typer.Option(None, help="Only these networks (default: every enabled one)."),
    config: ConfigOption = None,
) -> None:
    """Queue the campaign's call on every enabled network; `datacall run` publishes it."""
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        campaign = _get(session, slug)
        targets = network or list(rt.connectors)
        unknown = [name for name in targets if name not in rt.connectors]
        if unknown:
            fail(f"network {unknown[0]} is not enabled; enabled: {', '.join(rt.connectors)}", 2)
        for name in targets:
            already = session.scalar(
                select(Post).where(
                    Post.campaign_id == campaign.id, Post.network == name, Post.kind == "call",
                    Post.state != "dead",
                )
            )
            if already is not None:
                console.print(f"{name}: the call is already {already.state}")
                continue
            session.add(Post(campaign_id=campaign.id, network=name, kind="call", text=campaign.call_text))
            console.print(f"{name}: call queued")


@app.command("calendar")
def calendar_(
    slug: str,
    ics: Path = typer.Option(..., help="Write the calendar here, as an iCalendar (.ics) file."),
    config: ConfigOption = None,
) -> None:
    """The campaign's phases and meetup as an iCalendar file, for calendar apps."""
    with runtime(config) as rt, rt.sessions() as session:
        campaign = _get(session, slug)
        if not campaign.phases:
            fail(f"campaign {slug} has no calendar; create one with: datacall campaign create SLUG --start DATE", 2)
        data = campaign_calendar(campaign, public_url=rt.config.web.public_url)
    try:
        ics.write_bytes(data)
    except OSError as exc:
        fail(f"{ics}: cannot be written: {exc.strerror or exc}", 2)
    console.print(f"wrote {ics} ({len(campaign.phases)} phases{', meetup' if campaign.meetup_at else ''})")


@app.command()
def rehearse(
    slug: str,
    out: Path = typer.Option(None, help="Folder for the rehearsal's database and publication note."),
    config: ConfigOption = None,
) -> None:
    """Run the whole campaign on a copy of the database, on the sandbox, with a simulated clock."""
    config_model = config_or_exit(config)
    try:
        timeline = rehearsal.rehearse(config_model, slug, out=out, say=lambda text: errors.print(text, markup=False))
    except rehearsal.RehearsalError as exc:
        fail(str(exc), 2)
    for line in timeline:
        console.print(line, markup=False, highlight=False)


def per_post(session, campaign_id: int) -> dict[int, tuple[int, int]]:
    """Messages and distinct requests that came as replies to each of the campaign's posts."""
    rows = session.execute(
        select(Message.post_id, func.count(Message.id), func.count(func.distinct(Message.request_id)))
        .join(Post, Post.id == Message.post_id)
        .where(Post.campaign_id == campaign_id)
        .group_by(Message.post_id)
    )
    return {post_id: (messages, requests) for post_id, messages, requests in rows}


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--start {value!r}: use a date like 2027-01-04", 2)


def _get(session, slug: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        fail(f"no campaign {slug}; see: datacall campaign list", 2)
    return campaign


def _count(session, model, campaign_id: int) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.campaign_id == campaign_id))
