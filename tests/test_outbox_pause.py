"""A network that polling paused (it keeps failing) gets no sends until the pause ends.

Its replies keep their attempts.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import NetworkCursor, Reply, Request, utcnow
from tests.helpers import citizens_reply


def pause_sandbox(sessions, until) -> None:
    with sessions() as session, session.begin():
        row = session.get(NetworkCursor, "sandbox")
        if row is None:
            row = NetworkCursor(network="sandbox", state={})
            session.add(row)
        row.paused_until = until


def test_replies_to_a_paused_network_wait_without_spending_attempts(cli, sessions, write_config, db_url):
    config = write_config(
        f'[database]\nurl = "{db_url}"\n[replies]\nretry_base_seconds = 0.01\n[classifier]\nreview_band = [0.0, 0.0]\n',
        "pause.toml",
    )
    cli("init", config=config)
    citizens_reply(sessions, to=None, citizens=[("@lea", "Pourriez-vous publier les comptages vélo par heure ?")])
    cli("run --once", config=config)
    with sessions() as session:
        request_id = session.scalars(select(Request.id)).one()
    cli(["request", "set-status", str(request_id), "accepted"], config=config)

    pause_sandbox(sessions, utcnow() + timedelta(hours=1))
    cli("run --once", config=config)
    with sessions() as session:
        waiting = session.scalars(select(Reply).where(Reply.state != "sent")).all()
    assert [(reply.state, reply.attempts) for reply in waiting] == [("pending", 0)]

    pause_sandbox(sessions, utcnow() - timedelta(seconds=1))  # the network answers again
    cli("run --once", config=config)
    with sessions() as session:
        states = session.scalars(select(Reply.state)).all()
    assert states and set(states) == {"sent"}
