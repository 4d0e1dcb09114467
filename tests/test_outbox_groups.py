"""The outbox sends in groups where a crash mid-group costs nothing (the network drops a repeated send),
one reply at a time elsewhere; the sandbox takes a group in one transaction.

A group is marked as started in one statement before the network calls, and its outcomes are recorded
in one transaction with the next group's start mark, so sending costs a few transactions per group,
not several per reply, and every exactly-once guarantee of the outbox holds.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, update

from bot.networks.base import OutgoingReply, ReplyTarget
from bot.networks.sandbox import SandboxConnector, say, timeline
from bot.pipeline import outbox
from bot.pipeline.outbox import Claims, send_due_replies
from bot.pipeline.replies import ReplyWriter
from bot.pipeline.route import open_request
from bot.replies.render import load_templates
from bot.worker import Heartbeat
from storage import queries
from storage.models import Reply, Requester
from tests.fakes.recording import RecordingConnector, SendLog
from tests.web_support import add_message

RETRY = {"max_attempts": 3, "retry_base_seconds": 0.01}
LEASE = 30.0


def queue_replies(sessions, count: int) -> list[int]:
    """`count` acknowledgements waiting in the outbox, each to a different citizen's sandbox entry."""
    writer = ReplyWriter(templates=load_templates(), networks={"sandbox": SandboxConnector(sessions)},
                         default_language="en")
    with sessions() as session, session.begin():
        for index in range(count):
            text = f"Please publish the bike counter data of district {index} per hour"
            entry = say(session, f"@citizen{index}", text)
            message = add_message(session, f"@citizen{index}", text, external_id=str(entry.id))
            open_request(session, message, writer=writer)
    with sessions() as session:
        return list(session.scalars(select(Reply.id).order_by(Reply.id)))


def replies(sessions) -> list[Reply]:
    with sessions() as session:
        return list(session.scalars(select(Reply).order_by(Reply.id)))


def bot_entries(sessions) -> list:
    with sessions() as session:
        return timeline(session, from_bot=True)


def commits_while(engine, action) -> int:
    """How many transactions `action` committed."""
    commits = []
    listener = lambda _connection: commits.append(1)  # noqa: E731 - removed below
    event.listen(engine, "commit", listener)
    try:
        action()
    finally:
        event.remove(engine, "commit", listener)
    return len(commits)


def test_the_sandbox_takes_a_group_in_one_call_keeping_one_entry_per_key(sessions):
    sandbox = SandboxConnector(sessions, max_length=60)
    with sessions() as session, session.begin():
        asked = [say(session, f"@c{n}", f"Please open dataset {n}").id for n in range(3)]
    earlier = sandbox.reply(ReplyTarget(str(asked[0]), "u-c0", "@c0"), "Thanks, noted!", idempotency_key="k0")
    group = [
        OutgoingReply(ReplyTarget(str(asked[0]), "u-c0", "@c0"), "Thanks, noted!", "k0"),  # sent before
        OutgoingReply(ReplyTarget(str(asked[1]), "u-c1", "@c1", is_private=True), "Thanks, noted!", "k1"),
        OutgoingReply(ReplyTarget(str(asked[2]), "u-c2", "@c2"), "x" * 61, "k2"),  # too long for this network
        OutgoingReply(ReplyTarget(str(asked[1]), "u-c1", "@c1", is_private=True), "Thanks, noted!", "k1"),
    ]
    first, second, too_long, again = sandbox.reply_all(group)
    assert first == earlier
    assert isinstance(too_long, ValueError) and "exceeds 60" in str(too_long)
    assert again == second and second.external_id not in {earlier.external_id}
    entries = bot_entries(sessions)
    assert [(e.idempotency_key, e.in_reply_to_id, e.is_private) for e in entries] == [
        ("k0", asked[0], False), ("k1", asked[1], True)
    ]
    assert second.external_id == str(entries[1].id)


@pytest.mark.parametrize("count", [3, 12])
def test_on_the_sandbox_a_batch_costs_the_same_few_transactions_whatever_its_size(sessions, engine, count):
    queue_replies(sessions, count)
    sandbox = SandboxConnector(sessions)
    commits = commits_while(engine, lambda: send_due_replies(sessions, {"sandbox": sandbox}, **RETRY))
    assert [r.state for r in replies(sessions)] == ["sent"] * count
    assert sorted(r.external_id for r in replies(sessions)) == sorted(str(e.id) for e in bot_entries(sessions))
    # Take-back, drops, claim, start mark, the sandbox's insert, record + look for more, release, claim again.
    assert commits <= 8


def test_where_a_repeat_reaches_the_citizen_each_reply_is_started_alone(sessions):
    queue_replies(sessions, 3)
    network = RecordingConnector(sessions, log=SendLog())
    started_at_send = []
    original = network.reply

    def reply(target, text, *, idempotency_key):
        with sessions() as session:
            started_at_send.append(session.scalar(select(Reply.idempotency_key).where(
                Reply.state == queries.SENDING, Reply.send_started_at.is_not(None))))
        return original(target, text, idempotency_key=idempotency_key)

    network.reply = reply
    assert send_due_replies(sessions, {"sandbox": network}, **RETRY) == 3
    assert started_at_send == [r.idempotency_key for r in replies(sessions)]  # one started reply, the one sent


@pytest.mark.parametrize("taken", [True, False])
def test_a_worker_killed_mid_group_on_the_sandbox_sends_each_reply_once_after_its_restart(
    sessions, monkeypatch, taken
):
    """Killed while the group was at the network, which took it (or not): the restart sends it again,
    and the network keeps one entry per reply."""
    queue_replies(sessions, 4)
    sandbox = SandboxConnector(sessions)
    real = SandboxConnector.reply_all

    def killed(self, group, *, stop=lambda: False):
        if taken:
            real(self, group, stop=stop)
        raise KeyboardInterrupt  # stands for the SIGKILL: nothing after this runs in the worker

    heartbeat = Heartbeat(sessions, "w1", lease_seconds=LEASE)
    heartbeat.start()
    try:
        with monkeypatch.context() as patch:
            patch.setattr(SandboxConnector, "reply_all", killed)
            patch.setattr(queries, "release_claims", lambda *_a, **_k: 0)  # killed: no clean-up either
            with pytest.raises(KeyboardInterrupt):
                send_due_replies(sessions, {"sandbox": sandbox}, claims=Claims("w1", LEASE), **RETRY)
        # The whole group was marked as started before the call, and nothing recorded after it.
        assert [(r.state, r.claimed_by, r.send_started_at is not None) for r in replies(sessions)] == [
            ("sending", "w1", True)] * 4
        assert len(bot_entries(sessions)) == (4 if taken else 0)
    finally:
        heartbeat.stop()
    restarted = Heartbeat(sessions, "w1", lease_seconds=LEASE)
    try:
        assert restarted.start() == 4  # its own claims, back at once
        assert send_due_replies(sessions, {"sandbox": sandbox}, claims=Claims("w1", LEASE), **RETRY) == 4
    finally:
        restarted.stop()
    entries = bot_entries(sessions)
    assert len(entries) == 4 and len({e.idempotency_key for e in entries}) == 4
    assert [(r.state, r.attempts) for r in replies(sessions)] == [("sent", 1)] * 4
    assert sorted(r.external_id for r in replies(sessions)) == sorted(str(e.id) for e in entries)


@pytest.fixture
def idempotent_recording(sessions, monkeypatch):
    """The recording network playing one that drops repeats (groups), sending one reply at a time."""
    monkeypatch.setattr(RecordingConnector, "idempotent_sends", True)
    return RecordingConnector(sessions, log=SendLog())


def test_a_stop_mid_group_leaves_the_untried_replies_unstarted_and_waiting(sessions, idempotent_recording):
    queue_replies(sessions, 3)
    network = idempotent_recording
    assert send_due_replies(sessions, {"sandbox": network}, claims=Claims("w1", LEASE),
                            stopping=lambda: bool(network.log.sends), **RETRY) == 1
    assert [(r.state, r.claimed_by, r.send_started_at) for r in replies(sessions)[1:]] == [("pending", None, None)] * 2
    assert replies(sessions)[0].state == "sent" and len(network.log.sends) == 1


def test_a_group_sends_for_a_bounded_time_then_consent_is_checked_again(sessions, idempotent_recording, monkeypatch):
    """The second citizen says stop while the first reply is on its way: the rest of the group had its
    consent checked at the group's start, so once the group's time is up they are checked again."""
    monkeypatch.setattr(outbox, "SEND_GROUP_SECONDS", 0.0)
    ids = queue_replies(sessions, 3)
    network = idempotent_recording
    original = network.reply

    def reply(target, text, *, idempotency_key):
        if not network.log.sends:
            with sessions() as session, session.begin():
                second = session.get(Reply, ids[1])
                session.execute(update(Requester).where(Requester.id == second.requester_id).values(opted_out=True))
        return original(target, text, idempotency_key=idempotency_key)

    network.reply = reply
    assert send_due_replies(sessions, {"sandbox": network}, **RETRY) == 2
    states = [(r.state, r.send_started_at) for r in replies(sessions)]
    assert [state for state, _ in states] == ["sent", "pending", "sent"] and states[1][1] is None
    keys = [r.idempotency_key for r in replies(sessions)]
    assert list(network.log.per_key()) == [keys[0], keys[2]]
