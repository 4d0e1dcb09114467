"""The `workers` table: each `datacall run` process's heartbeat, by name. The caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage.database import dialect_insert
from storage.models import Worker


def beat(session: Session, name: str, *, now: datetime, starting: bool = False) -> None:
    """Write `name`'s heartbeat (and, when `starting`, its start time), adding its row the first time.

    One upsert, so two processes started under the same name at the same moment both
    succeed: the second waits for the first's row, then updates it.
    """
    insert = dialect_insert(session, Worker).values(name=name, started_at=now, heartbeat_at=now)
    changes = {"heartbeat_at": insert.excluded.heartbeat_at}
    if starting:
        changes["started_at"] = insert.excluded.started_at
    session.execute(insert.on_conflict_do_update(index_elements=[Worker.name], set_=changes))
