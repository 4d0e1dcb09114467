"""A worker's heartbeat row (storage/workers.py): one upsert, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select

from bot.worker import Heartbeat
from storage import workers
from storage.models import Worker, utcnow


def row(sessions, name: str) -> tuple:
    with sessions() as session:
        return session.execute(select(Worker.started_at, Worker.heartbeat_at).where(Worker.name == name)).one()


def test_the_first_beat_adds_the_row_and_later_beats_move_the_heartbeat(sessions):
    start = utcnow().replace(microsecond=0)
    later, restart = start + timedelta(seconds=5), start + timedelta(seconds=60)
    with sessions() as session, session.begin():
        workers.beat(session, "w1", now=start)  # not starting, yet the first: its start time is now too
    assert row(sessions, "w1") == (start, start)
    with sessions() as session, session.begin():
        workers.beat(session, "w1", now=later)
    assert row(sessions, "w1") == (start, later)  # a beat keeps the start time
    with sessions() as session, session.begin():
        workers.beat(session, "w1", now=restart, starting=True)
        workers.beat(session, "w2", now=restart, starting=True)
    assert row(sessions, "w1") == (restart, restart) and row(sessions, "w2") == (restart, restart)
    with sessions() as session:
        assert session.scalars(select(Worker.name).order_by(Worker.name)).all() == ["w1", "w2"]


def test_two_processes_registering_one_name_at_once_both_start(sessions):
    """The second waits for the first one's new row, then updates it: no duplicate-key error to retry."""
    first_time = utcnow().replace(microsecond=0) - timedelta(seconds=30)
    failures: list[BaseException] = []
    second = Heartbeat(sessions, "w1", lease_seconds=30)

    def start_second() -> None:
        try:
            second.start()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    with sessions() as session, session.begin():
        workers.beat(session, "w1", now=first_time, starting=True)  # the first process's row, not committed yet
        racing = threading.Thread(target=start_second)
        racing.start()
        time.sleep(0.5)  # the second now waits on the first's row (PostgreSQL) or write lock (SQLite)
    racing.join(timeout=30)
    second.stop()
    assert not racing.is_alive() and failures == []
    started, beat = row(sessions, "w1")
    assert started == beat and started > first_time  # the second process's registration is the one kept
