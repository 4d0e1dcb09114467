"""`datacall campaign create|list|show|post`."""

from __future__ import annotations

import re

import typer
from rich.table import Table
from sqlalchemy import func, select

from bot.cli.common import ConfigOption, console, fail, runtime
from storage.models import Campaign, Message, Post, Request

app = typer.Typer(help="Calls for contribution: create them and post them.", no_args_is_help=True)
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@app.command()
def create(
    slug: str = typer.Argument(..., help="Short name, e.g. 2027-q1."),
    title: str = typer.Option("", help="Human title (default: the slug)."),
    text: str = typer.Option("", help="The call's text (default: the [call] template)."),
    config: ConfigOption = None,
) -> None:
    """Create a campaign."""
    if not SLUG.match(slug):
        fail(f"campaign slug {slug!r}: use lowercase letters, digits and dashes, e.g. 2027-q1", 2)
    with runtime(config) as rt, rt.sessions() as session, session.begin():
        if session.scalar(select(Campaign).where(Campaign.slug == slug)):
            fail(f"campaign {slug} already exists", 2)
        call_text = text or rt.templates.render(
            "call", rt.config.campaigns.default_language, max_length=10_000, campaign=title or slug
        )
        session.add(Campaign(slug=slug, title=title or slug, call_text=call_text))
    console.print(f"created campaign {slug}; post its call with: datacall campaign post {slug}")


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
    """A campaign's call and where it was posted."""
    with runtime(config) as rt, rt.sessions() as session:
        campaign = _get(session, slug)
        console.print(f"[bold]{campaign.slug}[/bold] {campaign.title}")
        console.print(campaign.call_text, markup=False)
        table = Table("network", "kind", "state", "posted", "link", "error")
        for post in campaign.posts:
            table.add_row(
                post.network, post.kind, post.state,
                post.posted_at.strftime("%Y-%m-%d %H:%M") if post.posted_at else "",
                post.url or "", post.last_error or "",
            )
        console.print(table)
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


def _get(session, slug: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        fail(f"no campaign {slug}; see: datacall campaign list", 2)
    return campaign


def _count(session, model, campaign_id: int) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.campaign_id == campaign_id))
