"""The Telegram connector, driving the real python-telegram-bot against a fake Bot API server."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import select
from telegram.ext import ExtBot

from bot.config import ConfigError
from bot.networks.base import NetworkError, PollResult, ReplyTarget
from bot.networks.telegram import ChatPacing, TelegramConfig, TelegramConnector
from storage.models import Message, Post, Request
from tests.fakes.telegram import FakeTelegram, sample
from tests.helpers import assert_fitted_once, long_reply

CHANNEL = -1001500000001
DISCUSSION = -1001500000002
GROUP = -1001500000003


@pytest.fixture
def fake():
    server = FakeTelegram().start()
    yield server
    server.stop()


def make_connector(fake: FakeTelegram, **config) -> TelegramConnector:
    settings = TelegramConfig(enabled=True, base_url=fake.base_url, **config)
    return TelegramConnector.from_config(settings, {"DATACALL_TELEGRAM_TOKEN": fake.token})


@pytest.fixture
def connector(fake):
    connector = make_connector(fake)
    yield connector
    connector.close()


def target(message: dict, *, private: bool = False) -> ReplyTarget:
    """What the outbox would build from a stored message."""
    author = message["from"]
    return ReplyTarget(
        external_id=f"{message['chat']['id']}:{message['message_id']}",
        author_id=str(author["id"]),
        author_handle=f"@{author['username']}",
        is_private=private,
    )


def calls(fake: FakeTelegram, method: str) -> list[dict]:
    return [params for name, params in fake.calls if name == method]


# -- posting ---------------------------------------------------------------------------------


def test_post_publishes_in_the_channel_with_a_chat_qualified_id(connector, fake):
    ref = connector.post("Which city data would you like us to publish?", idempotency_key="post-1")
    assert ref.external_id == f"{CHANNEL}:41"
    assert ref.url == "https://t.me/city_opendata/41"
    [sent] = fake.sent_messages()
    assert sent["chat"]["id"] == CHANNEL and sent["text"].startswith("Which city data")
    assert calls(fake, "sendMessage")[0]["chat_id"] == "@city_opendata"
    assert connector.idempotent_sends is False


def test_post_poll_is_an_anonymous_native_poll_in_the_channel(connector, fake):
    ref = connector.post_poll(
        "Which request matters most?", ["Bike counters", "Bus punctuality", "Canteen menus"],
        duration_seconds=14 * 24 * 3600, idempotency_key="poll-1",
    )
    [sent] = fake.sent_messages()
    assert ref.external_id == f"{CHANNEL}:{sent['message_id']}"
    poll = sent["poll"]
    assert poll["is_anonymous"] is True
    assert [option["text"] for option in poll["options"]] == ["Bike counters", "Bus punctuality", "Canteen menus"]
    # Open until datacall stops it: stopPoll is how an anonymous channel poll's counts are read.
    assert "open_period" not in poll and poll["is_closed"] is False


def test_poll_results_stop_the_poll_and_return_its_counts(connector, fake):
    ref = connector.post_poll("Which request matters most?", ["Demande n°4", "Demande n°9", "Demande n°2"],
                              duration_seconds=3600, idempotency_key="poll-2")
    message_id = int(ref.external_id.rpartition(":")[2])
    fake.vote(message_id, 1, 4)
    fake.vote(message_id, 2, 1)
    assert connector.poll_results(ref.external_id) == PollResult(votes=(0, 4, 1), closed=True)
    [stop] = calls(fake, "stopPoll")
    assert (int(stop["chat_id"]), int(stop["message_id"])) == (CHANNEL, message_id)
    with pytest.raises(NetworkError):  # Telegram refuses to stop a poll twice
        connector.poll_results(ref.external_id)


def test_too_long_text_is_refused_without_a_request(fake):
    connector = make_connector(fake, max_length=100)
    try:
        with pytest.raises(NetworkError) as error:
            connector.post("x" * 101, idempotency_key="long")
        assert error.value.permanent
        assert fake.calls == []
    finally:
        connector.close()


# -- fetching --------------------------------------------------------------------------------


def test_fetch_keeps_only_what_is_meant_for_datacall(connector, fake):
    updates = sample("updates")["result"]
    fake.push_updates(updates)
    batch = connector.fetch(None, state={}, watched=[])
    got = {m.external_id: m for m in batch.messages}
    # Kept: a private message, a private command, a mention, a reply to the bot, a comment on a
    # channel post and a comment on that comment, a captioned photo naming the bot, a group command.
    # Ignored: group chatter, the automatic forward, an edit, a channel post, a sticker,
    # another bot, a membership change.
    assert list(got) == [
        "100000101:11", "100000102:12", f"{GROUP}:301", f"{GROUP}:303",
        f"{DISCUSSION}:78", f"{DISCUSSION}:79", f"{GROUP}:304", f"{GROUP}:305",
    ]
    assert got["100000101:11"].is_private and got["100000101:11"].author_handle == "@camille_velo"
    assert got["100000101:11"].author_id == "100000101" and got["100000101:11"].url is None
    assert got["100000102:12"].text == "/start"
    assert not got[f"{GROUP}:301"].is_private
    assert got[f"{GROUP}:303"].in_reply_to_id == f"{GROUP}:290"
    assert got[f"{GROUP}:303"].author_handle == "Joe"  # no username: the first name
    comment = got[f"{DISCUSSION}:78"]
    assert comment.in_reply_to_id == comment.conversation_id == f"{CHANNEL}:42"
    nested = got[f"{DISCUSSION}:79"]
    assert nested.in_reply_to_id == f"{DISCUSSION}:78" and nested.conversation_id == f"{CHANNEL}:42"
    assert got[f"{GROUP}:304"].text.startswith("@datacall_bot where can I find")
    assert got[f"{GROUP}:305"].text == "/status"
    assert comment.sent_at.isoformat() == "2026-01-01T10:00:06+00:00"
    assert batch.cursor == str(updates[-1]["update_id"] + 1)
    assert batch.state["threads"] == {f"{DISCUSSION}:77": f"{CHANNEL}:42"}


def test_comments_on_a_posted_call_point_at_the_post(connector, fake):
    ref = connector.post("Tell us which data you need.", idempotency_key="call")
    post_id = int(ref.external_id.split(":")[1])
    comment = fake.channel_comment("camille_velo", "Could you publish the bike counters per hour?", post_id)
    batch = connector.fetch(None, state={}, watched=[ref.external_id])
    [incoming] = batch.messages
    assert incoming.external_id == f"{DISCUSSION}:{comment['message_id']}"
    assert incoming.in_reply_to_id == ref.external_id
    # A later answer to that comment is still placed under the call, from the state's thread map.
    fake.channel_comment("joe", "And their locations, please.", post_id, reply_to=comment["message_id"])
    [nested] = connector.fetch(batch.cursor, state=batch.state, watched=[ref.external_id]).messages
    assert nested.in_reply_to_id == incoming.external_id
    assert nested.conversation_id == ref.external_id


def test_commands_and_mentions_from_helpers(connector, fake):
    fake.command("ana", "/status")
    fake.command("ana", "/stop", in_group=True)
    fake.group_mention("joe", "Please publish the list of public toilets.")
    fake.group_message("joe", "Nice weather today.")
    texts = [m.text for m in connector.fetch(None, state={}).messages]
    assert texts == ["/status", "/stop", "@datacall_bot Please publish the list of public toilets."]


def test_a_fetch_with_the_returned_cursor_brings_nothing_new(connector, fake):
    fake.private_message("ana", "Please publish the bus timetables.")
    first = connector.fetch(None, state={})
    assert len(first.messages) == 1
    second = connector.fetch(first.cursor, state=first.state)
    assert second.messages == () and second.cursor == first.cursor
    assert fake.pending_updates() == []  # the offset confirmed them to Telegram
    polls = calls(fake, "getUpdates")
    assert polls[0].get("offset") is None and polls[1]["offset"] == int(first.cursor)
    assert all(p["timeout"] <= 1 and p["allowed_updates"] == ["message"] for p in polls)


def test_one_page_per_fetch_so_nothing_is_confirmed_before_it_is_stored(connector, fake):
    for number in range(150):
        fake.private_message(f"user_{number}", f"Request number {number}")
    first = connector.fetch(None, state={})
    assert len(first.messages) == 100
    # The pipeline did not store the page (say it crashed): the same fetch gets it again.
    again = connector.fetch(None, state={})
    assert [m.external_id for m in again.messages] == [m.external_id for m in first.messages]
    second = connector.fetch(first.cursor, state=first.state)
    assert [m.text for m in second.messages] == [f"Request number {n}" for n in range(100, 150)]
    assert connector.fetch(second.cursor, state=second.state).messages == ()


# -- replying ----------------------------------------------------------------------------------


def test_replies_thread_to_the_message_in_private_and_in_comments(connector, fake):
    ref = connector.post("Tell us which data you need.", idempotency_key="call")
    comment = fake.channel_comment("camille_velo", "Bike counters, please.", int(ref.external_id.split(":")[1]))
    private = fake.private_message("ana", "Bus positions, please.")
    public_ref = connector.reply(target(comment), "Thank you! Request #1.", idempotency_key="r1")
    private_ref = connector.reply(target(private, private=True), "Thank you! Request #2.", idempotency_key="r2")
    [public_reply] = fake.replies_to(comment)
    [private_reply] = fake.replies_to(private)
    assert public_reply["chat"]["id"] == DISCUSSION and public_reply["text"] == "Thank you! Request #1."
    assert public_reply["message_thread_id"] == comment["message_thread_id"]  # in the call's comments
    assert private_reply["chat"]["id"] == private["chat"]["id"]
    assert public_ref.external_id == f"{DISCUSSION}:{public_reply['message_id']}"
    assert private_ref.external_id == f"{private['chat']['id']}:{private_reply['message_id']}"
    assert calls(fake, "sendMessage")[-1]["reply_parameters"] == {
        "message_id": private["message_id"], "allow_sending_without_reply": True,
    }


def test_a_long_reply_is_fitted_once_by_the_reply_writer(connector, fake):
    private = fake.private_message("ana", "Bus positions, please.")
    written = long_reply(connector, "@ana")
    connector.reply(target(private, private=True), written, idempotency_key="r1")
    [sent] = fake.replies_to(private)
    assert_fitted_once(connector, "@ana", written, sent["text"])
    assert sent["text"] == written  # answered in the chat: no mention
    assert len(written) < connector.text_length(written) <= 4096  # counted as Telegram does: an emoji is 2


def test_a_reply_to_a_deleted_message_still_reaches_the_chat(connector, fake):
    private = fake.private_message("ana", "Bus positions, please.")
    gone = dict(private, message_id=999)
    connector.reply(target(gone, private=True), "Published!", idempotency_key="r")
    assert fake.sent_messages()[-1]["chat"]["id"] == private["chat"]["id"]


def test_private_replies_are_paced_per_chat(fake):
    bot = ExtBot(fake.token, base_url=fake.base_url, rate_limiter=ChatPacing(per_chat_period=0.5))
    connector = TelegramConnector(bot, channel="@city_opendata")
    try:
        ana, joe = fake.private_message("ana", "a"), fake.private_message("joe", "b")
        connector.whoami()
        started = time.monotonic()
        connector.reply(target(ana, private=True), "one", idempotency_key="1")
        connector.reply(target(joe, private=True), "two", idempotency_key="2")
        assert time.monotonic() - started < 0.4  # different chats do not wait for each other
        connector.reply(target(ana, private=True), "three", idempotency_key="3")
        assert time.monotonic() - started >= 0.4  # the same chat waits its turn
    finally:
        connector.close()


# -- errors -------------------------------------------------------------------------------------


def test_429_gives_the_networks_retry_after_without_sleeping(connector, fake):
    fake.fail(429, method="sendMessage", retry_after=7)
    started = time.monotonic()
    with pytest.raises(NetworkError) as error:
        connector.post("Call", idempotency_key="p")
    assert time.monotonic() - started < 2  # the limiter did not sleep 7 s to retry by itself
    assert error.value.retry_after == 7 and not error.value.permanent
    assert len(calls(fake, "sendMessage")) == 1
    fake.fail(429, method="getUpdates", retry_after=3)
    with pytest.raises(NetworkError) as error:
        connector.fetch(None, state={})
    assert error.value.retry_after == 3
    assert connector.post("Call", idempotency_key="p").external_id  # the next try goes through


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, None), (502, "<html><h1>502 Bad Gateway</h1></html>"), (200, "not json at all")],
    ids=["500", "html-502", "malformed-200"],
)
def test_server_errors_and_garbage_are_transient(connector, fake, status, body):
    connector.whoami()
    fake.fail(status, body=body)
    with pytest.raises(NetworkError) as error:
        connector.fetch(None, state={})
    assert not error.value.permanent and error.value.retry_after is None


def test_blocked_user_and_unknown_chat_are_permanent(connector, fake):
    private = fake.private_message("ana", "Bus positions, please.")
    fake.block("ana")
    with pytest.raises(NetworkError) as blocked:
        connector.reply(target(private, private=True), "Published!", idempotency_key="r")
    assert blocked.value.permanent and "blocked" in str(blocked.value)
    gone = ReplyTarget(external_id="-1009999999999:5", author_id="1", author_handle="@x")
    with pytest.raises(NetworkError) as missing:
        connector.reply(gone, "Published!", idempotency_key="r2")
    assert missing.value.permanent and "chat not found" in str(missing.value).lower()


def test_the_token_never_reaches_errors_or_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = TelegramConnector.from_config(
        TelegramConfig(enabled=True, base_url=fake.base_url), {"DATACALL_TELEGRAM_TOKEN": "7000000001:wrong-secret"}
    )
    try:
        with pytest.raises(NetworkError) as error:
            wrong.whoami()
    finally:
        wrong.close()
    assert "wrong-secret" not in str(error.value) and error.value.__suppress_context__
    assert not error.value.permanent  # bad credentials: fixed by the operator, then retried
    right = make_connector(fake)
    try:
        assert right.whoami() == "@datacall_bot"
        right.post("Call", idempotency_key="p")
    finally:
        right.close()
    assert "/bot<token>/sendMessage" in caplog.text  # httpx logged the request, without the token
    assert fake.token not in caplog.text and "wrong-secret" not in caplog.text


# -- construction and lifecycle -------------------------------------------------------------------


def test_from_config_needs_the_token_and_calls_nothing_until_used(fake):
    with pytest.raises(ConfigError, match="DATACALL_TELEGRAM_TOKEN"):
        TelegramConnector.from_config(TelegramConfig(enabled=True, base_url=fake.base_url), {})
    connector = make_connector(fake, channel="-1001500000001", max_length=1000)
    assert connector.max_length == 1000 and fake.calls == []
    connector.close()  # never started: nothing to stop


def test_close_stops_the_loop_thread(fake):
    connector = make_connector(fake)
    connector.whoami()
    connector.whoami()
    assert len(calls(fake, "getMe")) == 3  # the bot is initialised once, then each whoami asks
    assert any(t.name == "datacall-telegram" for t in threading.enumerate())
    connector.close()
    connector.close()
    assert not any(t.name == "datacall-telegram" and t.is_alive() for t in threading.enumerate())


# -- the whole loop through the CLI ----------------------------------------------------------------


@pytest.fixture
def telegram_config(write_config, db_url, fake, monkeypatch):
    monkeypatch.setenv("DATACALL_TELEGRAM_TOKEN", fake.token)
    return write_config(
        f"""
[database]
url = "{db_url}"

[networks.sandbox]
enabled = false

[networks.telegram]
enabled = true
base_url = "{fake.base_url}"
channel = "@city_opendata"

[replies]
retry_base_seconds = 0.01
""",
        "telegram.toml",
    )


def test_call_comment_and_message_become_requests_and_hear_back(cli, sessions, fake, telegram_config):
    def run(args: str):
        return cli(args, config=telegram_config)

    run("init")
    assert "signed in as @datacall_bot" in run("doctor").output
    run("campaign create 2027-q1 --title 'First quarter call'")
    assert "telegram: call queued" in run("campaign post 2027-q1").output
    run("run --once")
    [call] = fake.sent_messages()
    assert call["chat"]["id"] == CHANNEL
    with sessions() as session:
        post = session.scalars(select(Post)).one()
        assert post.external_id == f"{CHANNEL}:{call['message_id']}" and post.state == "posted"

    comment = fake.channel_comment(
        "camille_velo", "Could you publish the bike counter data per hour as CSV?", call["message_id"]
    )
    private = fake.private_message("data_dev_ana", "Please publish the real-time bus positions as a GTFS-RT feed.")
    mention = fake.group_mention("grumpy_joe", "The bin on my street has not been emptied for a week, ridiculous.")
    fake.group_message("grumpy_joe", "Anyone for a coffee?")  # not for the bot
    assert "poll:telegram: 3" in run("run --once").output

    with sessions() as session:
        messages = {m.external_id: m for m in session.scalars(select(Message))}
        stored_comment = messages[f"{DISCUSSION}:{comment['message_id']}"]
        stored_private = messages[f"{private['chat']['id']}:{private['message_id']}"]
        stored_mention = messages[f"{GROUP}:{mention['message_id']}"]
        assert stored_comment.label == "data_request" and stored_private.label == "data_request"
        assert stored_mention.label == "off_topic" and stored_mention.request_id is None
        assert stored_comment.in_reply_to_id == post.external_id
        assert stored_comment.campaign_id == post.campaign_id
        assert stored_private.is_private and not stored_comment.is_private
        assert stored_comment.requester.handle == "@camille_velo"
        requests = session.scalars(select(Request).order_by(Request.id)).all()
        assert [r.status for r in requests] == ["received", "received"]
        assert stored_comment.request_id == 1

    [ack_comment] = fake.replies_to(comment)
    [ack_private] = fake.replies_to(private)
    assert fake.replies_to(mention) == []
    assert ack_comment["chat"]["id"] == DISCUSSION and ack_comment["message_thread_id"] == comment["message_thread_id"]
    assert ack_private["chat"]["id"] == private["chat"]["id"]
    assert "#1" in ack_comment["text"] and "#2" in ack_private["text"]

    result = run("request set-status 1 published --url https://data.example.org/velo --answer 'Hourly counts.'")
    assert "1 reply(ies) queued" in result.output
    run("run --once")
    status_reply = fake.replies_to(comment)[-1]
    assert status_reply["message_id"] != ack_comment["message_id"]
    assert "https://data.example.org/velo" in status_reply["text"]
    assert len(fake.replies_to(private)) == 1

    sent_before = len(fake.sent_messages())
    run("run --once")
    assert len(fake.sent_messages()) == sent_before


def test_a_reply_answered_after_the_read_timeout_is_an_unknown_outcome(fake):
    """Telegram posted it but answered too late: TimedOut must not read as "retry", the reply could go twice."""
    from telegram.request import HTTPXRequest

    bot = ExtBot(fake.token, base_url=fake.base_url, request=HTTPXRequest(read_timeout=0.3))
    connector = TelegramConnector(bot, channel="@city_opendata")
    try:
        private = fake.private_message("ana", "Bus positions, please.")
        connector.fetch(None, state={})  # initialises the bot while the fake still answers in time
        fake.answer_late("sendMessage", 1.0)
        with pytest.raises(NetworkError) as raised:
            connector.reply(target(private, private=True), "Thank you! Request #2.", idempotency_key="r2")
    finally:
        connector.close()
    assert "TimedOut" in str(raised.value)
    assert raised.value.outcome_unknown and not raised.value.permanent
    assert len(fake.replies_to(private)) == 1  # it did reach the chat


def test_a_timeout_before_the_request_left_is_retried():
    """Waiting for a connection (connect or pool timeout): nothing was sent, a retry is safe."""
    import httpx
    from telegram.error import TimedOut

    from bot.networks.telegram import network_error

    for cause, unknown in ((httpx.ConnectTimeout("connect"), False), (httpx.PoolTimeout("pool"), False),
                           (httpx.ReadTimeout("read"), True), (httpx.WriteTimeout("write"), True)):
        error = TimedOut()
        error.__cause__ = cause
        mapped = network_error(error, token="t")
        assert (mapped.outcome_unknown, mapped.permanent) == (unknown, False), cause


def test_probe_is_get_me_and_telegram_cannot_list_what_the_bot_sent(fake, connector):
    from datetime import UTC, datetime

    connector.probe()
    fake.fail(502, method="getMe")
    with pytest.raises(NetworkError):
        connector.probe()
    assert len(calls(fake, "getMe")) >= 2
    # No Bot API method lists the bot's sent messages: a reply that may have left goes to an officer.
    lookup = connector.find_own_reply(ReplyTarget("-100:1", "1", "@camille"), since=datetime.now(UTC))
    assert lookup.checked is False and connector.finds_own_replies is False
    # Nor the channel's posts: a post that may have left is `dead`, for an officer.
    assert connector.find_own_post("The call is open", since=datetime.now(UTC)).checked is False
    assert connector.finds_own_posts is False
