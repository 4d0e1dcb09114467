"""This `datacall run` process as a worker: its stable name, its start, and its heartbeat.

Each claim names its worker. A worker that starts frees its own claims at once
(it knows it died); the others take a worker's claims back once its heartbeat is
older than `[scheduler] claim_lease_seconds`. The heartbeat runs on its own
thread, so a long send never makes a live worker look dead.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Config
from storage import queries, workers
from storage.models import utcnow

log = logging.getLogger(__name__)

# Overrides `[scheduler] worker_name`, for several workers sharing one config file on one host.
NAME_VARIABLE = "DATACALL_WORKER_NAME"
# Beats per lease: a worker must miss several in a row before it looks dead.
BEATS_PER_LEASE = 3
MAX_BEAT_SECONDS = 5.0


def worker_name(config: Config) -> str:
    return os.environ.get(NAME_VARIABLE) or config.scheduler.worker_name or socket.gethostname()[:100]


class Heartbeat:
    """Register the worker, free its own claims, then beat every few seconds until stopped."""

    def __init__(self, sessions: sessionmaker[Session], name: str, *, lease_seconds: float):
        self.sessions = sessions
        self.name = name
        self.interval = min(MAX_BEAT_SECONDS, lease_seconds / BEATS_PER_LEASE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Beat once and free this worker's claims left by its previous life; returns how many."""
        released = self._register()
        if released:
            log.info("worker %s: %d claim(s) left by its previous run taken back", self.name, released)
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{self.name}", daemon=True)
        self._thread.start()
        return released

    def _register(self) -> int:
        with self.sessions() as session, session.begin():
            workers.beat(session, self.name, now=utcnow(), starting=True)
            return queries.release_own_claims(session, worker=self.name)

    def stop(self) -> None:
        """No more beats; a beat waiting for the database is not waited for long (the thread is a daemon)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.sessions() as session, session.begin():
                    workers.beat(session, self.name, now=utcnow())
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the jobs go on
                first_line = (str(exc).splitlines() or [""])[0]  # the driver's message, not its SQL and parameters
                log.warning("worker %s: heartbeat not written: %s: %s", self.name, type(exc).__name__, first_line)
