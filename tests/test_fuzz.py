"""Fuzz tests: config loading, each connector's payload parsing, catalogue parsing, `classify` input.

Each property says what any input may lead to: a result datacall can store, or the
one-line error the CLI prints; never another exception. The hypothesis profile is
chosen in tests/conftest.py: 200 examples each by default, 10,000 with DATACALL_FUZZ=full.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mastodon.return_types import Status
from mastodon.types_base import try_cast_recurse
from telegram import Message, User

import classifiers
from bot import catalogue
from bot.cli.classifier import BadLine, _text
from bot.config import ConfigError, load_config
from bot.networks import mastodon as mastodon_network
from bot.networks import telegram as telegram_network
from bot.networks import twitter as twitter_network
from bot.networks.base import Incoming

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"

# Any text JSON can carry, lone surrogates and NUL included.
json_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)
ids = st.integers(min_value=1, max_value=2**63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | json_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_text, inner, max_size=4),
    max_leaves=20,
)


def assert_storable(incoming: Incoming | None) -> None:
    if incoming is None:
        return
    for value in vars(incoming).values():
        if isinstance(value, str):
            value.encode("utf-8")  # no lone surrogate
            assert "\x00" not in value  # PostgreSQL refuses NUL in text


# -- config ------------------------------------------------------------------------------

SECTIONS = {
    "database": ["url"],
    "scheduler": ["poll_interval_seconds", "max_pages_per_poll", "classify_interval_seconds"],
    "classifier": ["threshold", "batch_size", "review_band", "model_path"],
    "replies": ["max_attempts", "retry_base_seconds"],
    "web": ["host", "port", "public_url"],
    "networks.sandbox": ["enabled", "max_length"],
    "networks.mastodon": ["enabled", "api_base_url", "access_token_env"],
    "campaigns": ["default_language"],
    "nonsense": ["key"],
}
toml_values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.text(max_size=40), st.lists(st.integers(min_value=-5, max_value=5) | st.floats(0, 1), max_size=3),
)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def load_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "datacall.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            load_config(path)
        except ConfigError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))


@given(st.text(max_size=300))
def test_config_any_text_loads_or_is_one_line(text):
    load_text(text)


@given(st.dictionaries(st.sampled_from(sorted(SECTIONS)), st.data(), min_size=1, max_size=4), st.data())
def test_config_any_value_of_known_keys_loads_or_is_one_line(sections, data):
    lines = []
    for section in sections:
        lines.append(f"[{section}]")
        for key in data.draw(st.lists(st.sampled_from(SECTIONS[section]), unique=True, max_size=3)):
            lines.append(f"{key} = {toml_value(data.draw(toml_values))}")
    load_text("\n".join(lines) + "\n")


def test_config_example_still_loads():
    load_config(EXAMPLE)


# -- Mastodon statuses ---------------------------------------------------------------------


@given(
    status_id=ids, account_id=ids, acct=json_text, content=json_text, spoiler=json_text,
    visibility=st.sampled_from(["public", "unlisted", "private", "direct"]) | json_text,
    language=st.none() | json_text, created=st.datetimes(timezones=st.just(UTC)),
    reply_to=st.none() | ids, url=st.none() | json_text,
)
def test_mastodon_any_status_becomes_a_storable_message(
    status_id, account_id, acct, content, spoiler, visibility, language, created, reply_to, url
):
    data = {
        "id": str(status_id), "uri": f"https://x.example/{status_id}", "url": url, "content": content,
        "spoiler_text": spoiler, "visibility": visibility, "language": language,
        "created_at": created.isoformat(), "in_reply_to_id": str(reply_to) if reply_to else None,
        "account": {"id": str(account_id), "acct": acct, "username": acct},
        "mentions": [], "tags": [], "emojis": [], "media_attachments": [],
    }
    status = try_cast_recurse(Status, json.loads(json.dumps(data)))
    assert_storable(mastodon_network.to_incoming(status))


@given(json_text)
def test_mastodon_any_html_becomes_text(html):
    assert isinstance(mastodon_network.html_to_text(html), str)


# -- Telegram messages ---------------------------------------------------------------------

ME = User(id=999, first_name="datacall", is_bot=True, username="datacall_bot")


@given(
    message_id=st.integers(1, 2**31 - 1), user_id=ids, chat_id=st.integers(-(10**13), 10**13).filter(bool),
    chat_type=st.sampled_from(["private", "group", "supergroup", "channel"]), text=json_text,
    first_name=json_text, username=st.none() | json_text, date=st.integers(0, 2**32),
    reply=st.none() | st.integers(1, 2**31 - 1),
)
def test_telegram_any_message_becomes_a_storable_message_or_nothing(
    message_id, user_id, chat_id, chat_type, text, first_name, username, date, reply
):
    data = {
        "message_id": message_id, "date": date, "text": text,
        "from": {"id": user_id, "is_bot": False, "first_name": first_name, "username": username},
        "chat": {"id": chat_id, "type": chat_type, "title": first_name},
    }
    if reply:
        data["reply_to_message"] = {"message_id": reply, "date": date, "chat": data["chat"],
                                    "from": {"id": ME.id, "is_bot": True, "first_name": "datacall"}}
    message = Message.de_json(json.loads(json.dumps(data)), None)
    channel = telegram_network.ChannelRef.parse("@city_opendata")
    assert_storable(telegram_network.to_incoming(message, me=ME, channel=channel, threads={}))


# -- X tweets ------------------------------------------------------------------------------


@given(
    tweet_id=ids, author_id=ids, text=json_text, lang=st.none() | json_text, username=json_text,
    created=st.datetimes(min_value=datetime(2006, 3, 21), timezones=st.just(UTC)), conversation=st.none() | ids,
    replied=st.none() | ids,
)
def test_x_any_tweet_becomes_a_storable_message(
    tweet_id, author_id, text, lang, username, created, conversation, replied
):
    import tweepy

    data = {"id": str(tweet_id), "text": text, "author_id": str(author_id),
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "edit_history_tweet_ids": [str(tweet_id)]}
    if lang is not None:
        data["lang"] = lang
    if conversation:
        data["conversation_id"] = str(conversation)
    if replied:
        data["referenced_tweets"] = [{"type": "replied_to", "id": str(replied)}]
    tweet = tweepy.Tweet(json.loads(json.dumps(data)))
    users = {author_id: tweepy.User({"id": str(author_id), "name": username, "username": username})}
    assert_storable(twitter_network._incoming(tweet, users))


# -- catalogues ----------------------------------------------------------------------------


@given(st.binary(max_size=500))
def test_catalogue_any_bytes_decode_or_are_one_line(raw):
    try:
        catalogue._decode(raw, "source.json")
    except catalogue.CatalogueError as exc:
        assert "\n" not in str(exc)


@given(json_values, st.sampled_from(["auto", *catalogue.FORMATS]))
def test_catalogue_any_json_parses_or_is_one_line(payload, fmt):
    try:
        _, entries = catalogue.parse(payload, fmt, base_url="https://data.example.org")
    except catalogue.CatalogueError as exc:
        assert "\n" not in str(exc)
        return
    for record in entries:
        assert record is None or (record.external_id and record.title)


@given(st.lists(st.fixed_dictionaries({
    "id": json_text, "name": json_text, "title": json_text, "notes": st.none() | json_text,
    "tags": st.lists(st.fixed_dictionaries({"name": json_text}), max_size=3),
}), max_size=5))
def test_catalogue_any_ckan_page_parses_or_is_one_line(results):
    raw = json.dumps({"success": True, "result": {"count": len(results), "results": results}}).encode()
    try:
        payload = catalogue._decode(raw, "ckan.json")
        catalogue.parse(payload, "ckan", base_url="https://data.example.org")
    except catalogue.CatalogueError as exc:
        assert "\n" not in str(exc)


# -- classify input ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier():
    return classifiers.load(classifiers.ensure_model(None, on_train=lambda _text: None))


@given(raw=st.binary(max_size=300) | json_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
       jsonl=st.booleans(), number=st.integers(1, 3))
def test_classify_any_line_is_classified_or_is_one_line(classifier, raw, jsonl, number):
    try:
        text = _text(raw, number, jsonl)
    except BadLine as exc:
        assert "\n" not in str(exc)
        return
    [prediction] = classifier.predict([text], threshold=0.5)
    assert prediction.label in ("data_request", "off_topic") and 0.0 <= prediction.score <= 1.0
    json.dumps({"label": prediction.label, "score": prediction.score, "lang": prediction.lang},
               ensure_ascii=False).encode("utf-8")
