"""Several workers on one database never do the same work twice."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select

from bot.config import load_config
from bot.jobs import run_once
from bot.networks.sandbox import timeline
from bot.runtime import Runtime
from storage.models import Message, Reply, Request
from tests.helpers import citizens_reply

ASKS = [
    "Please publish the bike counter data per hour as CSV",
    "Could you open the list of public toilets with opening hours?",
    "Merci de publier les menus des cantines en open data",
    "Où trouver les données de qualité de l'air par capteur ?",
]


def test_two_workers_share_the_work_without_doing_it_twice(cli, sessions, config_file):
    cli("init")
    citizens = [(f"@citizen{i}", f"{ASKS[i % len(ASKS)]} (#{i})") for i in range(40)]
    citizens_reply(sessions, to=None, citizens=citizens)
    config = load_config(config_file)
    runtimes = [Runtime.from_config(config, say=lambda _t: None) for _ in range(2)]
    for rt in runtimes:
        rt.classifier  # load before the race, as a running worker would have
    barrier = threading.Barrier(2)
    failures = []

    def worker(rt):
        barrier.wait()
        for _ in range(3):
            failures.extend(error for _, error in run_once(rt).values() if error)

    threads = [threading.Thread(target=worker, args=(rt,)) for rt in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for rt in runtimes:
        rt.close()
    assert failures == []
    with sessions() as session:
        data_requests = session.scalar(
            select(func.count()).select_from(Message).where(Message.label == "data_request")
        )
        assert data_requests == 40
        assert session.scalar(select(func.count()).select_from(Request)) == 40
        assert session.scalar(select(func.count()).select_from(Reply).where(Reply.state == "sent")) == 40
        answered = Counter(e.in_reply_to_id for e in timeline(session, from_bot=True))
    assert len(answered) == 40 and set(answered.values()) == {1}
