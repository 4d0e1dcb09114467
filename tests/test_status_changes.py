"""Nobody is told the same thing twice: a change that changes nothing is refused, a published
request goes back only when confirmed, and a send whose outcome is unknown waits for an officer.

The CLI, the request page and the bulk form share one check (bot.pipeline.status.check_change).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from bot.networks.sandbox import say
from storage.models import Reply, StatusEvent
from tests.web_support import login, post

URL = "https://data.example.org/velo"


@pytest.fixture
def two_requests(cli, sessions, recording):
    cli("init")
    with sessions() as session, session.begin():
        say(session, "@camille_velo", "Please publish the bike counts per counter and per hour")
        say(session, "@data_dev_ana", "Is there an API for real-time bus positions? A GTFS-RT feed would be great.")
    cli("run --once")
    return sessions


def counts(sessions) -> tuple[int, int]:
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(StatusEvent)),
                session.scalar(select(func.count()).select_from(Reply)))


def test_cli_refuses_the_same_status_twice(cli, two_requests):
    cli("request set-status 1 under_review")
    before = counts(two_requests)
    result = cli("request set-status 1 under_review", expect=2)
    assert "already under_review with this answer and link" in result.output
    assert counts(two_requests) == before
    cli(["request", "set-status", "1", "under_review", "--answer", "We asked the mobility team."])  # says more


def test_cli_refuses_the_same_publication_but_takes_a_new_link(cli, two_requests):
    cli(["request", "set-status", "1", "published", "--url", URL])
    assert "already published" in cli(["request", "set-status", "1", "published", "--url", URL], expect=2).output
    cli(["request", "set-status", "1", "published", "--url", URL + "-v2"])


def test_cli_moves_a_published_request_back_only_with_reopen(cli, two_requests):
    cli(["request", "set-status", "1", "published", "--url", URL])
    before = counts(two_requests)
    result = cli("request set-status 1 in_progress", expect=2)
    assert "published" in result.output and "--reopen" in result.output
    assert counts(two_requests) == before
    cli("request set-status 1 in_progress --reopen")
    with two_requests() as session:
        assert session.scalars(select(StatusEvent.status).order_by(StatusEvent.id.desc())).first() == "in_progress"


def test_the_request_page_refuses_the_same_status(cli, two_requests, client, users):
    cli("request set-status 1 under_review")
    before = counts(two_requests)
    login(client)
    page = "/queue/requests/1"
    assert "already under_review" in client.get(f"{page}?status=under_review").text  # the preview warns
    post(client, f"{page}/status", {"status": "under_review"}, page=page)
    assert "already under_review" in client.get(page).text
    assert counts(two_requests) == before


def test_the_request_page_asks_before_moving_a_published_request_back(cli, two_requests, client, users):
    cli(["request", "set-status", "1", "published", "--url", URL])
    login(client)
    page = "/queue/requests/1"
    assert 'name="confirm_reopen"' in client.get(f"{page}?status=received").text  # the preview asks
    before = counts(two_requests)
    post(client, f"{page}/status", {"status": "received"}, page=page)
    assert "needs a confirmation" in client.get(page).text and counts(two_requests) == before
    post(client, f"{page}/status", {"status": "received", "confirm_reopen": "yes"}, page=page)
    with two_requests() as session:
        assert session.scalars(select(StatusEvent.status).order_by(StatusEvent.id.desc())).first() == "received"


def test_the_bulk_form_refuses_a_change_that_changes_nothing_for_any_request(cli, two_requests, client, users):
    """All or nothing: #1 is already under review, so #2 is not changed either."""
    cli("request set-status 1 under_review")
    with two_requests() as session:
        message_ids = list(session.scalars(select(Reply.message_id).distinct()))
    before = counts(two_requests)
    login(client)
    post(client, "/queue/bulk", {"step": "apply", "ids": [str(i) for i in message_ids], "action": "status",
                                 "status": "under_review"})
    assert "already under_review" in client.get("/queue").text
    assert counts(two_requests) == before


def test_the_bulk_form_does_not_reopen_a_published_request_without_confirmation(cli, two_requests, client, users):
    cli(["request", "set-status", "1", "published", "--url", URL])
    with two_requests() as session:
        message_id = session.scalar(select(Reply.message_id).where(Reply.idempotency_key.like("datacall-1-%")))
    before = counts(two_requests)
    login(client)
    post(client, "/queue/bulk", {"step": "apply", "ids": [str(message_id)], "action": "status", "status": "received"})
    assert counts(two_requests) == before
    post(client, "/queue/bulk", {"step": "apply", "ids": [str(message_id)], "action": "status", "status": "received",
                                 "confirm_reopen": "yes"})
    assert counts(two_requests)[0] == before[0] + 1


def unknown_reply(sessions) -> int:
    """A reply whose send timed out after the request left, as the outbox records it."""
    with sessions() as session, session.begin():
        reply = session.scalars(select(Reply).order_by(Reply.id)).first()
        reply.state, reply.last_error = "unknown", "no answer after the request left (TimedOut)"
        return reply.id


def test_request_show_points_the_officer_at_an_unknown_reply(cli, two_requests):
    unknown_reply(two_requests)
    output = cli("request show 1").output
    assert "unknown" in output and "TimedOut" in output
    assert "datacall reply mark-sent ID" in output and "datacall reply resend ID" in output


def test_cli_marks_an_unknown_reply_sent_and_it_is_never_sent_again(cli, two_requests, recording):
    reply_id = unknown_reply(two_requests)
    cli(f"reply mark-sent {reply_id}")
    cli("run --once")
    with two_requests() as session:
        assert session.get(Reply, reply_id).state == "sent"
    assert recording.per_key() == {key: 1 for key in recording.per_key()} and len(recording.per_key()) == 2
    assert "is sent" in cli(f"reply mark-sent {reply_id}", expect=2).output  # nothing to settle any more


def test_cli_resends_an_unknown_reply_once(cli, two_requests, recording):
    reply_id = unknown_reply(two_requests)
    cli(f"reply resend {reply_id}")
    cli("run --once")
    with two_requests() as session:
        reply = session.get(Reply, reply_id)
        assert reply.state == "sent"
    assert recording.per_key()[reply.idempotency_key] == 2  # the officer chose to send it again
    assert "no reply #999" in cli("reply resend 999", expect=2).output


def test_the_request_page_settles_an_unknown_reply(cli, two_requests, client, users):
    reply_id = unknown_reply(two_requests)
    login(client)
    page = "/queue/requests/1"
    html = client.get(page).text
    assert "sent? check on the network" in html and "TimedOut" in html
    assert f"/replies/{reply_id}/mark-sent" in html and f"/replies/{reply_id}/retry" in html
    post(client, f"{page}/replies/{reply_id}/mark-sent", page=page)
    assert f"Reply #{reply_id} is marked sent" in client.get(page).text
    with two_requests() as session:
        assert session.get(Reply, reply_id).state == "sent"
        session.execute(update(Reply).where(Reply.id == reply_id).values(state="unknown"))
        session.commit()
    post(client, f"{page}/replies/{reply_id}/retry", page=page)
    with two_requests() as session:
        assert session.get(Reply, reply_id).state == "pending"
