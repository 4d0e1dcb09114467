"""Once-per-slot jobs (daily digest, catalogue import) in a loop that runs every few seconds or from cron.

The last slot run is a row of `app_settings`. Taking a slot is one conditional
UPDATE, so of several `datacall run` processes exactly one wins it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AppSetting
from storage.queries import changed_rows


def claim_slot(sessions: sessionmaker[Session], key: str, value: str, is_due: Callable[[str], bool]) -> bool:
    """True if the last mark `is_due` (or there is none): the caller runs now, and the mark becomes `value`."""
    with sessions() as session, session.begin():
        last = session.scalar(select(AppSetting.value).where(AppSetting.key == key))
        if last is None:
            try:
                with session.begin_nested():
                    session.add(AppSetting(key=key, value=value))
                return True
            except IntegrityError:
                return False  # another process took the first slot
        if not is_due(last):
            return False
        won = changed_rows(
            session, update(AppSetting).where(AppSetting.key == key, AppSetting.value == last).values(value=value)
        )
        return won == 1


def claim_interval(sessions: sessionmaker[Session], key: str, *, now: datetime, every: timedelta) -> bool:
    """At most once every `every`."""
    return claim_slot(sessions, key, now.isoformat(), lambda last: datetime.fromisoformat(last) + every <= now)


def claim_day(sessions: sessionmaker[Session], key: str, *, today: date) -> bool:
    """At most once per calendar day."""
    return claim_slot(sessions, key, today.isoformat(), lambda last: last != today.isoformat())


def last_mark(session: Session, key: str) -> str | None:
    return session.scalar(select(AppSetting.value).where(AppSetting.key == key))
