"""The `workers` table: each `datacall run` process's heartbeat, by name. The caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from storage.models import Worker


def beat(session: Session, name: str, *, now: datetime, starting: bool = False) -> datetime | None:
    """Write `name`'s heartbeat (and, when `starting`, its start time); returns the previous heartbeat."""
    row = session.get(Worker, name, with_for_update=True)
    if row is None:
        session.add(Worker(name=name, started_at=now, heartbeat_at=now))
        session.flush()
        return None
    previous = row.heartbeat_at
    values = {"heartbeat_at": now, **({"started_at": now} if starting else {})}
    session.execute(update(Worker).where(Worker.name == name).values(**values))
    return previous
