"""The three real networks' HTTP fakes at once, and a config that enables all three against them."""

from __future__ import annotations

import pytest

from tests.fakes.mastodon import FakeMastodon
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twitter import FakeX
from tests.test_network_twitter import oauth1


@pytest.fixture
def fakes():
    with FakeX() as x, FakeMastodon() as mastodon:
        telegram = FakeTelegram().start()
        try:
            yield x, mastodon, telegram
        finally:
            telegram.stop()


@pytest.fixture
def config(write_config, db_url, fakes, monkeypatch):
    x, mastodon, telegram = fakes
    for variable, value in oauth1(x).items():
        monkeypatch.setenv(f"DATACALL_TWITTER_{variable.upper()}", value)
    monkeypatch.setenv("DATACALL_MASTODON_ACCESS_TOKEN", mastodon.token)
    monkeypatch.setenv("DATACALL_TELEGRAM_TOKEN", telegram.token)
    return write_config(
        f"""
[database]
url = "{db_url}"
[networks.sandbox]
enabled = false
[networks.twitter]
enabled = true
api_base_url = "{x.url}"
[networks.mastodon]
enabled = true
api_base_url = "{mastodon.url}"
[networks.telegram]
enabled = true
base_url = "{telegram.base_url}"
[replies]
retry_base_seconds = 0.01
""",
        "all.toml",
    )
