"""The 12-week cycle as dates: phases and the posts each phase brings. Pure, no I/O.

Phases start at local midnight in the campaign's time zone, so a phase of two
weeks stays two calendar weeks across a daylight-saving change. Every time
returned is an aware UTC datetime, as the database stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.models import CAMPAIGN_PHASES


class CalendarError(ValueError):
    """The dates asked for make no calendar (a meetup outside the campaign...)."""


@dataclass(frozen=True)
class Phase:
    name: str
    starts_at: datetime
    ends_at: datetime  # exclusive: the next phase's start


@dataclass(frozen=True)
class PlannedPost:
    kind: str
    due_at: datetime


def local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`day` at `at` on the local clock, in UTC."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def phases(start: date, weeks: Sequence[int], zone: ZoneInfo) -> list[Phase]:
    """The four phases from `start`, each `weeks[i]` weeks long."""
    if len(weeks) != len(CAMPAIGN_PHASES):
        raise CalendarError(f"phase_weeks needs {len(CAMPAIGN_PHASES)} lengths, got {len(weeks)}")
    result, day = [], start
    for name, length in zip(CAMPAIGN_PHASES, weeks, strict=True):
        end = day + timedelta(weeks=length)
        result.append(Phase(name, local(day, time(0), zone), local(end, time(0), zone)))
        day = end
    return result


def plan(
    cycle: Sequence[Phase],
    *,
    zone: ZoneInfo,
    post_time: time,
    reminder_days: Sequence[int],
    meetup_at: datetime | None = None,
) -> list[PlannedPost]:
    """Every post of the cycle with its due time, in time order."""
    by_name = {phase.name: phase for phase in cycle}

    def day_of(phase: str, offset_days: int = 0) -> datetime:
        first = by_name[phase].starts_at.astimezone(zone).date()
        return local(first + timedelta(days=offset_days), post_time, zone)

    call_days = (by_name["call"].ends_at - by_name["call"].starts_at).days
    posts = [PlannedPost("call", day_of("call"))]
    for days in sorted(set(reminder_days)):
        if not 0 < days < call_days:
            raise CalendarError(f"a reminder {days} days after the start falls outside the call phase")
        posts.append(PlannedPost("reminder", day_of("call", days)))
    if meetup_at is not None:
        start, end = cycle[0].starts_at, cycle[-1].ends_at
        if not start < meetup_at < end:
            raise CalendarError("the meetup must take place during the campaign")
        # Announced the day after the call (the call stays the first word), or at once if sooner.
        announce = min(day_of("call", 1), meetup_at - timedelta(hours=2))
        posts.append(PlannedPost("meetup", max(announce, start)))
        eve = local(meetup_at.astimezone(zone).date() - timedelta(days=1), post_time, zone)
        if eve > announce:
            posts.append(PlannedPost("meetup_reminder", eve))
    posts.append(PlannedPost("survey", day_of("sorting")))
    research_weeks = round((by_name["research"].ends_at - by_name["research"].starts_at).days / 7)
    # Mid-research, on the phase's weekday: late enough to have answers to report, early enough to matter.
    posts.append(PlannedPost("research_update", day_of("research", 7 * (research_weeks // 2))))
    posts.append(PlannedPost("note", day_of("note")))
    return sorted(posts, key=lambda post: post.due_at)


def window_end(kind: str, cycle: Sequence[Phase], meetup_at: datetime | None) -> datetime | None:
    """After this moment a late post of `kind` is pointless and is skipped; None: always worth posting."""
    by_name = {phase.name: phase for phase in cycle}
    if kind in ("meetup", "meetup_reminder"):
        return meetup_at
    if kind == "reminder" and "call" in by_name:
        return by_name["call"].ends_at
    if kind == "survey" and "sorting" in by_name:
        return by_name["sorting"].ends_at
    if kind == "research_update" and "research" in by_name:
        return by_name["research"].ends_at
    return None


def phase_at(cycle: Sequence[Phase], moment: datetime) -> Phase | None:
    return next((phase for phase in cycle if phase.starts_at <= moment < phase.ends_at), None)
