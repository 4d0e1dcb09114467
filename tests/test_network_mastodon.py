"""The Mastodon connector, through the real Mastodon.py, against a fake Mastodon on 127.0.0.1."""

from __future__ import annotations

import pytest
from mastodon import Mastodon
from sqlalchemy import select

from bot.config import ConfigError
from bot.networks.base import NetworkError, PollResult, ReplyTarget
from bot.networks.mastodon import FETCH_RESERVE, MastodonConfig, MastodonConnector, html_to_text, status_length
from storage.models import Message, Request
from tests.fakes.mastodon import FakeMastodon, sample
from tests.helpers import assert_fitted_once, long_reply

TOKEN_ENV = "DATACALL_MASTODON_ACCESS_TOKEN"
BIKES = "Could you publish the bike counter data per hour as CSV?"
PLAYGROUNDS = "Pourriez-vous publier la liste des aires de jeux en open data, au format CSV ?"


@pytest.fixture
def fake():
    with FakeMastodon() as server:
        yield server


def connect(fake: FakeMastodon, token: str | None = None, **options) -> MastodonConnector:
    config = MastodonConfig(enabled=True, api_base_url=fake.url, max_length=options.pop("max_length", 500))
    connector = MastodonConnector.from_config(config, {TOKEN_ENV: token or fake.token})
    for name, value in options.items():
        setattr(connector, name, value)
    return connector


@pytest.fixture
def connector(fake):
    connector = connect(fake)
    yield connector
    connector.close()


def target(message, **changes) -> ReplyTarget:
    values = dict(
        external_id=message.external_id, author_id=message.author_id, author_handle=message.author_handle,
        is_private=message.is_private, conversation_id=message.conversation_id, visibility=message.visibility,
    )
    values.update(changes)
    return ReplyTarget(**values)


# -- construction and identity ------------------------------------------------


def test_construction_contacts_nobody_and_no_call_asks_for_the_instance(fake, connector):
    assert fake.requests == []
    call = connector.post("Call for contributions", idempotency_key="call-1")
    connector.fetch(None, state={}, watched=[call.external_id])
    assert connector.whoami() == "@datacall"
    assert not any("/instance" in path for _, path in fake.requests)


def test_from_config_needs_the_token_variable(fake):
    config = MastodonConfig(enabled=True, api_base_url=fake.url)
    with pytest.raises(ConfigError, match=TOKEN_ENV):
        MastodonConnector.from_config(config, {})


# -- posting ------------------------------------------------------------------


def test_post_is_public_and_a_repeated_idempotency_key_makes_no_duplicate(fake, connector):
    first = connector.post("Call for contributions 2027-q1: https://data.example.org", idempotency_key="call-7")
    again = connector.post("Call for contributions 2027-q1: https://data.example.org", idempotency_key="call-7")
    other = connector.post("Reminder", idempotency_key="reminder-7")
    # Another database on the same account reuses the key for another text: a new status, not the old one.
    assert connector.post("Reminder 2", idempotency_key="reminder-7").external_id != other.external_id
    assert MastodonConnector.idempotent_sends is True
    assert again == first and other.external_id != first.external_id
    posts = fake.posts_by_bot()
    assert [p["id"] for p in posts][:2] == [first.external_id, other.external_id] and len(posts) == 3
    assert posts[0]["visibility"] == "public"
    assert first.url == posts[0]["url"]
    assert 'href="https://data.example.org"' in posts[0]["content"]


def test_post_poll_is_a_native_poll_and_idempotent(fake, connector):
    ref = connector.post_poll(
        "Which dataset should we open first?", ["Bike counts", "Bus delays", "Canteen menus"],
        duration_seconds=86400, idempotency_key="survey-1",
    )
    assert connector.post_poll(
        "Which dataset should we open first?", ["Bike counts", "Bus delays", "Canteen menus"],
        duration_seconds=86400, idempotency_key="survey-1",
    ) == ref
    [post] = fake.posts_by_bot()
    assert post["id"] == ref.external_id
    assert [o["title"] for o in post["poll"]["options"]] == ["Bike counts", "Bus delays", "Canteen menus"]
    assert post["poll"]["multiple"] is False and post["poll"]["expires_at"].endswith("Z")


def test_poll_results_read_the_poll_of_the_status(fake, connector):
    ref = connector.post_poll("Which request matters most?", ["Request #4", "Request #9"],
                              duration_seconds=86400, idempotency_key="survey-2")
    fake.vote(ref.external_id, 1, 5)
    fake.vote(ref.external_id, 0, 2, expire=True)
    assert connector.poll_results(ref.external_id) == PollResult(votes=(2, 5), closed=True)
    poll_id = fake.status(ref.external_id)["poll"]["id"]
    assert fake.count("GET", f"/api/v1/polls/{poll_id}") == 1
    plain = connector.post("No poll here", idempotency_key="plain")
    with pytest.raises(NetworkError) as caught:
        connector.poll_results(plain.external_id)
    assert caught.value.permanent


# -- reading ------------------------------------------------------------------


def test_fetch_reads_mentions_and_thread_replies_once_each_oldest_first(fake, connector):
    call = connector.post("Call for contributions", idempotency_key="call-1")
    both = fake.citizen_reply(call.external_id, "camille", f"{fake.mention_html()} {BIKES}", language="en")
    thread_only = fake.citizen_reply(
        call.external_id, "ana@other.social", "Is there an API for real-time bus positions?"
    )
    ours = ReplyTarget(external_id=both, author_id="", author_handle="@camille", visibility="public")
    connector.reply(ours, "Thank you!", idempotency_key="ack-1")  # our own reply in the thread is no message
    nested = fake.citizen_reply(both, "joe", "+1, and the &lt;b&gt;pedestrian&lt;/b&gt; counts too please")
    mention_only = fake.citizen_mention("lea", PLAYGROUNDS, language="fr")

    batch = connector.fetch(None, state={}, watched=[call.external_id])

    assert [m.external_id for m in batch.messages] == [both, thread_only, nested, mention_only]
    by_id = {m.external_id: m for m in batch.messages}
    assert by_id[both].text == BIKES and by_id[both].lang == "en" and by_id[both].author_handle == "@camille"
    assert by_id[both].conversation_id == call.external_id and by_id[both].in_reply_to_id == call.external_id
    assert by_id[thread_only].author_handle == "@ana@other.social" and by_id[thread_only].lang is None
    assert by_id[nested].text == "+1, and the <b>pedestrian</b> counts too please"
    assert by_id[nested].in_reply_to_id == both and by_id[nested].conversation_id == call.external_id
    assert by_id[mention_only].text == PLAYGROUNDS and by_id[mention_only].conversation_id is None
    assert all(m.visibility == "public" and not m.is_private for m in batch.messages)
    assert by_id[both].sent_at.tzinfo is not None
    assert batch.state["threads"][call.external_id] == nested

    again = connector.fetch(batch.cursor, state=batch.state, watched=[call.external_id])
    assert again.messages == () and again.cursor == batch.cursor


def test_threads_take_turns_when_there_are_more_than_one_fetch_reads(fake):
    connector = connect(fake, max_threads=2)
    posts = [connector.post(f"Call {n}", idempotency_key=f"call-{n}").external_id for n in range(3)]
    replies = {fake.citizen_reply(post, f"citizen{n}", BIKES) for n, post in enumerate(posts)}
    first = connector.fetch(None, state={}, watched=posts)
    second = connector.fetch(first.cursor, state=first.state, watched=posts)
    assert len(first.messages) == 2 and len(second.messages) == 1
    assert {m.external_id for m in first.messages + second.messages} == replies


def test_mentions_are_paginated_forward_and_capped_per_fetch(fake):
    connector = connect(fake, page_size=2, max_pages=3)
    ids = [fake.citizen_mention(f"citizen{n}", f"Please publish dataset number {n}.") for n in range(7)]

    first = connector.fetch(None, state={}, watched=[])
    assert [m.external_id for m in first.messages] == ids[:6]
    assert fake.count("GET", "/api/v1/notifications") == 3

    second = connector.fetch(first.cursor, state=first.state, watched=[])
    assert [m.external_id for m in second.messages] == ids[6:]
    assert fake.count("GET", "/api/v1/notifications") == 4  # a short page ends the walk

    third = connector.fetch(second.cursor, state=second.state, watched=[])
    assert third.messages == () and third.cursor == second.cursor


def test_a_fetch_cut_short_by_the_rate_budget_keeps_what_it_read(fake):
    connector = connect(fake, page_size=2, max_pages=5)
    connector.fetch(None, state={}, watched=[])  # settles the account's policy and identity
    ids = [fake.citizen_mention(f"citizen{n}", f"Please publish dataset number {n}.") for n in range(6)]
    fake.set_rate_limit(remaining=FETCH_RESERVE + 2, reset_in=120)

    partial = connector.fetch(None, state={}, watched=[])
    assert [m.external_id for m in partial.messages] == ids[:4]
    with pytest.raises(NetworkError) as refused:
        connector.fetch(partial.cursor, state=partial.state, watched=[])
    assert 100 < refused.value.retry_after <= 121


def test_direct_mention_is_fetched_and_answered_directly(fake, connector):
    connector.fetch(None, state={}, watched=[])  # the account starts accepting private mentions
    assert fake.policy["for_private_mentions"] == "accept"
    dm = fake.citizen_mention("lea", PLAYGROUNDS, visibility="direct", language="fr")

    [message] = connector.fetch(None, state={}, watched=[]).messages
    assert message.external_id == dm and message.visibility == "direct" and message.is_private

    text = "Merci ! Votre demande est enregistrée sous le n°1."
    ref = connector.reply(target(message), text, idempotency_key="a-1")
    [answer] = fake.posts_by_bot()
    assert answer["id"] == ref.external_id
    assert answer["visibility"] == "direct"
    assert answer["in_reply_to_id"] == dm
    assert answer["text"] == f"@lea {text}"
    assert [m["acct"] for m in answer["mentions"]] == ["lea"]


def test_private_mentions_filed_as_notification_requests_before_start_are_accepted_and_read(fake):
    early = fake.citizen_mention("lea", PLAYGROUNDS, visibility="direct")
    again = fake.citizen_mention("lea", BIKES, visibility="direct")
    other = fake.citizen_mention("sam@other.social", BIKES, visibility="direct")
    [request, _] = sorted(fake.pending_requests(), key=lambda r: r["account"]["acct"])
    assert request["account"]["acct"] == "lea" and request["notifications_count"] == "2"
    assert request["last_status"]["id"] == again
    connector = connect(fake)
    assert connector.waiting_requests() == 2  # what `datacall doctor` reports
    batch = connector.fetch(None, state={}, watched=[])
    assert sorted(m.external_id for m in batch.messages) == sorted([early, again, other])
    assert all(m.is_private and m.visibility == "direct" for m in batch.messages)
    assert fake.pending_requests() == [] and connector.accepted_requests == 2
    assert fake.count("POST", f"/api/v1/notifications/requests/{request['id']}/accept") == 1
    # Accepted once, at start-up: a second fetch does not list requests again.
    listed = fake.count("GET", "/api/v1/notifications/requests")
    connector.fetch(batch.cursor, state=batch.state, watched=[])
    assert fake.count("GET", "/api/v1/notifications/requests") == listed


def test_a_cursor_stored_before_the_requests_were_accepted_does_not_hide_them(fake):
    connector = connect(fake)
    first = connector.fetch(None, state={}, watched=[])
    fake.policy["for_private_mentions"] = "filter"  # someone changed the account's settings meanwhile
    hidden = fake.citizen_mention("lea", PLAYGROUNDS, visibility="direct")
    later = fake.citizen_mention("camille", BIKES)
    second = connector.fetch(first.cursor, state=first.state, watched=[])
    assert [m.external_id for m in second.messages] == [later]
    restarted = connect(fake)  # the next `datacall run`: accepted at start-up, read below the cursor
    third = restarted.fetch(second.cursor, state=second.state, watched=[])
    assert [m.external_id for m in third.messages] == [hidden]


def test_a_server_without_notification_requests_costs_a_warning(fake, caplog):
    fake.citizen_mention("camille", BIKES)
    fake._routes = type(fake._routes)([r.empty() for r in fake._routes.iter_rules()
                                        if r.endpoint not in ("notification_requests", "accept_request")])
    connector = connect(fake)
    assert len(connector.fetch(None, state={}, watched=[]).messages) == 1
    assert "could not read notification requests" in caplog.text


# -- replying -----------------------------------------------------------------


def test_reply_is_threaded_with_the_visibility_of_its_message_and_idempotent(fake, connector):
    call = connector.post("Call", idempotency_key="call-1")
    fake.citizen_reply(call.external_id, "ana@other.social", BIKES, visibility="unlisted")
    [message] = connector.fetch(None, state={}, watched=[call.external_id]).messages

    first = connector.reply(target(message), "Thank you!", idempotency_key="ack-1")
    assert connector.reply(target(message), "Thank you!", idempotency_key="ack-1") == first
    answers = [p for p in fake.posts_by_bot() if p["in_reply_to_id"]]
    assert len(answers) == 1
    assert answers[0]["in_reply_to_id"] == message.external_id and answers[0]["visibility"] == "unlisted"
    assert answers[0]["text"] == "@ana@other.social Thank you!"


def test_a_long_reply_is_fitted_once_with_the_mention_counted(fake, connector):
    fake.citizen_mention("ana@other.social", BIKES)
    [message] = connector.fetch(None, state={}, watched=[]).messages
    written = long_reply(connector, message.author_handle)
    connector.reply(target(message), written, idempotency_key="ack-1")
    [answer] = fake.posts_by_bot()
    assert answer["text"].startswith("@ana@other.social We cannot take your request #7 forward.")
    assert_fitted_once(connector, message.author_handle, written, answer["text"])


def test_mastodon_counts_a_link_as_23_and_the_mention_once():
    assert status_length("See https://data.example.org/datasets/bike-counters-hourly.") == len("See ") + 23 + 1
    connector = MastodonConnector(Mastodon(api_base_url="https://mastodon.example", version_check_mode="none"))
    assert connector.addressed("@lea", "Short.") == "@lea Short."
    assert connector.addressed("lea", "@lea Short.") == "@lea Short."  # already addressed: not twice
    assert connector.addressed("", "Short.") == "Short."
    assert connector.reply_length("@lea", "https://data.example.org/a/very/long/link/indeed") == len("@lea ") + 23


def test_a_reply_fitted_for_a_small_server_is_accepted_and_an_unfitted_one_refused_before_sending():
    with FakeMastodon(max_characters=100) as fake:
        connector = connect(fake, max_length=100)
        fake.citizen_mention("ana@other.social", BIKES)
        [message] = connector.fetch(None, state={}, watched=[]).messages
        written = long_reply(connector, message.author_handle)
        connector.reply(target(message), written, idempotency_key="ack-1")
        [answer] = fake.posts_by_bot()
        assert answer["text"].startswith("@ana@other.social We cannot")
        assert_fitted_once(connector, message.author_handle, written, answer["text"])
        before = len(fake.requests)
        with pytest.raises(NetworkError, match="exceeds 100") as refused:
            connector.reply(target(message), "Thank you! " * 20, idempotency_key="ack-2")
        assert refused.value.permanent and len(fake.requests) == before


# -- errors -------------------------------------------------------------------


def test_429_gives_retry_after_from_the_rate_limit_reset_header(fake, connector):
    fake.fail_next(429, reset_in=120)
    with pytest.raises(NetworkError) as raised:
        connector.post("Call", idempotency_key="call-1")
    assert 100 < raised.value.retry_after <= 121 and not raised.value.permanent
    before = len(fake.requests)
    with pytest.raises(NetworkError) as refused:  # the budget is known spent: no second 429 is earned
        connector.fetch(None, state={}, watched=[])
    assert len(fake.requests) == before and 100 < refused.value.retry_after <= 121


def test_sending_stops_when_the_servers_budget_says_zero(fake, connector):
    fake.set_rate_limit(remaining=1, reset_in=200)
    connector.post("Call", idempotency_key="call-1")
    before = len(fake.requests)
    with pytest.raises(NetworkError) as refused:
        connector.post("Reminder", idempotency_key="reminder-1")
    assert len(fake.requests) == before
    assert 180 < refused.value.retry_after <= 201


@pytest.mark.parametrize("failure", [500, 503, "malformed"])
def test_server_errors_and_malformed_json_are_transient(fake, connector, failure):
    fake.fail_next(failure, times=10)
    with pytest.raises(NetworkError) as raised:
        connector.fetch(None, state={}, watched=[])
    assert not raised.value.permanent and raised.value.retry_after is None
    with pytest.raises(NetworkError) as raised:
        connector.post("Call", idempotency_key="call-1")
    assert not raised.value.permanent


def test_reply_to_a_deleted_status_is_permanent(fake, connector):
    mention = fake.citizen_mention("camille", BIKES)
    [message] = connector.fetch(None, state={}, watched=[]).messages
    fake.delete_status(mention)
    with pytest.raises(NetworkError) as raised:
        connector.reply(target(message), "Thank you!", idempotency_key="ack-1")
    assert raised.value.permanent


def test_a_bad_token_fails_replies_for_good_but_not_posts(fake):
    connector = connect(fake, token="revoked")
    reply = ReplyTarget(external_id="1", author_id="2", author_handle="@camille")
    with pytest.raises(NetworkError) as raised:
        connector.reply(reply, "Thank you!", idempotency_key="ack-1")
    assert raised.value.permanent
    with pytest.raises(NetworkError) as raised:
        connector.post("Call", idempotency_key="call-1")
    assert not raised.value.permanent
    with pytest.raises(NetworkError):
        connector.whoami()


# -- HTML ---------------------------------------------------------------------


def test_html_to_text_reads_like_the_post():
    documented = sample("status")
    documented["content"] = (
        '<p>&quot;I lost my inheritance&quot; &amp; more</p><p><a href="https://www.theguardian.com/money/x" '
        'rel="nofollow noopener noreferrer" target="_blank"><span class="invisible">https://www.</span>'
        '<span class="ellipsis">theguardian.com/mon</span><span class="invisible">ey/x</span></a></p>'
    )
    expected = '"I lost my inheritance" & more\n\nhttps://www.theguardian.com/money/x'
    assert html_to_text(documented["content"]) == expected
    mention = ('<p><span class="h-card"><a href="https://mastodon.social/@trwnh" class="u-url mention">'
               '@<span>trwnh</span></a></span> sup!<br>Ask <span class="h-card"><a href="https://x.example/@bob" '
               'class="u-url mention">@<span>bob</span></a></span> too</p>')
    assert html_to_text(mention) == "sup!\nAsk @bob too"
    only_a_mention = '<p><span class="h-card"><a class="u-url mention">@<span>datacall</span></a></span></p>'
    assert html_to_text(only_a_mention) == "@datacall"


# -- the whole loop through the CLI ------------------------------------------


def test_call_reply_and_private_message_are_answered_on_mastodon(
    cli, write_config, db_url, sessions, fake, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, fake.token)
    config = write_config(f"""
[database]
url = "{db_url}"

[networks.sandbox]
enabled = false

[networks.mastodon]
enabled = true
api_base_url = "{fake.url}"
access_token_env = "{TOKEN_ENV}"

[replies]
retry_base_seconds = 0.01
""", name="mastodon.toml")
    cli("init", config=config)
    cli("campaign create 2027-q1 --title 'First quarter call'", config=config)
    assert "mastodon: call queued" in cli("campaign post 2027-q1", config=config).output
    cli("run --once", config=config)
    [call] = fake.posts_by_bot()
    assert call["visibility"] == "public" and "First quarter call" in call["text"]

    reply = fake.citizen_reply(call["id"], "camille", f"{fake.mention_html()} {BIKES}", language="en")
    private = fake.citizen_mention("lea", PLAYGROUNDS, visibility="direct", language="fr")
    assert "poll:mastodon: 2" in cli("run --once", config=config).output

    with sessions() as session:
        messages = {m.external_id: m for m in session.scalars(select(Message))}
        assert set(messages) == {reply, private}
        assert all(m.label == "data_request" and m.request_id for m in messages.values())
        assert messages[private].visibility == "direct" and messages[private].is_private
        assert len(session.scalars(select(Request)).all()) == 2
        bikes_request = messages[reply].request_id
    answers = {p["in_reply_to_id"]: p for p in fake.posts_by_bot() if p["in_reply_to_id"]}
    assert set(answers) == {reply, private}
    assert answers[reply]["text"].startswith("@camille Thank you!") and answers[reply]["visibility"] == "public"
    assert answers[private]["text"].startswith("@lea Merci !") and answers[private]["visibility"] == "direct"

    cli(["request", "set-status", str(bikes_request), "published", "--url", "https://data.example.org/velo"],
        config=config)
    cli("run --once", config=config)
    status_reply = fake.posts_by_bot()[-1]
    assert status_reply["in_reply_to_id"] == reply
    assert status_reply["text"].startswith("@camille It's published!")
    assert "https://data.example.org/velo" in status_reply["text"]

    before = len(fake.posts_by_bot())
    cli("run --once", config=config)
    assert len(fake.posts_by_bot()) == before


def test_doctor_says_how_many_notification_requests_wait(cli, write_config, db_url, fake, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, fake.token)
    config = write_config(f"""
[database]
url = "{db_url}"

[networks.sandbox]
enabled = false

[networks.mastodon]
enabled = true
api_base_url = "{fake.url}"
access_token_env = "{TOKEN_ENV}"
""", name="mastodon.toml")
    cli("init", config=config)
    fake.citizen_mention("lea", PLAYGROUNDS, visibility="direct")
    fake.citizen_mention("sam@other.social", BIKES, visibility="direct")
    output = cli("doctor", config=config).output
    assert "ok   network mastodon: signed in as @datacall; 2 notification requests waiting" in output
    assert len(fake.pending_requests()) == 2  # doctor only looks
    cli("run --once", config=config)
    assert fake.pending_requests() == []
    assert "0 notification requests waiting" in cli("doctor", config=config).output


def test_probe_asks_verify_credentials_and_raises_while_the_server_is_down(fake, connector):
    """A paused network is probed with one cheap call; a 503 keeps it paused, an answer ends the pause."""
    fake.fail_next(503)
    with pytest.raises(NetworkError) as down:
        connector.probe()
    assert down.value.transient
    connector.probe()
    assert fake.count("GET", "/api/v1/accounts/verify_credentials") == 2


def test_a_refusal_counts_as_an_attempt_an_outage_does_not(fake, connector):
    status = connector.post("Which data would you like us to open?", idempotency_key="datacall-post-1")
    fake.fail_next(400)
    with pytest.raises(NetworkError) as refused:
        connector.reply(ReplyTarget(status.external_id, "1", "@camille"), "Thanks!", idempotency_key="r1")
    assert not refused.value.transient
    fake.fail_next(502)
    with pytest.raises(NetworkError) as outage:
        connector.reply(ReplyTarget(status.external_id, "1", "@camille"), "Thanks!", idempotency_key="r1")
    assert outage.value.transient and not outage.value.permanent
