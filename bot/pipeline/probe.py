"""Probe: ask each paused network "who am I" and lift the pause as soon as it answers.

Polling pauses a network after repeated failures, for a growing time; without a
probe it would stay idle long after it came back. A probe is one cheap call
(X `GET /2/users/me`, Mastodon `verify_credentials`, Telegram `getMe`). A pause
the network asked for (a 429 with its wait, before failures piled up) is left
to run out.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.networks.base import Connector
from bot.pipeline.ingest import FAILURES_BEFORE_PAUSE
from storage.database import reading
from storage.models import NetworkCursor, utcnow

log = logging.getLogger(__name__)


def probe_paused(sessions: sessionmaker[Session], connectors: dict[str, Connector]) -> int:
    """Probe every network paused after failing polls; returns how many resumed."""
    with reading(sessions) as session:  # every few seconds: never takes SQLite's write lock
        paused = list(session.scalars(
            select(NetworkCursor.network).where(
                NetworkCursor.paused_until > utcnow(),
                NetworkCursor.consecutive_failures >= FAILURES_BEFORE_PAUSE,
                NetworkCursor.network.in_(list(connectors)),
            )
        ))
    resumed = 0
    for network in paused:
        try:
            connectors[network].probe()
        except Exception as exc:  # noqa: BLE001 - still down: the pause goes on
            log.info("%s is still down: %s", network, exc)
            continue
        with sessions() as session, session.begin():
            row = session.get_one(NetworkCursor, network, with_for_update=True)
            if row.paused_until is not None and row.paused_until > utcnow():
                row.paused_until = None
                resumed += 1
                log.info("%s answered a probe: its pause ends, polling and sending resume", network)
    return resumed
