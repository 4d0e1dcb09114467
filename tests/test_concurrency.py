"""Several workers on one database never do the same work twice.

The workers talk to the recording network (tests/fakes/recording.py), which
keeps a repeated send as X and Telegram do: a reply sent twice fails the test.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select, update

import bot.jobs
from bot.config import load_config
from bot.jobs import run_once
from bot.networks.sandbox import timeline
from bot.pipeline import outbox
from bot.runtime import Runtime
from storage.models import Message, Reply, Request, utcnow
from tests.helpers import citizens_reply

ASKS = [
    "Please publish the bike counter data per hour as CSV",
    "Could you open the list of public toilets with opening hours?",
    "Merci de publier les menus des cantines en open data",
    "Où trouver les données de qualité de l'air par capteur ?",
]


def test_two_workers_share_the_work_without_doing_it_twice(cli, sessions, config_file, recording):
    cli("init")
    citizens = [(f"@citizen{i}", f"{ASKS[i % len(ASKS)]} (#{i})") for i in range(40)]
    citizens_reply(sessions, to=None, citizens=citizens)
    config = load_config(config_file)
    runtimes = [Runtime.from_config(config, say=lambda _t: None) for _ in range(2)]
    for rt in runtimes:
        _ = rt.classifier  # load before the race, as a running worker would have
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
        keys = set(session.scalars(select(Reply.idempotency_key)))
    assert len(answered) == 40 and set(answered.values()) == {1}
    assert recording.repeated() == {} and set(recording.per_key()) == keys  # one send per (event, requester)


@pytest.fixture
def two_replies_due(cli, sessions, monkeypatch):
    """Two acknowledgements waiting in the outbox, none sent yet."""
    cli("init")
    citizens_reply(sessions, to=None, citizens=[(f"@citizen{i}", ASKS[i]) for i in range(2)])
    with monkeypatch.context() as patch:
        patch.setattr(bot.jobs, "send_due_replies", lambda *_a, **_k: 0)
        cli("run --once")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reply).where(Reply.state == "pending")) == 2


def send_at_the_same_moment(config_file, monkeypatch, claim=outbox._claim_replies) -> list[Exception]:
    """Two workers claim the due replies at the same moment, then send what they won.

    A barrier before the first claim makes both try to claim the same batch; a
    barrier inside the connector's send holds each sender until the other is
    sending too, so that two sends of one reply would overlap.
    """
    config = load_config(config_file)
    runtimes = [Runtime.from_config(config, say=lambda _t: None) for _ in range(2)]
    in_send = threading.Barrier(2)
    for rt in runtimes:
        rt.connectors["sandbox"].barrier = in_send
    claim_together = threading.Barrier(2)
    first_claim = threading.local()

    def wait_then_claim(*args, **kwargs):
        if not getattr(first_claim, "done", False):
            first_claim.done = True
            claim_together.wait(timeout=30)
        return claim(*args, **kwargs)

    monkeypatch.setattr(outbox, "_claim_replies", wait_then_claim)
    errors: list[Exception] = []

    def worker(rt):
        try:
            outbox.send_due_replies(rt.sessions, rt.connectors, max_attempts=3, retry_base_seconds=0.01)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(rt,)) for rt in runtimes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for rt in runtimes:
        rt.close()
    return errors


def test_two_workers_sending_at_the_same_moment_send_each_reply_once(
    two_replies_due, sessions, config_file, monkeypatch, recording
):
    assert send_at_the_same_moment(config_file, monkeypatch) == []
    with sessions() as session:
        replies = session.scalars(select(Reply)).all()
    assert [r.state for r in replies] == ["sent", "sent"]
    assert recording.per_key() == Counter({r.idempotency_key: 1 for r in replies})


def test_the_race_test_sees_a_broken_claim(two_replies_due, sessions, config_file, monkeypatch, recording):
    """The same race with a claim that lets every worker win: the recording sees each reply twice."""

    first = threading.local()

    def claim_without_condition(sessions, *, networks, due_before, limit, worker):
        if getattr(first, "done", False):
            return []
        first.done = True
        with sessions() as session, session.begin():
            ids = list(session.scalars(select(Reply.id).order_by(Reply.id)))
            session.execute(update(Reply).values(state="sending", claimed_by=worker, claimed_at=utcnow()))
        return ids

    assert send_at_the_same_moment(config_file, monkeypatch, claim=claim_without_condition) == []
    with sessions() as session:
        keys = set(session.scalars(select(Reply.idempotency_key)))
    assert recording.repeated() == {key: 2 for key in keys}
