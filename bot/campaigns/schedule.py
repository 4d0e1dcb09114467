"""Turn a campaign's dates into rows: its phases and every post on every network."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.campaigns import calendar
from bot.campaigns.publishing import values
from bot.campaigns.texts import CampaignTexts
from bot.config import CampaignsConfig
from bot.networks.base import Connector
from storage.models import Campaign, CampaignPhase, Post


def build_calendar(
    session: Session,
    campaign: Campaign,
    *,
    start: date,
    settings: CampaignsConfig,
    connectors: Mapping[str, Connector],
    max_length: Mapping[str, int],
    texts: CampaignTexts,
    public_url: str,
    meetup_at: datetime | None = None,
) -> list[Post]:
    """Phases and scheduled posts of `campaign` (not flushed phases are added to the session)."""
    zone = ZoneInfo(settings.timezone)
    cycle = calendar.phases(start, settings.phase_weeks, zone)
    planned = calendar.plan(
        cycle, zone=zone, post_time=time.fromisoformat(settings.post_time),
        reminder_days=settings.reminder_days, meetup_at=meetup_at,
    )
    campaign.starts_on, campaign.timezone, campaign.meetup_at = start, settings.timezone, meetup_at
    campaign.phases = [
        CampaignPhase(name=phase.name, position=index, starts_at=phase.starts_at, ends_at=phase.ends_at)
        for index, phase in enumerate(cycle)
    ]
    session.flush()
    lang = settings.default_language
    data = values(session, campaign, lang, public_url=public_url)
    # The research update's numbers are filled in when it goes out; the preview shows zeros.
    data.update(count_requests=0, count_accepted=0, count_published=0)
    posts = []
    for item in planned:
        for name, connector in connectors.items():
            text = texts.render(
                item.kind, lang, data, max_length=max_length[name], length=connector.text_length
            )
            posts.append(Post(
                campaign=campaign, network=name, kind=item.kind, text=text, lang=lang, due_at=item.due_at,
            ))
    session.add_all(posts)
    campaign.call_text = next((post.text for post in posts if post.kind == "call"), "") or texts.render(
        "call", lang, data, max_length=10_000
    )
    return posts


def parse_local(value: str, zone_name: str) -> datetime:
    """"2027-01-14 18:30" on the campaign's local clock, as UTC."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise calendar.CalendarError(f"{value!r} is not a date and time like 2027-01-14 18:30") from None
    if naive.tzinfo is not None:
        return naive.astimezone(ZoneInfo("UTC"))
    return naive.replace(tzinfo=ZoneInfo(zone_name)).astimezone(ZoneInfo("UTC"))
