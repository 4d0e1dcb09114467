"""/start, /status and /stop, from any network: answered once, never turned into requests."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.networks.sandbox import timeline
from bot.pipeline.commands import command_of
from storage.models import Reply, Request, Requester
from tests.helpers import citizens_reply

REQUEST = "Please publish the list of public toilets with opening hours as CSV."


@pytest.mark.parametrize(
    ("text", "command"),
    [("/status", "status"), ("/stop@city_data_bot", "stop"), (" /START ", "start"), ("/help", "start"),
     ("/stopped", None), ("please /stop this", None), ("status", None)],
)
def test_command_of(text, command):
    assert command_of(text) == command


def replies_to(sessions, entry_id):
    with sessions() as session:
        return [e.text for e in timeline(session, from_bot=True) if e.in_reply_to_id == entry_id]


def test_status_lists_the_senders_requests(cli, sessions):
    cli("init")
    citizens_reply(sessions, to=None, citizens=[("@sam", REQUEST)])
    cli("run --once")
    (status_id,) = citizens_reply(sessions, to=None, citizens=[("@sam", "/status")])
    cli("run --once")
    cli("run --once")
    (answer,) = replies_to(sessions, status_id)
    assert answer.startswith("Your requests: #1 received: Please publish the list of public toilets")
    with sessions() as session:
        assert session.scalar(select(Request).where(Request.id == 2)) is None


def test_stop_opts_out_and_drops_waiting_replies_then_start_resumes(cli, sessions):
    cli("init")
    citizens_reply(sessions, to=None, citizens=[("@sam", REQUEST)])
    cli("run --once")
    cli("request set-status 1 accepted")  # queued, not sent yet
    (stop_id,) = citizens_reply(sessions, to=None, citizens=[("@sam", "/stop")])
    cli("run --once")
    assert replies_to(sessions, stop_id)[0].startswith("Done: you will get no more messages")
    with sessions() as session:
        assert session.scalar(select(Requester)).opted_out
        dropped = session.scalars(select(Reply).where(Reply.state == "dead")).one()
        assert "opted out" in dropped.last_error
    cli("request set-status 1 in_progress")
    assert "0 reply(ies) queued" in cli("request set-status 1 under_review").output
    (start_id,) = citizens_reply(sessions, to=None, citizens=[("@sam", "/start")])
    cli("run --once")
    assert "open data team" in replies_to(sessions, start_id)[0]
    assert "1 reply(ies) queued" in cli("request set-status 1 accepted").output
