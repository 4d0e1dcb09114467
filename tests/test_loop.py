"""The whole loop through the CLI, in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.networks.sandbox import timeline
from storage.models import Message, Reply, Request, StatusEvent
from tests.helpers import call_entry_id, citizens_reply, snapshot


def test_call_reply_classify_request_acknowledge_publish(cli, sessions):
    cli("init")
    cli("campaign create 2027-q1 --title 'First quarter call'")
    assert "sandbox: call queued" in cli("campaign post 2027-q1").output
    cli("run --once")
    call_id = call_entry_id(sessions)
    first, second, third = citizens_reply(sessions, to=call_id)

    output = cli("run --once").output
    assert "poll:sandbox: 3" in output

    with sessions() as session:
        messages = {m.external_id: m for m in session.scalars(select(Message))}
        assert messages[str(first)].label == "data_request"
        assert messages[str(second)].label == "data_request"
        assert messages[str(third)].label == "off_topic"
        assert messages[str(third)].request_id is None
        assert messages[str(first)].campaign.slug == "2027-q1" if hasattr(Message, "campaign") else True
        assert messages[str(first)].campaign_id is not None
        requests = session.scalars(select(Request).order_by(Request.id)).all()
        assert [r.status for r in requests] == ["received", "received"]
        assert "@" not in requests[1].title
        bot_posts = timeline(session, from_bot=True)
    acks = {entry.in_reply_to_id: entry.text for entry in bot_posts if entry.in_reply_to_id}
    # One acknowledgement per data request, threaded to its message, in its language.
    assert set(acks) == {first, second}
    assert acks[first].startswith("Merci !") and "n°1" in acks[first]
    assert acks[second].startswith("Thank you!") and "#2" in acks[second]

    listing = cli("request list").output
    assert "received" in listing and "comptages" in listing
    assert "comptages" in cli("queue").output

    result = cli(["request", "set-status", "1", "published", "--url", "https://data.example.org/velo",
                  "--answer", "Hourly counts, updated daily.", "--actor", "alice"])
    assert "1 reply(ies) queued" in result.output
    cli("run --once")
    with sessions() as session:
        status_reply = [e for e in timeline(session, from_bot=True) if e.in_reply_to_id == first][-1]
        event = session.scalars(select(StatusEvent).where(StatusEvent.status == "published")).one()
        assert event.actor == "alice"
    assert "https://data.example.org/velo" in status_reply.text
    assert status_reply.text.startswith("C'est publié")

    before = snapshot(sessions)
    cli("run --once")
    cli("run --once")
    assert snapshot(sessions) == before
    shown = cli("request show 1").output
    assert "published" in shown and "alice" in shown and "sent" in shown


def test_duplicate_joins_supporters_and_both_hear_of_the_next_change(cli, sessions):
    cli("init")
    citizens_reply(
        sessions,
        to=None,
        citizens=[
            ("@parent_a", "Merci de publier les menus des cantines scolaires en CSV, école par école."),
            ("@parent_b", "Please publish the school canteen menus per school as open data (CSV)."),
        ],
    )
    cli("run --once")
    cli("request set-status 2 duplicate --of 1")
    cli("request set-status 1 accepted --answer 'Planned for March.'")
    cli("run --once")
    with sessions() as session:
        assert session.get(Request, 2).duplicate_of_id == 1
        supporters = {m.requester.handle for m in session.scalars(select(Message).where(Message.request_id == 1))}
        assert supporters == {"@parent_a", "@parent_b"}
        accepted = session.scalars(
            select(Reply).join(StatusEvent).where(StatusEvent.status == "accepted")
        ).all()
        assert sorted(r.lang for r in accepted) == ["en", "fr"]
        assert all(r.state == "sent" for r in accepted)
        joined = session.scalars(select(Reply).join(StatusEvent).where(StatusEvent.status == "duplicate")).one()
        assert "joins request #1" in joined.text


def test_set_status_refuses_what_makes_no_sense(cli, sessions):
    cli("init")
    citizens_reply(sessions, to=None, citizens=[("@x", "Please publish the list of public toilets as CSV.")])
    cli("run --once")
    assert "needs --url" in cli("request set-status 1 published", expect=2).output
    assert "unknown status" in cli("request set-status 1 done", expect=2).output
    assert "needs --answer" in cli("request set-status 1 declined", expect=2).output
    assert "no request #9" in cli("request set-status 9 accepted", expect=2).output
    assert "needs --of" in cli("request set-status 1 duplicate", expect=2).output
    with sessions() as session:
        assert session.scalars(select(StatusEvent)).all()[-1].status == "received"


def test_set_status_takes_only_web_links(cli, sessions):
    """The link goes to every supporter: the same http(s) rule as the web form."""
    cli("init")
    citizens_reply(sessions, to=None, citizens=[("@x", "Please publish the list of public toilets as CSV.")])
    cli("run --once")
    for url in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>x</b>", "//evil.example/x",
                "https:no-host", "ftp://files.example/x", "http://[broken"):
        result = cli(["request", "set-status", "1", "published", "--url", url], expect=2)
        assert "--url must be an http:// or https:// link" in result.output, url
        assert len(result.output.strip().splitlines()) == 1, url
    with sessions() as session:
        assert session.scalars(select(StatusEvent)).all()[-1].status == "received"
        assert session.scalar(select(func.count()).select_from(Reply)) == 1  # the acknowledgement only
    cli(["request", "set-status", "1", "published", "--url", "HTTPS://data.example.org/toilets"])


def test_commands_refuse_an_uninitialised_database(cli):
    result = cli("run --once", expect=1)
    assert "datacall init" in result.output


def test_init_is_idempotent(cli):
    assert "created database" in cli("init").output
    assert "up to date" in cli("init").output


def test_campaign_commands(cli):
    cli("init")
    cli("campaign create 2027-q2")
    assert "already exists" in cli("campaign create 2027-q2", expect=2).output
    assert "lowercase" in cli("campaign create 'Q2 2027'", expect=2).output
    cli("campaign post 2027-q2")
    assert "already pending" in cli("campaign post 2027-q2").output
    cli("run --once")
    assert "2027-q2" in cli("campaign list").output
    shown = cli("campaign show 2027-q2").output
    assert "posted" in shown and "sandbox://entries/1" in shown
    assert "not enabled" in cli("campaign post 2027-q2 --network twitter", expect=2).output


def test_status_command_reports_queues_and_polls(cli, sessions):
    cli("init")
    citizens_reply(sessions, to=None)
    cli("run --once")
    output = cli("status").output
    assert "0 to classify" in output and "outbox: sent 2" in output and "sandbox" in output


def test_uncertain_messages_wait_for_an_officer_without_reply(cli, sessions, write_config, db_url):
    config = write_config(f'[database]\nurl = "{db_url}"\n[classifier]\nreview_band = [0.0, 1.0]\n', "band.toml")
    cli("init", config=config)
    citizens_reply(sessions, to=None)
    cli("run --once", config=config)
    with sessions() as session:
        messages = session.scalars(select(Message)).all()
        assert all(m.needs_review and m.routed_at is not None and m.request_id is None for m in messages)
        assert session.scalars(select(Request)).all() == []
        assert timeline(session, from_bot=True) == []


def test_review_band_must_be_a_range(write_config):
    import pytest

    from bot.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="classifier.review_band"):
        load_config(write_config("[classifier]\nreview_band = [0.8, 0.2]\n"))
