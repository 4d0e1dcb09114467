"""Stopping at any step boundary loses nothing, and running again does nothing twice.

Every test runs on the recording network (tests/fakes/recording.py): like X and
Telegram it keeps a repeated send, so a reply sent twice is seen and fails the test.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

import bot.jobs
from bot.networks.base import NetworkError
from bot.networks.sandbox import timeline
from bot.pipeline import ingest, outbox, route
from storage.models import Post, Reply, Request, utcnow
from tests.fakes.recording import RecordingConnector
from tests.helpers import call_entry_id, citizens_reply, snapshot


class Crash(Exception):
    """Stands for the process dying at that point."""


def crash(*_args, **_kwargs):
    raise Crash("killed here")


@pytest.fixture
def ready(cli, sessions, recording):
    """A posted call with three citizen messages waiting on the network."""
    cli("init")
    cli("campaign create 2027-q1")
    cli("campaign post 2027-q1")
    cli("run --once")
    citizens_reply(sessions, to=call_entry_id(sessions))
    return sessions


def clean_outcome(cli, sessions):
    cli("run --once")
    return snapshot(sessions)


EXPECTED = {
    "requests": 2,
    "events": 2,
    "replies": {"sent": 2},
    "bot_posts": 3,  # the call and two acknowledgements
}


def assert_complete(state):
    assert {key: state[key] for key in EXPECTED} == EXPECTED
    assert len(state["messages"]) == 3
    assert all(count == 1 for _, count in state["answered"]), state["answered"]


def assert_one_send_per_reply(log, sessions):
    """Exactly one send per (status event, requester): every reply row's key, once."""
    with sessions() as session:
        sent = {r.idempotency_key for r in session.scalars(select(Reply).where(Reply.state == "sent"))}
    assert log.repeated() == {}
    assert set(log.per_key()) == sent


@pytest.mark.parametrize(
    "boundary",
    [
        "bot.jobs.classify_pending",  # stored, not classified
        "bot.jobs.route_classified",  # classified, not routed
        "bot.jobs.send_due_replies",  # routed and replies queued, none sent
    ],
)
def test_stop_between_steps_then_run_again(cli, ready, monkeypatch, boundary, recording):
    with monkeypatch.context() as patch:
        patch.setattr(boundary, crash)
        cli("run --once", expect=1)
    assert_complete(clean_outcome(cli, ready))
    before = snapshot(ready)
    cli("run --once")
    assert snapshot(ready) == before
    assert_one_send_per_reply(recording, ready)


def test_crash_while_storing_a_page_keeps_the_cursor_back(cli, ready, monkeypatch, recording):
    with monkeypatch.context() as patch:
        original = ingest.store_messages

        def store_then_die(session, network, incoming):
            original(session, network, incoming)  # rows written in the open transaction...
            raise Crash("...then the process dies before commit")

        patch.setattr(ingest, "store_messages", store_then_die)
        cli("run --once", expect=1)
    assert snapshot(ready)["messages"] == []
    assert_complete(clean_outcome(cli, ready))
    assert_one_send_per_reply(recording, ready)


def test_crash_halfway_through_routing_a_batch(cli, ready, monkeypatch, recording):
    calls = []
    original = route.write_batch

    def write_then_die(session, plan, **kwargs):
        calls.append(original(session, plan, **kwargs))
        # Requests, events and replies are written, not committed yet.
        assert session.scalar(select(func.count()).select_from(Request)) > 0
        raise Crash("dies after writing the batch, before it commits")

    with monkeypatch.context() as patch:
        patch.setattr(route, "write_batch", write_then_die)
        cli("run --once", expect=1)
    assert calls
    assert snapshot(ready)["requests"] == 0  # the batch is one transaction
    assert_complete(clean_outcome(cli, ready))
    assert_one_send_per_reply(recording, ready)


def test_an_error_after_delivery_is_not_resent_on_a_network_without_idempotency(cli, ready, monkeypatch, recording):
    """The network took the reply but the answer was lost: it waits for an officer, never goes twice."""
    original = RecordingConnector.reply

    def deliver_then_fail(self, target, text, *, idempotency_key):
        original(self, target, text, idempotency_key=idempotency_key)
        raise ConnectionResetError("connection reset after the post went through")

    with monkeypatch.context() as patch:
        patch.setattr(RecordingConnector, "reply", deliver_then_fail)
        cli("run --once")
    assert snapshot(ready)["replies"] == {"unknown": 2}
    with ready() as session, session.begin():
        session.execute(update(Reply).values(next_attempt_at=utcnow()))  # time passes
    cli("run --once")
    assert snapshot(ready)["replies"] == {"unknown": 2}
    assert recording.repeated() == {} and len(recording.per_key()) == 2
    with ready() as session:
        assert all("not resent automatically" in r.last_error for r in session.scalars(select(Reply)))


def test_a_read_timeout_after_the_request_left_is_not_resent(cli, ready, monkeypatch, recording):
    """What Telegram's TimedOut and X's read timeout become: outcome unknown, for an officer."""
    original = RecordingConnector.reply

    def deliver_then_time_out(self, target, text, *, idempotency_key):
        original(self, target, text, idempotency_key=idempotency_key)
        raise NetworkError("telegram: TimedOut: Timed out", outcome_unknown=True)

    with monkeypatch.context() as patch:
        patch.setattr(RecordingConnector, "reply", deliver_then_time_out)
        cli("run --once")
    with ready() as session, session.begin():
        session.execute(update(Reply).values(next_attempt_at=utcnow()))
    cli("run --once")
    assert snapshot(ready)["replies"] == {"unknown": 2}
    assert recording.repeated() == {}


def test_process_killed_mid_send_is_recovered_on_an_idempotent_network(cli, ready, monkeypatch, recording):
    monkeypatch.setattr(RecordingConnector, "idempotent_sends", True)  # as Mastodon: a stale claim is retried
    with monkeypatch.context() as patch:
        patch.setattr(RecordingConnector, "reply", crash)
        # A kill between claim and send leaves the claim; replay that state directly.
        patch.setattr(bot.jobs, "send_due_replies", crash)
        cli("run --once", expect=1)
    with ready() as session, session.begin():
        session.execute(update(Reply).values(state="sending", claimed_at=utcnow() - timedelta(hours=1)))
    assert_complete(clean_outcome(cli, ready))
    assert_one_send_per_reply(recording, ready)


def test_killed_mid_send_on_a_network_without_idempotency_is_never_resent(cli, ready, recording):
    cli("run --once")  # everything sent once
    with ready() as session, session.begin():
        session.execute(update(Reply).values(state="sending", claimed_at=utcnow() - timedelta(hours=1)))
    cli("run --once")
    state = snapshot(ready)
    assert state["replies"] == {"unknown": 2}  # for an officer to check, never resent on its own
    assert state["bot_posts"] == 3
    assert recording.repeated() == {}
    with ready() as session:
        assert all("not resent" in r.last_error for r in session.scalars(select(Reply)))


@pytest.mark.parametrize("went_out", [True, False])
def test_a_call_killed_mid_send_is_looked_for_where_the_network_lists_its_posts(cli, sessions, recording,
                                                                               monkeypatch, went_out):
    """As on X: `datacall run` finds the call it had posted before the kill, or posts it once."""
    monkeypatch.setattr(RecordingConnector, "finds_own_posts", True)
    cli("init")
    cli("campaign create 2027-q1")
    cli("campaign post 2027-q1")
    if went_out:
        cli("run --once")  # the call went out...
    with sessions() as session, session.begin():  # ...or not; either way the kill left it claimed, unrecorded
        session.execute(update(Post).values(
            state="sending", external_id=None, url=None, posted_at=None, claimed_by="gone",
            claimed_at=utcnow() - timedelta(hours=1), send_started_at=utcnow() - timedelta(seconds=30),
        ))
    cli("run --once")
    assert len(recording.per_key("post")) == 1 and recording.repeated("post") == {}
    with sessions() as session:
        call = session.scalars(select(Post)).one()
        assert (call.state, call.external_id) == ("posted", str(only_bot_entry_id(session)))
        assert (call.last_error == outbox.FOUND_SENT) is went_out


def only_bot_entry_id(session) -> int:
    [entry] = timeline(session, from_bot=True)
    return entry.id


def test_fresh_claim_is_left_to_its_worker(cli, ready):
    cli("run --once")
    with ready() as session, session.begin():
        session.execute(update(Reply).values(state="sending", claimed_at=utcnow()))
    cli("run --once")
    assert snapshot(ready)["replies"] == {"sending": 2}


def test_failing_reply_goes_dead_after_max_attempts(cli, ready, monkeypatch, write_config, db_url):
    """Only a refusal that would come again counts (an outage does not: tests/test_claims.py)."""
    config = write_config(
        f'[database]\nurl = "{db_url}"\n[replies]\nmax_attempts = 2\nretry_base_seconds = 0.001\n', "two.toml"
    )

    def refused_before_sending(*_args, **_kwargs):
        raise NetworkError("400 Bad Request", transient=False)

    monkeypatch.setattr(RecordingConnector, "reply", refused_before_sending)
    cli("run --once", config=config)
    with ready() as session, session.begin():
        session.execute(update(Reply).values(next_attempt_at=utcnow()))
    cli("run --once", config=config)
    assert snapshot(ready)["replies"] == {"dead": 2}


def test_a_failing_network_is_paused_then_catches_up_with_nothing_lost(cli, ready, monkeypatch):
    from storage.models import NetworkCursor

    with monkeypatch.context() as patch:
        patch.setattr(RecordingConnector, "fetch", lambda *a, **k: (_ for _ in ()).throw(OSError("503 from network")))
        for _ in range(3):
            assert "poll:sandbox: failed" in cli("run --once", expect=1).output
    with ready() as session:
        row = session.get(NetworkCursor, "sandbox")
        assert row.consecutive_failures == 3 and row.paused_until is not None
        assert "503" in row.last_error
    assert "paused until" in cli("status").output
    with monkeypatch.context() as patch:
        patch.setattr(RecordingConnector, "whoami", lambda *a, **k: (_ for _ in ()).throw(OSError("503")))
        cli("run --once")  # paused, and the probe gets no answer: the poll does not even call the network
    assert snapshot(ready)["messages"] == []
    # The network answers again: the next pass's probe ends the pause at once, no waiting for it to run out.
    assert_complete(clean_outcome(cli, ready))
    with ready() as session:
        assert session.get(NetworkCursor, "sandbox").consecutive_failures == 0


def test_network_asking_to_wait_is_paused_for_that_long(cli, ready, monkeypatch):
    from storage.models import NetworkCursor

    def too_many(*_a, **_k):
        raise NetworkError("429 Too Many Requests", retry_after=120)

    monkeypatch.setattr(RecordingConnector, "fetch", too_many)
    cli("run --once", expect=1)
    with ready() as session:
        pause = session.get(NetworkCursor, "sandbox").paused_until - utcnow()
    assert timedelta(seconds=100) < pause <= timedelta(seconds=120)


def test_replies_to_a_network_that_says_slow_down_wait_for_the_next_pass(cli, ready, monkeypatch):

    calls = []

    def slow_down(self, target, text, *, idempotency_key):
        calls.append(idempotency_key)
        raise NetworkError("429", retry_after=60)

    monkeypatch.setattr(RecordingConnector, "reply", slow_down)
    cli("run --once")
    assert len(calls) == 1  # the second reply was not even tried
    with ready() as session:
        replies = session.scalars(select(Reply).order_by(Reply.id)).all()
        assert [r.state for r in replies] == ["failed", "pending"]
        assert replies[0].next_attempt_at - utcnow() > timedelta(seconds=50)
