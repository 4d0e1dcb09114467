"""Overdue requests, as Alaveteli flags late answers to its legal deadlines.

A request is overdue when it is still `received` after
`[campaigns] answer_within_working_days` working days (weekends, public
holidays of `holidays_country` and `extra_holidays` do not count), or when it
is `accepted` and its expected date has passed. Days are UTC calendar days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from storage.models import Request

RECEIVED_LATE = "received"
ACCEPTED_LATE = "accepted"


@dataclass(frozen=True)
class WorkingDays:
    """Which days count: Monday to Friday, minus the public and extra holidays."""

    country: str = "FR"
    extra: frozenset[date] = frozenset()
    _years: dict = field(default_factory=dict, compare=False, repr=False)

    def is_working(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.extra and day not in self._holidays(day.year)

    def _holidays(self, year: int):
        if not self.country:
            return ()
        if year not in self._years:
            import holidays  # noqa: PLC0415 - loaded on first need

            self._years[year] = holidays.country_holidays(self.country, years=year)
        return self._years[year]

    def between(self, start: date, end: date) -> int:
        """Working days after `start`, up to and including `end`."""
        return sum(1 for n in range(1, (end - start).days + 1) if self.is_working(start + timedelta(days=n)))

    def cutoff(self, today: date, working_days: int) -> date:
        """The first day whose requests are not late yet: `working_days` working days before `today`.

        A request received on day d is late when more than `working_days` working
        days passed after d, i.e. when d is before the cutoff.
        """
        day, counted = today, 0
        while counted < working_days:
            if self.is_working(day):
                counted += 1
            day -= timedelta(days=1)
        # Days off just before count nothing more: received on them is as late as the working day before.
        while not self.is_working(day):
            day -= timedelta(days=1)
        return day


@dataclass(frozen=True)
class OverdueRule:
    working_days: int
    calendar: WorkingDays

    @classmethod
    def from_config(cls, config) -> OverdueRule:
        campaigns = config.campaigns
        return cls(
            working_days=campaigns.answer_within_working_days,
            calendar=WorkingDays(campaigns.holidays_country, frozenset(campaigns.extra_holidays)),
        )

    def clause(self, today: date):
        """A WHERE clause true for overdue requests, usable in any query on `requests`."""
        start = datetime.combine(self.calendar.cutoff(today, self.working_days), time(), tzinfo=UTC)
        return or_(
            and_(Request.status == "received", Request.created_at < start),
            and_(Request.status == "accepted", Request.expected_at.is_not(None), Request.expected_at < today),
        )

    def reason(self, request: Request, today: date) -> str | None:
        """Why this request is overdue (`received` or `accepted`), or None."""
        if request.status == "accepted" and request.expected_at is not None and request.expected_at < today:
            return ACCEPTED_LATE
        if request.status == "received":
            received = request.created_at.astimezone(UTC).date()
            if self.calendar.between(received, today) > self.working_days:
                return RECEIVED_LATE
        return None


def today_utc() -> date:
    return datetime.now(UTC).date()


def overdue_requests(session: Session, rule: OverdueRule, *, today: date, status: str | None = None) -> list[Request]:
    """Every overdue request (or those of one status), oldest first."""
    query = select(Request).where(rule.clause(today)).order_by(Request.created_at, Request.id)
    if status:
        query = query.where(Request.status == status)
    return list(session.scalars(query))


def overdue_count(session: Session, rule: OverdueRule, *, today: date) -> int:
    return session.scalar(select(func.count()).select_from(Request).where(rule.clause(today))) or 0


def overdue_among(session: Session, rule: OverdueRule, ids: Iterable[int], *, today: date) -> set[int]:
    """Which of these requests are overdue (for a page of the queue)."""
    ids = list(ids)
    if not ids:
        return set()
    return set(session.scalars(select(Request.id).where(Request.id.in_(ids), rule.clause(today))))
