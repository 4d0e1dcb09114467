"""A poll drains a backlog: pages while the network has more and its budget allows, up to a page cap."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import func, select

from bot.networks.mastodon import MastodonConfig, MastodonConnector
from bot.networks.sandbox import SandboxConnector
from bot.networks.telegram import PAGE_SIZE, TelegramConfig, TelegramConnector
from bot.networks.twitter import TwitterConnector, make_client
from bot.pipeline import ingest
from storage.models import Message, NetworkCursor, SandboxEntry
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twitter import FakeX


def stored(sessions, network: str) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Message).where(Message.network == network))


def cursor(sessions, network: str) -> str | None:
    with sessions() as session:
        return session.get(NetworkCursor, network).cursor


def test_sandbox_backlog_is_drained_page_by_page_up_to_the_cap(sessions):
    with sessions() as session, session.begin():
        session.execute(sa.insert(SandboxEntry), [
            {"author_id": f"u{n}", "handle": f"@c{n}", "text": f"Please publish dataset {n}",
             "is_private": False, "from_bot": False} for n in range(450)
        ])
    sandbox = SandboxConnector(sessions, page_size=100)
    assert ingest.poll(sandbox, sessions, max_pages=3) == 300  # the cap, not the backlog, stopped it
    assert stored(sessions, "sandbox") == 300
    with sessions() as session:
        third_page_end = session.scalars(select(SandboxEntry.id).order_by(SandboxEntry.id).offset(299).limit(1)).one()
    assert cursor(sessions, "sandbox") == str(third_page_end)  # each page stored with its cursor
    assert ingest.poll(sandbox, sessions, max_pages=3) == 150  # the rest, and a short page ends it
    assert ingest.poll(sandbox, sessions, max_pages=3) == 0


def test_a_failure_after_some_pages_keeps_what_was_stored(sessions, monkeypatch):
    with sessions() as session, session.begin():
        session.execute(sa.insert(SandboxEntry), [
            {"author_id": f"u{n}", "handle": f"@c{n}", "text": f"Data {n}", "is_private": False, "from_bot": False}
            for n in range(30)
        ])
    sandbox = SandboxConnector(sessions, page_size=10)
    real, calls = sandbox.fetch, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("network went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(sandbox, "fetch", flaky)
    assert ingest.poll(sandbox, sessions, max_pages=5) == 10
    assert stored(sessions, "sandbox") == 10
    with sessions() as session:
        assert session.get(NetworkCursor, "sandbox").consecutive_failures == 1
    assert ingest.poll(sandbox, sessions, max_pages=5) == 20  # the next poll goes on from the stored cursor


def test_telegram_full_pages_of_get_updates_are_followed(sessions):
    fake = FakeTelegram().start()
    connector = TelegramConnector.from_config(
        TelegramConfig(enabled=True, base_url=fake.base_url), {"DATACALL_TELEGRAM_TOKEN": fake.token}
    )
    try:
        for n in range(PAGE_SIZE * 2 + 30):
            fake.private_message(f"citizen{n}", f"Please publish dataset {n}")
        assert ingest.poll(connector, sessions, max_pages=10) == PAGE_SIZE * 2 + 30
        assert stored(sessions, "telegram") == PAGE_SIZE * 2 + 30
        # A short page says the queue is empty: three getUpdates, not ten.
        assert sum(1 for name, _ in fake.calls if name == "getUpdates") == 3
    finally:
        connector.close()
        fake.stop()


def test_x_mentions_are_followed_until_the_window_is_spent(sessions):
    with FakeX() as fake:
        client = make_client(fake.url, bearer_token=fake.bearer_token, consumer_key=fake.consumer_key,
                             consumer_secret=fake.consumer_secret, access_token=fake.access_token,
                             access_token_secret=fake.access_token_secret)
        connector = TwitterConnector(client, page_size=10, max_pages=1)
        for n in range(35):
            fake.citizen_mention(f"citizen_{n}", f"Please open dataset {n}.")
        assert ingest.poll(connector, sessions, max_pages=10) == 35
        more = [fake.citizen_mention(f"late_{n}", f"Please open data {n}.") for n in range(25)]
        fake.set_limit("GET /2/users/:id/mentions", 2)  # two calls left in this 15-minute window
        assert ingest.poll(connector, sessions, max_pages=10) == 20  # two pages, then the window is spent
        assert len(more) == 25


def test_mastodon_notifications_are_followed_while_the_budget_allows(sessions):
    with FakeMastodon() as fake:
        config = MastodonConfig(enabled=True, api_base_url=fake.url)
        connector = MastodonConnector.from_config(config, {"DATACALL_MASTODON_ACCESS_TOKEN": fake.token})
        connector.page_size, connector.max_pages = 5, 1
        for n in range(17):
            fake.citizen_mention(f"citizen{n}@example.org", f"Please publish dataset {n}")
        assert ingest.poll(connector, sessions, max_pages=10) == 17
        for n in range(20):
            fake.citizen_mention(f"later{n}@example.org", f"Please publish data {n}")
        fake.set_rate_limit(remaining=connector_reserve() + 3, reset_in=300)
        first = ingest.poll(connector, sessions, max_pages=10)
        assert 0 < first < 20  # stopped by the budget, not by the backlog
        connector.close()


def connector_reserve() -> int:
    from bot.networks.mastodon import FETCH_RESERVE

    return FETCH_RESERVE
