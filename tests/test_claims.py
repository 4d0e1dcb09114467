"""Claims name their worker: a worker that restarts takes its own back at once, others wait for the lease;
a taken-back reply that may have left is looked for before it is resent; outages do not use up attempts.

The replies go to the recording network (tests/fakes/recording.py), which keeps every send, so a reply
sent twice is seen. With `finds_own_replies` it plays X (its own timeline is searched), without it Telegram.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.networks.base import NetworkError
from bot.networks.sandbox import SandboxConnector, say
from bot.pipeline import outbox
from bot.pipeline.outbox import Claims, send_due_replies
from bot.pipeline.replies import ReplyWriter
from bot.pipeline.route import open_request
from bot.replies.render import load_templates
from bot.worker import Heartbeat
from storage import queries, workers
from storage.models import Reply, Requester, Worker, utcnow
from tests.fakes.recording import RecordingConnector, SendLog
from tests.web_support import add_message

ASKS = [
    "Please publish the bike counter data per hour as CSV",
    "Could you open the list of public toilets with opening hours?",
    "Merci de publier les menus des cantines en open data",
]
RETRY = {"max_attempts": 3, "retry_base_seconds": 0.01}
LEASE = 30.0


@pytest.fixture
def network(sessions):
    return RecordingConnector(sessions, log=SendLog())


def queue_replies(sessions, count: int = 2) -> list[int]:
    """`count` acknowledgements waiting in the outbox, each answering a citizen's sandbox entry."""
    writer = ReplyWriter(templates=load_templates(), networks={"sandbox": SandboxConnector(sessions)},
                         default_language="en")
    with sessions() as session, session.begin():
        for index in range(count):
            entry = say(session, f"@citizen{index}", ASKS[index])
            message = add_message(session, f"@citizen{index}", ASKS[index], external_id=str(entry.id))
            open_request(session, message, writer=writer)
    with sessions() as session:
        return list(session.scalars(select(Reply.id).order_by(Reply.id)))


def claim_as(sessions, worker: str, *, started: int = 1, sent_by: RecordingConnector | None = None) -> list[int]:
    """`worker` claims the due replies and starts the first `started`; with `sent_by`, those went out."""
    ids = outbox._claim_replies(sessions, networks=["sandbox"], due_before=utcnow(), limit=100, worker=worker)
    with sessions() as session, session.begin():
        workers.beat(session, worker, now=utcnow(), starting=True)
        for reply_id in ids[:started]:
            assert reply_id in queries.mark_sends_started(session, [reply_id], worker=worker, now=utcnow())
    if sent_by is not None:
        with sessions() as session:
            sends = [(outbox.reply_target(reply.message), reply.text, reply.idempotency_key)
                     for reply in (session.get(Reply, reply_id) for reply_id in ids[:started])]
        for target, text, key in sends:
            sent_by.reply(target, text, idempotency_key=key)
    return ids


def states(sessions) -> list[tuple[str, str | None]]:
    with sessions() as session:
        return [(r.state, r.claimed_by) for r in session.scalars(select(Reply).order_by(Reply.id))]


def age(sessions, worker: str, seconds: float) -> None:
    """`worker` fell silent `seconds` ago: its heartbeat and its claims are that old."""
    then = utcnow() - timedelta(seconds=seconds)
    with sessions() as session, session.begin():
        session.execute(update(Worker).where(Worker.name == worker).values(heartbeat_at=then))
        session.execute(update(Reply).where(Reply.claimed_by == worker).values(claimed_at=then))


def test_a_batch_is_claimed_in_one_statement_and_only_the_reply_on_its_way_is_started(sessions):
    ids = queue_replies(sessions, 3)
    with sessions() as session, session.begin():
        session.get(Requester, session.get(Reply, ids[1]).requester_id).opted_out = True
    claimed = outbox._claim_replies(sessions, networks=["sandbox"], due_before=utcnow(), limit=100, worker="w1")
    assert claimed == [ids[0], ids[2]]  # consent re-checked in the claim itself
    with sessions() as session:
        rows = [session.get(Reply, i) for i in ids]
        assert [(r.state, r.claimed_by, r.send_started_at) for r in rows] == [
            ("sending", "w1", None), ("pending", None, None), ("sending", "w1", None)
        ]
    assert outbox._claim_replies(sessions, networks=["sandbox"], due_before=utcnow(), limit=100, worker="w2") == []


def test_a_restarting_worker_takes_back_its_own_claims_at_once(sessions, network, monkeypatch):
    monkeypatch.setattr(RecordingConnector, "finds_own_replies", True)  # as X: its own timeline can be read
    queue_replies(sessions, 2)
    claim_as(sessions, "w1", started=1, sent_by=network)  # killed right after the first one went out
    # Restarted at once: its heartbeat is fresh, yet it knows its claims are a dead process's.
    heartbeat = Heartbeat(sessions, "w1", lease_seconds=LEASE)
    try:
        assert heartbeat.start() == 2
        assert send_due_replies(sessions, {"sandbox": network}, claims=Claims("w1", LEASE), **RETRY) == 2
    finally:
        heartbeat.stop()
    assert [state for state, _ in states(sessions)] == ["sent", "sent"]
    assert network.log.repeated() == {} and len(network.log.per_key()) == 2  # the first was found, not resent
    with sessions() as session:
        first = session.scalars(select(Reply).order_by(Reply.id)).first()
        assert first.last_error == outbox.FOUND_SENT and first.external_id is not None


def test_another_worker_waits_for_the_lease_then_takes_the_claims(sessions, network, monkeypatch):
    monkeypatch.setattr(RecordingConnector, "finds_own_replies", True)
    queue_replies(sessions, 2)
    claim_as(sessions, "w1", started=1)  # died as the first send was starting: it never reached the network
    w2 = Claims("w2", LEASE)
    assert send_due_replies(sessions, {"sandbox": network}, claims=w2, **RETRY) == 0
    assert states(sessions) == [("sending", "w1"), ("sending", "w1")]  # w1 may still be alive
    age(sessions, "w1", LEASE - 5)
    send_due_replies(sessions, {"sandbox": network}, claims=w2, **RETRY)
    assert states(sessions) == [("sending", "w1"), ("sending", "w1")]  # not yet
    age(sessions, "w1", LEASE + 1)
    assert send_due_replies(sessions, {"sandbox": network}, claims=w2, **RETRY) == 2
    assert [state for state, _ in states(sessions)] == ["sent", "sent"]
    assert network.log.repeated() == {} and len(network.log.per_key()) == 2  # looked for, not there: sent once


def test_a_live_worker_keeps_its_claims_however_long_its_send_takes(sessions, network):
    queue_replies(sessions, 1)
    claim_as(sessions, "w1", started=1)
    with sessions() as session, session.begin():  # claimed ten minutes ago, but its heartbeat is fresh
        session.execute(update(Reply).values(claimed_at=utcnow() - timedelta(minutes=10)))
    assert send_due_replies(sessions, {"sandbox": network}, claims=Claims("w2", LEASE), **RETRY) == 0
    assert states(sessions) == [("sending", "w1")]
    assert network.log.sends == []


def test_a_taken_back_reply_on_a_network_that_cannot_tell_becomes_unknown(sessions, network):
    """As Telegram: no API lists the bot's sent messages, so an officer checks; the unstarted one is sent."""
    queue_replies(sessions, 2)
    claim_as(sessions, "w1", started=1, sent_by=network)
    age(sessions, "w1", LEASE + 1)
    assert send_due_replies(sessions, {"sandbox": network}, claims=Claims("w2", LEASE), **RETRY) == 1
    with sessions() as session:
        rows = session.scalars(select(Reply).order_by(Reply.id)).all()
        assert [r.state for r in rows] == ["unknown", "sent"]
        assert rows[0].last_error == outbox.INTERRUPTED
    assert network.log.repeated() == {}


def test_a_taken_back_reply_on_an_idempotent_network_is_simply_resent(sessions, network, monkeypatch):
    """As Mastodon: the repeated Idempotency-Key makes the resend safe, so nothing is looked up."""
    monkeypatch.setattr(RecordingConnector, "idempotent_sends", True)
    monkeypatch.setattr(RecordingConnector, "find_own_reply", lambda *a, **k: pytest.fail("no lookup needed"))
    queue_replies(sessions, 1)
    claim_as(sessions, "w1", started=1)
    age(sessions, "w1", LEASE + 1)
    assert send_due_replies(sessions, {"sandbox": network}, claims=Claims("w2", LEASE), **RETRY) == 1


def test_a_lookup_that_fails_for_now_leaves_the_reply_for_a_later_look(sessions, network, monkeypatch):
    monkeypatch.setattr(RecordingConnector, "finds_own_replies", True)

    def down(*_a, **_k):
        raise NetworkError("503 Service Unavailable")

    queue_replies(sessions, 1)
    claim_as(sessions, "w1", started=1)
    age(sessions, "w1", LEASE + 1)
    with monkeypatch.context() as patch:
        patch.setattr(RecordingConnector, "find_own_reply", down)
        send_due_replies(sessions, {"sandbox": network}, claims=Claims("w2", LEASE), **RETRY)
    assert states(sessions) == [("sending", None)]  # free for whoever looks after the lease; never resent blind
    assert network.log.sends == []
    with sessions() as session, session.begin():
        session.execute(update(Reply).values(claimed_at=utcnow() - timedelta(seconds=LEASE + 1)))
    send_due_replies(sessions, {"sandbox": network}, claims=Claims("w2", LEASE), **RETRY)
    assert states(sessions) == [("sent", None)] and len(network.log.sends) == 1


def test_a_timeout_after_the_request_left_is_looked_for_after_the_lease_where_the_network_can_tell(
    sessions, network, monkeypatch
):
    monkeypatch.setattr(RecordingConnector, "finds_own_replies", True)
    original = RecordingConnector.reply

    def deliver_then_time_out(self, target, text, *, idempotency_key):
        original(self, target, text, idempotency_key=idempotency_key)
        raise NetworkError("X POST /2/tweets: ReadTimeout", outcome_unknown=True)

    queue_replies(sessions, 1)
    with monkeypatch.context() as patch:
        patch.setattr(RecordingConnector, "reply", deliver_then_time_out)
        send_due_replies(sessions, {"sandbox": network}, claims=Claims("w1", LEASE), **RETRY)
    with sessions() as session:
        reply = session.scalars(select(Reply)).one()
        assert (reply.state, reply.claimed_by) == ("sending", None) and outbox.TO_CHECK in reply.last_error
    with sessions() as session, session.begin():
        session.execute(update(Reply).values(claimed_at=utcnow() - timedelta(seconds=LEASE + 1)))
    assert send_due_replies(sessions, {"sandbox": network}, claims=Claims("w1", LEASE), **RETRY) == 1
    assert states(sessions) == [("sent", None)]
    assert network.log.repeated() == {} and len(network.log.sends) == 1


def test_an_outage_streak_does_not_use_up_attempts_but_lengthens_the_backoff(sessions, network, monkeypatch):
    monkeypatch.setattr(outbox.random, "uniform", lambda low, high: high)  # the backoff's ceiling, no jitter

    def unavailable(*_a, **_k):
        raise NetworkError("503 Service Unavailable")

    monkeypatch.setattr(RecordingConnector, "reply", unavailable)
    queue_replies(sessions, 1)
    delays = []
    for _ in range(6):  # more 503s in a row than max_attempts
        before = utcnow()
        send_due_replies(sessions, {"sandbox": network}, max_attempts=3, retry_base_seconds=10)
        after = utcnow()
        with sessions() as session, session.begin():
            reply = session.scalars(select(Reply)).one()
            # The delay counts from the failure, somewhere in the pass: between these two bounds.
            delays.append(((reply.next_attempt_at - after).total_seconds(),
                           (reply.next_attempt_at - before).total_seconds()))
            reply.next_attempt_at = utcnow()  # time passes
    with sessions() as session:
        reply = session.scalars(select(Reply)).one()
        assert (reply.state, reply.attempts, reply.transient_failures) == ("failed", 0, 6)
    expected = [10, 20, 40, 80, 160, 320]
    assert all(low <= delay <= high for (low, high), delay in zip(delays, expected, strict=True)), delays


def test_an_error_that_would_repeat_uses_up_attempts(sessions, network, monkeypatch):
    def refused(*_a, **_k):
        raise NetworkError("400 Bad Request: text refused", transient=False)

    monkeypatch.setattr(RecordingConnector, "reply", refused)
    queue_replies(sessions, 1)
    for _ in range(3):
        send_due_replies(sessions, {"sandbox": network}, **RETRY)
        with sessions() as session, session.begin():
            session.execute(update(Reply).values(next_attempt_at=utcnow()))
    with sessions() as session:
        reply = session.scalars(select(Reply)).one()
        assert (reply.state, reply.attempts, reply.transient_failures) == ("dead", 3, 0)


def test_a_failed_reply_is_not_retried_in_the_same_pass(sessions, network, monkeypatch):
    calls = []

    def unavailable(*_a, **_k):
        calls.append(1)
        raise NetworkError("503 Service Unavailable")

    monkeypatch.setattr(RecordingConnector, "reply", unavailable)
    queue_replies(sessions, 2)
    send_due_replies(sessions, {"sandbox": network}, max_attempts=3, retry_base_seconds=0.000001)
    assert len(calls) == 2


def test_a_stop_ends_the_batch_after_the_reply_on_its_way_and_releases_the_rest(sessions, network):
    queue_replies(sessions, 3)
    sent = []
    original = network.reply

    def reply(*args, **kwargs):
        sent.append(1)
        return original(*args, **kwargs)

    network.reply = reply
    assert send_due_replies(sessions, {"sandbox": network}, claims=Claims("w1", LEASE), stopping=lambda: bool(sent),
                            **RETRY) == 1
    with sessions() as session:
        rows = session.scalars(select(Reply).order_by(Reply.id)).all()
        assert [(r.state, r.claimed_by, r.send_started_at) for r in rows[1:]] == [("pending", None, None)] * 2
        assert rows[0].state == "sent"


def test_the_heartbeat_keeps_beating_while_the_worker_runs(sessions):
    heartbeat = Heartbeat(sessions, "w1", lease_seconds=3)  # a beat per second
    heartbeat.start()
    try:
        with sessions() as session:
            first = session.get(Worker, "w1").heartbeat_at
        deadline = utcnow() + timedelta(seconds=10)
        while utcnow() < deadline:
            with sessions() as session:
                if session.get(Worker, "w1").heartbeat_at > first:
                    break
        else:
            pytest.fail("no second heartbeat")
    finally:
        heartbeat.stop()


# The same recovery through the real X connector (tweepy) against the fake X API.

def x_reply_waiting(sessions, fake, x):
    """A citizen's tweet answering our call, and the acknowledgement waiting for it in the outbox."""
    call = fake.bot_tweet("Which data would you like us to open? Reply here.")
    tweet = fake.citizen_reply(call, "camille_velo", "Could you publish the bike counts per hour?")
    writer = ReplyWriter(templates=load_templates(), networks={"twitter": x}, default_language="en")
    with sessions() as session, session.begin():
        message = add_message(session, "@camille_velo", "Could you publish the bike counts per hour?",
                              network="twitter", external_id=tweet)
        open_request(session, message, writer=writer)
    return tweet


@pytest.mark.parametrize("went_out", [True, False])
def test_a_taken_back_x_reply_is_looked_for_on_the_timeline_before_any_resend(sessions, x_network, went_out):
    fake, x = x_network
    tweet = x_reply_waiting(sessions, fake, x)
    [reply_id] = outbox._claim_replies(sessions, networks=["twitter"], due_before=utcnow(), limit=100, worker="w1")
    with sessions() as session, session.begin():
        workers.beat(session, "w1", now=utcnow(), starting=True)
        assert reply_id in queries.mark_sends_started(session, [reply_id], worker="w1", now=utcnow())
        reply = session.get(Reply, reply_id)
        target, text, key = outbox.reply_target(reply.message), reply.text, reply.idempotency_key
    posted = x.reply(target, text, idempotency_key=key).external_id if went_out else None  # then w1 is killed
    heartbeat = Heartbeat(sessions, "w1", lease_seconds=LEASE)
    try:
        heartbeat.start()  # w1 restarts
        assert send_due_replies(sessions, {"twitter": x}, claims=Claims("w1", LEASE), **RETRY) == 1
    finally:
        heartbeat.stop()
    replies_on_x = [t for t in fake.posts_by_bot() if t.get("referenced_tweets") == [{"type": "replied_to",
                                                                                      "id": tweet}]]
    assert len(replies_on_x) == 1  # exactly one answer on X, whether or not the first send went out
    assert len(fake.calls("GET /2/users/:id/tweets")) == 1
    with sessions() as session:
        reply = session.get(Reply, reply_id)
        assert (reply.state, reply.external_id) == ("sent", replies_on_x[0]["id"])
        assert (reply.last_error == outbox.FOUND_SENT) is went_out
    if went_out:
        assert replies_on_x[0]["id"] == posted


def test_run_once_beats_under_the_host_name_and_status_shows_it(cli, sessions):
    import socket

    cli("init")
    cli("run --once")
    with sessions() as session:
        assert [w.name for w in session.scalars(select(Worker))] == [socket.gethostname()]
    assert f"worker heartbeats: {socket.gethostname()} (" in cli("status").output
