"""The X connector, driven through real tweepy over HTTP against the fake X API on 127.0.0.1."""

from __future__ import annotations

import functools
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from sqlalchemy import select

from bot.config import ConfigError
from bot.networks.base import Lookup, NetworkError, PollResult, ReplyTarget
from bot.networks.twitter import (
    TwitterConfig,
    TwitterConnector,
    endpoint_key,
    make_client,
    retry_after,
    shows_as,
    weighted_length,
)
from storage.models import Message, Request
from tests.fakes.twitter import FakeX
from tests.helpers import assert_fitted_once, long_reply

DATA = Path(__file__).parent / "data" / "twitter"
SPEC = DATA / "x-api-v2-openapi.json"  # X's published OpenAPI document for API v2
MENTIONS = "GET /2/users/:id/mentions"
SEARCH = "GET /2/tweets/search/recent"
CREATE = "POST /2/tweets"
# Each sample payload and the OpenAPI operation whose documented response (or request body) it is.
SAMPLES = {
    "users_me.json": ("get", "/2/users/me", "200"),
    "tweet_created.json": ("post", "/2/tweets", "201"),
    "create_reply_request.json": ("post", "/2/tweets", "request"),
    "mentions_page.json": ("get", "/2/users/{id}/mentions", "200"),
    "mentions_empty.json": ("get", "/2/users/{id}/mentions", "200"),
    "search_recent_conversation.json": ("get", "/2/tweets/search/recent", "200"),
    "error_too_many_requests.json": ("get", "/2/users/{id}/mentions", "429"),
    "error_duplicate_content.json": ("post", "/2/tweets", "403"),
    "error_invalid_request.json": ("get", "/2/users/{id}/mentions", "400"),
    "own_tweets_post_and_poll.json": ("get", "/2/users/{id}/tweets", "200"),
}


# The OpenAPI document: every payload the fake sends must match it.

@functools.cache
def spec() -> dict:
    return json.loads(SPEC.read_text(encoding="utf-8"))


@functools.cache
def validator(method: str, path: str, status: str) -> Draft4Validator:
    """The schema of one operation's response (or "request" body), its $refs resolved in the document."""
    operation = spec()["paths"][path][method]
    if status == "request":
        schemas = [operation["requestBody"]["content"]["application/json"]["schema"]]
    else:
        response = operation["responses"].get(status) or operation["responses"]["default"]
        schemas = [content["schema"] for content in response["content"].values()]
    return Draft4Validator({"anyOf": schemas, "components": spec()["components"]})


def assert_valid(method: str, path: str, status: str, payload) -> None:
    errors = [e.message for e in validator(method, path, status).iter_errors(payload)]
    assert not errors, f"{method.upper()} {path} {status}: {errors[:3]}"


def sample(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture
def fake():
    with FakeX() as server:
        yield server
    # Everything the fake answered, and every tweet datacall sent, matches the documented schemas.
    for exchange in server.responses:
        if isinstance(exchange.body, dict) and exchange.spec_path in spec()["paths"]:
            assert_valid(exchange.method, exchange.spec_path, str(exchange.status), exchange.body)
        if exchange.request_json is not None:
            assert_valid("post", "/2/tweets", "request", exchange.request_json)


def oauth1(fake: FakeX) -> dict:
    return {
        "consumer_key": fake.consumer_key,
        "consumer_secret": fake.consumer_secret,
        "access_token": fake.access_token,
        "access_token_secret": fake.access_token_secret,
    }


@pytest.fixture
def x(fake) -> TwitterConnector:
    connector = TwitterConnector(make_client(fake.url, **oauth1(fake)), page_size=10)
    yield connector
    connector.close()


def test_sample_payloads_match_the_openapi_document():
    assert sorted(p.name for p in DATA.glob("*.json") if p != SPEC) == sorted(SAMPLES)
    for name, (method, path, status) in SAMPLES.items():
        assert_valid(method, path, status, sample(name))
    with pytest.raises(AssertionError):  # the check can fail: a tweet without its id is refused
        assert_valid("get", "/2/users/{id}/mentions", "200", {"data": [{"text": "no id"}], "includes": {"users": [{}]}})


def test_requests_go_to_api_base_url_signed_for_x(fake, x):
    assert x.whoami() == "@datacall_city"
    x.whoami()  # asked once, then cached
    assert [r.path for r in fake.requests] == ["/2/users/me"]
    # The fake checked the OAuth 1.0a signature, computed over https://api.twitter.com as X expects.
    assert fake.requests[0].auth == "oauth1"


def test_secrets_stay_out_of_the_logs_even_at_debug(fake, caplog):
    caplog.set_level(logging.DEBUG)
    x = TwitterConnector(make_client(fake.url, bearer_token=fake.bearer_token))
    fake.fail(500, endpoint=MENTIONS)
    with pytest.raises(NetworkError) as caught:
        x.fetch(None, state={}, watched=[])
    assert fake.bearer_token not in caplog.text + str(caught.value)
    assert "mentions" in caplog.text  # the requests were logged, without their headers


def test_post_then_reply_in_thread(fake, x):
    call = x.post("Which data would you like us to open? Reply here.", idempotency_key="datacall-post-1")
    assert call.url == f"https://x.com/datacall_city/status/{call.external_id}"
    citizen = fake.citizen_reply(call.external_id, "camille_velo", "Could you publish the bike counts per hour?")
    target = ReplyTarget(citizen, "2000000001", "@camille_velo")
    answer = x.reply(target, "Thank you! Logged as #1.", idempotency_key="r1")
    posted = fake.tweet(answer.external_id)
    assert posted["referenced_tweets"] == [{"type": "replied_to", "id": citizen}]
    assert posted["conversation_id"] == call.external_id
    sent = fake.calls(CREATE)[-1].json
    assert sent == {"text": "Thank you! Logged as #1.", "reply": {"in_reply_to_tweet_id": citizen}}


def test_fetch_reads_mentions_and_replies_once_each_oldest_first(fake, x):
    call = x.post("Which data would you like us to open?", idempotency_key="k").external_id
    reply = fake.citizen_reply(call, "camille_velo", "Could you publish the bike counter data per hour as CSV?")
    mention = fake.citizen_mention("data_dev_ana", "Is there an API for real-time bus positions?", lang="und")
    # Only in the call's conversation: it answers a citizen, without mentioning the account.
    nested = fake.citizen_reply(reply, "parent_a", "And the yearly totals per counter too, please.")
    retweet = fake.citizen_retweet(reply, "bike_fan")  # a retweet is nobody's message
    x.reply(ReplyTarget(reply, "", "@camille_velo"), "Thank you!", idempotency_key="k2")  # our own, in the thread

    batch = x.fetch(None, state={}, watched=[call])

    assert [m.external_id for m in batch.messages] == [reply, mention, nested]
    first = batch.messages[0]
    assert first.author_handle == "@camille_velo" and first.author_id == fake.tweet(reply)["author_id"]
    assert first.in_reply_to_id == call and first.conversation_id == call and first.lang == "en"
    assert first.url == f"https://x.com/camille_velo/status/{reply}"
    assert first.sent_at.tzinfo is not None and abs(first.sent_at.timestamp() - time.time()) < 60
    assert batch.messages[1].lang is None  # X's "und" names no language
    assert batch.cursor == retweet  # the newest mention seen, even one that is skipped
    assert batch.state["conversations"][call]["since_id"] == max(fake.tweets, key=int)


def test_a_second_fetch_with_the_cursor_returns_nothing_new(fake, x):
    call = x.post("Call", idempotency_key="k").external_id
    fake.citizen_reply(call, "camille_velo", "Please publish the bike counts.")
    first = x.fetch(None, state={}, watched=[call])
    again = x.fetch(first.cursor, state=first.state, watched=[call])
    assert len(first.messages) == 1 and again.messages == ()
    assert again.cursor == first.cursor
    assert fake.calls(MENTIONS)[-1].args["since_id"] == first.cursor
    assert fake.calls(SEARCH)[-1].args["since_id"] == first.state["conversations"][call]["since_id"]
    later = fake.citizen_mention("parent_a", "Please publish the canteen menus.")
    assert [m.external_id for m in x.fetch(again.cursor, state=again.state, watched=[call]).messages] == [later]


def test_pagination_follows_next_token_and_leaves_the_rest_for_the_next_poll(fake):
    x = TwitterConnector(make_client(fake.url, **oauth1(fake)), page_size=10, max_pages=2)
    ids = [fake.citizen_mention(f"citizen_{n}", f"Please open dataset {n}.") for n in range(25)]

    first = x.fetch(None, state={}, watched=[])
    assert [m.external_id for m in first.messages] == ids[5:]  # two pages of ten, newest first
    assert fake.calls(MENTIONS)[1].args["pagination_token"]
    assert int(first.cursor) < int(ids[0]) and first.state["mentions"]["until_id"] == ids[5]
    newer = fake.citizen_mention("late_citizen", "Please open the tree inventory.")

    second = x.fetch(first.cursor, state=first.state, watched=[])
    assert [m.external_id for m in second.messages] == ids[:5]
    assert second.cursor == ids[-1] and "mentions" not in second.state

    third = x.fetch(second.cursor, state=second.state, watched=[])
    assert [m.external_id for m in third.messages] == [newer]


def test_the_first_poll_starts_now_not_in_the_accounts_past(fake, x):
    yesterday = datetime.now(UTC) - timedelta(days=1)
    fake.citizen_mention("old_follower", "Please publish the 2019 budget.", at=yesterday)
    first = x.fetch(None, state={}, watched=[])
    assert first.messages == () and first.cursor is not None
    new = fake.citizen_mention("parent_a", "Please publish the canteen menus.")
    assert [m.external_id for m in x.fetch(first.cursor, state=first.state, watched=[]).messages] == [new]


def test_replies_are_paginated_per_watched_post(fake, x):
    call = x.post("Call", idempotency_key="k").external_id
    replies = [fake.citizen_reply(call, f"citizen_{n}", f"Data {n} please.", mention_author=False) for n in range(23)]
    batch = x.fetch(None, state={}, watched=[call])
    assert [m.external_id for m in batch.messages] == replies
    assert len(fake.calls(SEARCH)) == 3  # pages of ten
    assert fake.calls(SEARCH)[0].args["query"] == f"conversation_id:{call}"


def test_a_spent_search_window_keeps_what_was_read(fake, x):
    calls = [x.post(f"Call {n}", idempotency_key=f"k{n}").external_id for n in range(2)]
    replies = [fake.citizen_reply(c, "camille_velo", "Bike data please.", mention_author=False) for c in calls]
    fake.set_limit(SEARCH, 1)
    batch = x.fetch(None, state={}, watched=calls)
    assert [m.external_id for m in batch.messages] == replies[:1]
    assert "read" not in batch.state["conversations"][calls[1]]  # left for the next poll, read first then


def test_rate_limit_429_gives_retry_after_from_x_rate_limit_reset(fake, x):
    x.whoami()
    fake.fail(429, endpoint=MENTIONS, reset_in=120)
    with pytest.raises(NetworkError) as caught:
        x.fetch(None, state={}, watched=[])
    assert 110 < caught.value.retry_after <= 120 and not caught.value.permanent


def test_a_spent_daily_posting_cap_waits_for_its_own_reset(fake, x):
    x.whoami()
    reset = int(time.time()) + 3600
    fake.fail(429, endpoint=CREATE, headers={
        "x-rate-limit-remaining": "99", "x-rate-limit-reset": str(int(time.time()) + 900),
        "x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": str(reset),
    })
    with pytest.raises(NetworkError) as caught:
        x.post("Call", idempotency_key="k")
    assert 3590 < caught.value.retry_after <= 3600


def test_a_spent_window_is_not_called_again_before_its_reset(fake, x):
    fake.set_limit(MENTIONS, 2)
    x.fetch(None, state={}, watched=[])
    x.fetch(None, state={}, watched=[])  # the fake now says remaining 0
    with pytest.raises(NetworkError) as caught:
        x.fetch(None, state={}, watched=[])
    assert caught.value.retry_after > 800
    assert len(fake.calls(MENTIONS)) == 2  # refused before any 429


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(fake, x, status):
    x.whoami()
    fake.fail(status, endpoint=MENTIONS)
    with pytest.raises(NetworkError) as caught:
        x.fetch(None, state={}, watched=[])
    assert not caught.value.permanent and caught.value.retry_after is None
    assert x.fetch(None, state={}, watched=[]).messages == ()  # the next poll works


def test_malformed_json_is_transient(fake, x):
    x.whoami()
    fake.fail(200, endpoint=MENTIONS, body="<html>upstream proxy error</html>")
    with pytest.raises(NetworkError) as caught:
        x.fetch(None, state={}, watched=[])
    assert not caught.value.permanent


def test_unreachable_api_is_transient(fake):
    x = TwitterConnector(make_client("http://127.0.0.1:9", **oauth1(fake)))
    with pytest.raises(NetworkError) as caught:
        x.whoami()
    assert not caught.value.permanent


def test_reply_to_a_deleted_tweet_is_permanent(fake, x):
    with pytest.raises(NetworkError) as caught:
        x.reply(ReplyTarget("1877350012345678848", "1", "@gone"), "Thanks", idempotency_key="k")
    assert caught.value.permanent


def test_wrong_credentials_are_permanent(fake):
    keys = {**oauth1(fake), "consumer_secret": "not-the-secret"}
    x = TwitterConnector(make_client(fake.url, **keys))
    with pytest.raises(NetworkError) as caught:
        x.post("Call", idempotency_key="k")
    assert caught.value.permanent and "401" in str(caught.value)


def test_duplicate_post_is_permanent(fake, x):
    x.post("Same call", idempotency_key="k1")
    with pytest.raises(NetworkError) as caught:
        x.post("Same call", idempotency_key="k2")
    assert caught.value.permanent and "duplicate" in str(caught.value)


def test_too_long_is_refused_before_sending(fake, x):
    assert weighted_length("a" * 10) == 10 and weighted_length("📣" * 10) == 20
    assert weighted_length("see https://data.example.org/" + "x" * 100) == 4 + 23
    with pytest.raises(NetworkError) as caught:
        x.post("é" * 200 + "📣" * 41, idempotency_key="k")
    assert caught.value.permanent and fake.calls(CREATE) == []


def test_no_direct_messages_on_x(fake, x):
    with pytest.raises(NetworkError) as caught:
        x.reply(ReplyTarget("1", "2", "@a", is_private=True), "Private", idempotency_key="k")
    assert caught.value.permanent and fake.calls(CREATE) == []


def test_a_long_reply_is_fitted_once_by_the_reply_writer_as_x_counts_it(fake, x):
    call = x.post("Which data would you like us to open? Reply here.", idempotency_key="datacall-post-1")
    citizen = fake.citizen_reply(call.external_id, "camille_velo", "Could you publish the bike counts per hour?")
    written = long_reply(x, "@camille_velo")
    x.reply(ReplyTarget(citizen, "2000000001", "@camille_velo"), written, idempotency_key="r1")
    sent = fake.calls(CREATE)[-1].json["text"]
    assert_fitted_once(x, "@camille_velo", written, sent)
    assert sent == written  # X threads the reply: no mention in the text
    assert weighted_length(sent) > 270  # the room was used, not cut a second time


def test_native_poll(fake, x):
    ref = x.post_poll("Which dataset first?", ["Bike counts", "Canteen menus"], duration_seconds=86400,
                      idempotency_key="k")
    poll = fake.tweet(ref.external_id)["poll"]
    assert (poll["options"], poll["duration_minutes"]) == (["Bike counts", "Canteen menus"], 1440)
    with pytest.raises(NetworkError):
        x.post_poll("?", ["only one"], duration_seconds=3600, idempotency_key="k2")


def test_poll_results_read_the_votes_through_the_tweet_lookup_with_the_poll_expanded():
    now = [1_800_000_000.0]
    with FakeX(clock=lambda: now[0]) as fake:
        x = TwitterConnector(make_client(fake.url, **oauth1(fake)))
        try:
            ref = x.post_poll("Which request matters most?", ["Demande n°4", "Demande n°9", "Demande n°2"],
                              duration_seconds=3600, idempotency_key="k")
            fake.vote(ref.external_id, 0, 3)
            fake.vote(ref.external_id, 2, 11)
            assert x.poll_results(ref.external_id) == PollResult(votes=(3, 0, 11), closed=False)
            now[0] += 3600
            assert x.poll_results(ref.external_id).closed is True
            [lookup, *_] = fake.calls("GET /2/tweets/:id")
            assert lookup.path == f"/2/tweets/{ref.external_id}"
            assert lookup.args["expansions"] == "attachments.poll_ids"
            assert "voting_status" in lookup.args["poll.fields"]
            with pytest.raises(NetworkError) as caught:
                x.poll_results(x.post("No poll here", idempotency_key="p").external_id)
            assert caught.value.permanent
        finally:
            x.close()
        # Every answer the fake gave matches X's OpenAPI document.
        for exchange in fake.responses:
            if exchange.spec_path == "/2/tweets/{id}":
                assert_valid("get", "/2/tweets/{id}", "200", exchange.body)


def test_search_leaves_out_a_since_id_older_than_its_window(fake, x):
    old_call = fake.bot_tweet("Last year's call", at=datetime.now(UTC) - timedelta(days=8))
    reply = fake.citizen_reply(old_call, "camille_velo", "Still hoping for the bike counts!", mention_author=False)
    batch = x.fetch(None, state={}, watched=[old_call])
    assert [m.external_id for m in batch.messages] == [reply]
    assert "since_id" not in fake.calls(SEARCH)[0].args
    assert batch.state["conversations"][old_call]["since_id"] == reply


def test_app_only_bearer_reads_with_the_configured_username_but_cannot_post(fake):
    x = TwitterConnector(make_client(fake.url, bearer_token=fake.app_bearer_token), username="@datacall_city")
    mention = fake.citizen_mention("parent_a", "Please publish the canteen menus.")
    assert [m.external_id for m in x.fetch(None, state={}, watched=[]).messages] == [mention]
    assert {r.auth for r in fake.requests} == {"bearer-app"}
    with pytest.raises(NetworkError) as caught:
        x.post("Call", idempotency_key="k")
    assert caught.value.permanent


def test_documented_payloads_become_incoming_messages(fake, x):
    x.whoami()
    fake.respond_with(MENTIONS, sample("mentions_page.json"))
    fake.respond_with(MENTIONS, sample("mentions_empty.json"))
    fake.respond_with(SEARCH, sample("search_recent_conversation.json"))
    batch = x.fetch(None, state={}, watched=["1877349501234567168"])
    # The retweet and our own reply are dropped; the rest come oldest first.
    assert [(m.external_id, m.author_handle, m.lang) for m in batch.messages] == [
        ("1877350012345678848", "@camille_velo", "en"),
        ("1877350598765432832", "@parent_a", "fr"),
        ("1877351700000000000", "@data_dev_ana", "en"),
    ]
    assert fake.calls(MENTIONS)[-1].args["pagination_token"] == "7140dibdnow9c7btw421dyz6jism75z99gyxd8egarsc4"
    assert batch.cursor == "1877351234567890944"


def test_from_config_picks_oauth1_else_bearer(fake):
    config = TwitterConfig(enabled=True, api_base_url=fake.url)
    env = {
        config.consumer_key_env: fake.consumer_key, config.consumer_secret_env: fake.consumer_secret,
        config.access_token_env: fake.access_token, config.access_token_secret_env: fake.access_token_secret,
        config.bearer_token_env: fake.bearer_token,
    }
    assert TwitterConnector.from_config(config, env).user_auth
    bearer = TwitterConnector.from_config(config, {config.bearer_token_env: fake.bearer_token})
    assert not bearer.user_auth and bearer.whoami() == "@datacall_city"
    assert fake.requests[-1].auth == "bearer-user"
    with pytest.raises(ConfigError, match=config.bearer_token_env):
        TwitterConnector.from_config(config, {config.consumer_key_env: "only one"})


def test_rate_limit_helpers():
    assert endpoint_key("GET", "http://127.0.0.1:5/prefix/2/users/123/mentions?x=1") == MENTIONS
    assert endpoint_key("POST", "https://api.twitter.com/2/tweets") == CREATE
    assert retry_after({"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1000"}, now=940) == 60
    assert retry_after({}, now=940) == 60.0  # no header at all: a minute
    assert retry_after({"x-rate-limit-remaining": "0", "x-rate-limit-reset": "900"}, now=940) == 1.0


def test_call_reply_classify_acknowledge_publish_through_the_cli(
    cli, write_config, db_url, sessions, fake, monkeypatch
):
    for variable, value in oauth1(fake).items():
        monkeypatch.setenv(f"DATACALL_TWITTER_{variable.upper()}", value)
    config = write_config(f"""
[database]
url = "{db_url}"

[networks.sandbox]
enabled = false

[networks.twitter]
enabled = true
api_base_url = "{fake.url}"

[replies]
retry_base_seconds = 0.01
""")
    cli("init", config=config)
    cli("campaign create 2027-q1 --title 'First quarter call'", config=config)
    assert "twitter: call queued" in cli("campaign post 2027-q1", config=config).output
    cli("run --once", config=config)
    [call] = fake.posts_by_bot()
    assert "2027" in call["text"] or "First quarter call" in call["text"]

    reply = fake.citizen_reply(call["id"], "camille_velo", "Could you publish the bike counter data per hour as CSV?")
    mention = fake.citizen_mention(
        "data_dev_ana", "Is there an API for real-time bus positions? A GTFS-RT feed would be great."
    )
    assert "poll:twitter: 2" in cli("run --once", config=config).output

    acks = {t["referenced_tweets"][0]["id"]: t["text"] for t in fake.posts_by_bot() if "referenced_tweets" in t}
    assert set(acks) == {reply, mention}
    assert acks[reply].startswith("Thank you!") and "#1" in acks[reply]
    assert "#2" in acks[mention]
    with sessions() as session:
        messages = {m.external_id: m for m in session.scalars(select(Message))}
        assert {m.label for m in messages.values()} == {"data_request"}
        assert messages[reply].campaign_id is not None
        assert messages[reply].in_reply_to_id == call["id"]
        assert [r.status for r in session.scalars(select(Request).order_by(Request.id))] == ["received", "received"]

    cli(["request", "set-status", "1", "published", "--url", "https://data.example.org/velo"], config=config)
    cli("run --once", config=config)
    status = fake.posts_by_bot()[-1]
    assert status["referenced_tweets"] == [{"type": "replied_to", "id": reply}]
    # X shows the link as a t.co link, and says where it leads.
    assert status["entities"]["urls"][0]["expanded_url"] == "https://data.example.org/velo"
    assert status["entities"]["urls"][0]["url"] in status["text"]

    posted = len(fake.posts_by_bot())
    cli("run --once", config=config)
    assert len(fake.posts_by_bot()) == posted



def test_a_read_timeout_is_an_unknown_outcome_and_a_connect_timeout_is_not():
    """After a read timeout X may have posted the reply; X has no idempotency key, so it is not retried."""
    import requests

    from bot.networks.twitter import x_errors

    for endpoint, error, unknown in (
        ("POST /2/tweets", requests.ReadTimeout("read"), True),
        ("POST /2/tweets", requests.ConnectTimeout("connect"), False),
        ("POST /2/tweets", requests.ConnectionError("refused"), False),
        ("POST /2/tweets", requests.exceptions.JSONDecodeError("bad", "{", 0), True),  # answered, unreadably
        ("POST /2/tweets", KeyError("data"), True),
        ("GET /2/users/me", KeyError("data"), False),  # a read: trying again is harmless
    ):
        with pytest.raises(NetworkError) as raised:
            with x_errors(endpoint):
                raise error
        assert raised.value.outcome_unknown is unknown, (endpoint, error)
        assert not raised.value.permanent


# Recovery: a reply whose send may have happened is looked for on the account's own timeline.

def test_find_own_reply_reads_the_user_timeline_and_tells_found_from_not_found(fake, x):
    call = x.post("Which data would you like us to open?", idempotency_key="datacall-post-1")
    camille = fake.citizen_reply(call.external_id, "camille_velo", "Could you publish the bike counts per hour?")
    ana = fake.citizen_reply(call.external_id, "data_dev_ana", "Bus positions in real time, please")
    since = datetime.now(UTC) - timedelta(seconds=5)
    answer = x.reply(ReplyTarget(camille, "2000000001", "@camille_velo"), "Logged as #1.", idempotency_key="r1")

    found = x.find_own_reply(ReplyTarget(camille, "2000000001", "@camille_velo"), since=since)
    assert found.checked and found.found.external_id == answer.external_id
    assert found.found.url == f"https://x.com/datacall_city/status/{answer.external_id}"
    not_yet = x.find_own_reply(ReplyTarget(ana, "2000000002", "@data_dev_ana"), since=since)
    assert not_yet.checked and not_yet.found is None
    # A reply already recorded for another status change is not mistaken for this one.
    known = x.find_own_reply(ReplyTarget(camille, "2000000001", "@camille_velo"), since=since,
                             known={answer.external_id})
    assert known.checked and known.found is None
    lookups = fake.calls("GET /2/users/:id/tweets")
    assert len(lookups) == 3 and all(r.path == f"/2/users/{fake.bot_id}/tweets" for r in lookups)
    assert "referenced_tweets" in lookups[0].args["tweet.fields"] and lookups[0].args["exclude"] == "retweets"


def test_find_own_reply_cannot_tell_past_its_page_cap(fake, x, monkeypatch):
    monkeypatch.setattr("bot.networks.twitter.LOOKUP_PAGES", 1)
    call = x.post("Which data would you like us to open?", idempotency_key="datacall-post-1")
    citizen = fake.citizen_reply(call.external_id, "camille_velo", "Bike counts per hour, please")
    since = datetime.now(UTC) - timedelta(seconds=5)
    for number in range(101):  # more of our own tweets than one page holds, none answering the citizen
        fake.bot_tweet(f"Update number {number}")
    lookup = x.find_own_reply(ReplyTarget(citizen, "2000000001", "@camille_velo"), since=since)
    assert lookup.checked is False


def test_find_own_post_knows_a_post_as_x_shows_it_links_in_t_co_and_ampersands_escaped(fake, x):
    earlier = fake.bot_tweet("Our calendar for 2027 is online.", at=datetime.now(UTC) - timedelta(minutes=2))
    since = datetime.now(UTC) - timedelta(seconds=5)
    text = "Call 2027-q1: roads & cycling data? Tell us what you need. Notes: https://data.example.org/calls/2027-q1."
    call = x.post(text, idempotency_key="datacall-post-2")
    citizen = fake.citizen_reply(call.external_id, "camille_velo", "Bike counts, please")
    x.reply(ReplyTarget(citizen, "2000000001", "@camille_velo"), text, idempotency_key="r1")  # a reply: not it
    shown = fake.tweet(call.external_id)
    assert "https://t.co/" in shown["text"] and "&amp;" in shown["text"]  # the fake shows it as X does

    found = x.find_own_post(text, since=since)
    assert found.checked and found.found.external_id == call.external_id
    assert found.found.url == f"https://x.com/datacall_city/status/{call.external_id}"
    # Recorded already (another post of the same text), another text, or before `since`: not it.
    assert x.find_own_post(text, since=since, known={call.external_id}) == Lookup(checked=True)
    assert x.find_own_post(text.replace("2027-q1", "2027-q2"), since=since) == Lookup(checked=True)
    assert x.find_own_post("Our calendar for 2027 is online.", since=since) == Lookup(checked=True)
    older = x.find_own_post("Our calendar for 2027 is online.", since=since - timedelta(minutes=3))
    assert older.found.external_id == earlier
    lookups = fake.calls("GET /2/users/:id/tweets")
    assert all(r.path == f"/2/users/{fake.bot_id}/tweets" for r in lookups)
    assert lookups[0].args["exclude"] == "replies,retweets"
    assert {"entities", "attachments"} <= set(lookups[0].args["tweet.fields"].split(","))


def test_find_own_post_tells_polls_apart_by_their_options(fake, x):
    since = datetime.now(UTC) - timedelta(seconds=5)
    first = x.post_poll("Which request matters most?", ["Bike counts", "Canteen menus"], duration_seconds=86400,
                        idempotency_key="datacall-post-7")
    # The fake, like X, refuses a repeated text: let it take this question twice, so that only the options
    # tell the two polls apart (datacall numbers a split survey's questions, but a lookup must not rely on it).
    fake.tweets[first.external_id]["written"] = None
    second = x.post_poll("Which request matters most?", ["Bus positions", "Playgrounds"], duration_seconds=86400,
                         idempotency_key="datacall-post-8")
    question = "Which request matters most?"
    assert x.find_own_post(question, since=since, poll_options=["Bike counts", "Canteen menus"]).found == first
    assert x.find_own_post(question, since=since, poll_options=["Bus positions", "Playgrounds"]).found == second
    assert x.find_own_post(question, since=since, poll_options=["Bike counts", "Playgrounds"]).found is None
    assert x.find_own_post(question, since=since).found is None  # a text post of the question: not a poll
    lookup = fake.calls("GET /2/users/:id/tweets")[0]
    assert (lookup.args["expansions"], lookup.args["poll.fields"]) == ("attachments.poll_ids", "options")


def test_find_own_post_reads_a_documented_timeline_page(fake, x):
    fake.respond_with("GET /2/users/:id/tweets", sample("own_tweets_post_and_poll.json"))
    call = ("Call for contributions 2027-q1: roads & cycling data? Tell us what you need. "
            "Notes: https://data.example.org/calls/2027-q1.")
    assert x.find_own_post(call, since=datetime.now(UTC)).found.external_id == "1877349501234567168"
    fake.respond_with("GET /2/users/:id/tweets", sample("own_tweets_post_and_poll.json"))
    poll = x.find_own_post("Which of these should we open first?", since=datetime.now(UTC),
                           poll_options=("Bike counts", "Canteen menus"))
    assert poll.found.external_id == "1877352400000000000"
    fake.respond_with("GET /2/users/:id/tweets", sample("own_tweets_post_and_poll.json"))
    reply_text = "@camille_velo Thank you! Your request is logged as #1. Follow it here: https://data.example.org/requests/1"
    assert x.find_own_post(reply_text, since=datetime.now(UTC)) == Lookup(checked=True)  # a reply is no post


def test_find_own_post_cannot_tell_past_its_page_cap(fake, x, monkeypatch):
    monkeypatch.setattr("bot.networks.twitter.LOOKUP_PAGES", 1)
    since = datetime.now(UTC) - timedelta(seconds=5)
    for number in range(101):
        fake.bot_tweet(f"Update number {number}")
    assert x.find_own_post("The call is open", since=since).checked is False


@pytest.mark.parametrize(("sent", "shown", "links", "same"), [
    ("Read https://a.example/x.", "Read https://t.co/abc.", [{"url": "https://t.co/abc",
                                                              "expanded_url": "https://a.example/x"}], True),
    ("Read https://a.example/x.", "Read https://t.co/abc.", [{"url": "https://t.co/abc",
                                                              "expanded_url": "https://a.example/y"}], False),
    ("Read https://a.example/x", "Read https://t.co/abc", [], True),  # a t.co link X says nothing about
    ("Read https://a.example/x", "Read https://b.example/x", [], False),
    ("Q&A <today>", "Q&amp;A &lt;today&gt;", [], True),
    ("Caf\u00e9  open\n", "Cafe\u0301 open", [], True),  # NFC, spaces, trimmed ends
    ("Read https://a.example/x now", "Read https://t.co/abc", [], False),
])
def test_shows_as_compares_a_text_with_what_x_shows(sent, shown, links, same):
    assert shows_as(sent, shown, links) is same


def test_probe_asks_who_am_i_every_time_and_raises_while_x_is_down(fake, x):
    x.probe()
    x.probe()
    assert len(fake.calls("GET /2/users/me")) == 2  # never the cached answer
    fake.fail(503, endpoint="GET /2/users/me")
    with pytest.raises(NetworkError) as down:
        x.probe()
    assert down.value.transient and not down.value.permanent
