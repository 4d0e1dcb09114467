"""The campaign's calendar as RFC 5545 iCalendar: one all-day event per phase, one for the meetup."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import icalendar

from storage.models import Campaign

PHASE_TITLES = {
    "call": "call for contributions",
    "sorting": "sorting and relevance survey",
    "research": "research and first publications",
    "note": "publication note",
}
MEETUP_LENGTH = timedelta(hours=2)


def campaign_calendar(campaign: Campaign, *, public_url: str = "") -> bytes:
    """The .ics bytes; phases are whole local days, the meetup a timed UTC event."""
    zone = ZoneInfo(campaign.timezone or "UTC")
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//datacall//campaign calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{campaign.title} ({campaign.slug})")
    stamp = campaign.created_at
    page = f"{public_url.rstrip('/')}/campaigns/{campaign.slug}" if public_url else ""
    for phase in campaign.phases:
        event = icalendar.Event()
        event.add("uid", f"{campaign.slug}-{phase.name}@datacall")
        event.add("dtstamp", stamp)
        event.add("summary", f"{campaign.title}: {PHASE_TITLES.get(phase.name, phase.name)}")
        # All-day: DTEND is the exclusive next day, as RFC 5545 wants for VALUE=DATE.
        event.add("dtstart", phase.starts_at.astimezone(zone).date())
        event.add("dtend", phase.ends_at.astimezone(zone).date())
        if page:
            event.add("url", page)
        calendar.add_component(event)
    if campaign.meetup_at:
        event = icalendar.Event()
        event.add("uid", f"{campaign.slug}-meetup@datacall")
        event.add("dtstamp", stamp)
        event.add("summary", f"{campaign.title}: meetup")
        event.add("dtstart", campaign.meetup_at)
        event.add("dtend", campaign.meetup_at + MEETUP_LENGTH)
        if campaign.meetup_place:
            event.add("location", campaign.meetup_place)
        if campaign.meetup_url:
            event.add("url", campaign.meetup_url)
        calendar.add_component(event)
    return calendar.to_ical()
