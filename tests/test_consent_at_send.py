"""Consent is checked when a reply is sent: nothing reaches an erased or opted-out requester,
whatever put the reply back in the outbox (web Retry, `reply resend`, a stale claim, a status change).

Runs on the recording network, which keeps every send (tests/fakes/recording.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from bot.networks.sandbox import say
from bot.pipeline import outbox
from storage.erasure import ERASED_REASON
from storage.models import Reply, Requester, StatusEvent, utcnow
from tests.fakes.recording import RecordingConnector
from tests.web_support import login, post

CITIZENS = [
    ("@camille_velo", "Please publish the bike counts per counter and per hour"),
    ("@data_dev_ana", "Is there an API for real-time bus positions? A GTFS-RT feed would be great."),
]


@pytest.fixture
def answered(cli, sessions, recording):
    """Two requests from two people, both acknowledged once; camille's is #1."""
    cli("init")
    with sessions() as session, session.begin():
        for handle, text in CITIZENS:
            say(session, handle, text)
    cli("run --once")
    assert len(recording.per_key()) == 2
    return sessions


def replies_of(sessions, handle: str) -> list[Reply]:
    with sessions() as session:
        return session.scalars(
            select(Reply).join(Requester, Requester.id == Reply.requester_id)
            .where(Requester.handle == handle).options(joinedload(Reply.status_event)).order_by(Reply.id)
        ).all()


def camille_waits_in_every_state(cli, sessions) -> list[int]:
    """Three status replies to camille: one pending, one failed (retrying), one claimed by a worker."""
    cli("request set-status 1 under_review")
    cli("request set-status 1 accepted")
    cli("request set-status 1 in_progress")
    with sessions() as session, session.begin():
        waiting = session.scalars(
            select(Reply).join(StatusEvent).where(StatusEvent.status != "received", StatusEvent.request_id == 1)
            .order_by(Reply.id)
        ).all()
        for reply, state in zip(waiting, ("pending", "failed", "sending"), strict=False):
            reply.state, reply.claimed_at = state, utcnow()
        return [reply.id for reply in waiting]


def states(sessions, ids: list[int]) -> list[tuple[str, str | None]]:
    with sessions() as session:
        return [(r.state, r.last_error) for r in (session.get(Reply, i) for i in ids)]


def test_erase_drops_pending_failed_and_claimed_replies(cli, answered, recording):
    ids = camille_waits_in_every_state(cli, answered)
    result = cli("requester erase sandbox @camille_velo --yes")
    assert "3 waiting reply(ies) dropped" in result.output
    assert states(answered, ids) == [("dead", ERASED_REASON)] * 3
    cli("run --once")
    assert len(recording.per_key()) == 2  # nothing more went out


def test_stop_drops_pending_failed_and_claimed_replies_with_the_same_query(cli, answered, recording):
    ids = camille_waits_in_every_state(cli, answered)
    with answered() as session, session.begin():
        say(session, "@camille_velo", "/stop")
    cli("run --once")
    assert [state for state, _ in states(answered, ids)] == ["dead"] * 3
    assert all("opted out" in error for _, error in states(answered, ids))
    sent = [send.text for send in recording.sends if send.kind == "reply"]
    assert len(sent) == 3 and "no more messages" in sent[-1]  # only the confirmation of /stop


def test_web_retry_of_an_erased_persons_reply_is_refused_and_nothing_is_sent(
    cli, answered, recording, client, users
):
    cli("request set-status 1 under_review")
    cli("requester erase sandbox @camille_velo --yes")
    reply = replies_of(answered, "@camille_velo")  # the handle is gone: find the reply by request
    assert reply == []
    with answered() as session:
        dead = session.scalars(select(Reply).join(StatusEvent).where(
            StatusEvent.request_id == 1, StatusEvent.status == "under_review"
        )).one()
    assert dead.state == "dead"
    login(client)
    page = "/queue/requests/1"
    post(client, f"{page}/replies/{dead.id}/retry", page=page)
    assert "was erased or opted out; nothing is sent to them" in client.get(page).text
    with answered() as session:
        assert session.get(Reply, dead.id).state == "dead"
    cli("run --once")
    assert len(recording.per_key()) == 2


def test_cli_resend_to_an_opted_out_requester_is_refused(cli, answered):
    cli("request set-status 1 under_review")
    with answered() as session, session.begin():
        session.execute(update(Reply).where(Reply.state == "pending").values(state="dead", last_error="boom"))
        session.scalar(select(Requester).where(Requester.handle == "@camille_velo")).opted_out = True
    dead = [r for r in replies_of(answered, "@camille_velo") if r.state == "dead"][0]
    result = cli(f"reply resend {dead.id}", expect=2)
    assert "opted out" in result.output


def test_a_stale_claim_recovered_after_an_opt_out_is_dropped_not_sent(cli, answered, recording, monkeypatch):
    """The claim went stale on a network that would resend it; meanwhile the person said stop."""
    monkeypatch.setattr(RecordingConnector, "idempotent_sends", True)
    cli("request set-status 1 under_review")
    with answered() as session, session.begin():
        session.execute(update(Reply).where(Reply.state == "pending").values(
            state="sending", claimed_at=utcnow() - timedelta(hours=1)
        ))
        # Opted out by a path that left the claimed reply alone (an older version, a manual fix).
        session.scalar(select(Requester).where(Requester.handle == "@camille_velo")).opted_out = True
    cli("run --once")
    assert len(recording.per_key()) == 2
    revived = [r for r in replies_of(answered, "@camille_velo") if r.status_event.status == "under_review"]
    assert [(r.state, r.last_error) for r in revived] == [("dead", outbox.NO_CONSENT)]


def test_the_claim_itself_refuses_a_reply_whose_requester_just_opted_out(cli, answered):
    """The race: a worker read the reply as due, the person opted out, then the worker claims it."""
    cli("request set-status 1 under_review")
    reply = [r for r in replies_of(answered, "@camille_velo") if r.state == "pending"][0]
    with answered() as session, session.begin():
        session.scalar(select(Requester).where(Requester.handle == "@camille_velo")).opted_out = True
    assert outbox._claim(answered, Reply, reply.id, "sending") is False
    assert states(answered, [reply.id]) == [("pending", None)]


def test_a_bulk_status_change_tells_only_who_may_be_told(cli, answered, recording, client, users):
    with answered() as session, session.begin():
        session.scalar(select(Requester).where(Requester.handle == "@camille_velo")).opted_out = True
        message_ids = [m for m in session.scalars(select(Reply.message_id).order_by(Reply.id))]
    login(client)
    post(client, "/queue/bulk", {"step": "apply", "ids": [str(i) for i in message_ids], "action": "status",
                                 "status": "under_review"})
    cli("run --once")
    told = [send.idempotency_key for send in recording.sends if send.kind == "reply"]
    assert len(told) == 3  # two acknowledgements, then only ana hears about the review
    with answered() as session:
        ana = session.scalar(select(Requester).where(Requester.handle == "@data_dev_ana"))
        assert told[-1].endswith(f"-{ana.id}")
