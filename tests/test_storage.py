"""Storage on both databases: migrations match the models, constraints hold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from bot.networks.base import Incoming
from bot.networks.sandbox import SandboxConnector, say
from bot.pipeline.ingest import store_messages
from storage.database import DatabaseError, make_engine
from storage.migrate import MIGRATIONS, current_revision, head_revision, require_current, upgrade
from storage.models import Base, Message, Request, Requester


def test_migrations_build_exactly_the_models(engine):
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_upgrade_twice_changes_nothing(engine):
    assert upgrade(engine) == (head_revision(), head_revision())
    require_current(engine)


def test_the_revisions_read_without_alembic_are_alembics(engine):
    """`require_current` reads the head from the files and the revision with one query: the same as Alembic's."""
    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with engine.connect() as connection:
        assert current_revision(engine) == MigrationContext.configure(connection).get_current_revision()
    assert current_revision(engine) == head_revision()


def test_require_current_on_an_empty_database(db_url):
    engine = make_engine(db_url)
    with pytest.raises(DatabaseError, match="run `datacall init`"):
        require_current(engine)


def test_message_is_unique_per_network_and_external_id(sessions):
    with sessions() as session, session.begin():
        requester = Requester(network="sandbox", external_user_id="u1", handle="@u1")
        session.add(requester)
        session.add(Message(network="sandbox", external_id="42", requester=requester, text="a"))
        session.add(Message(network="mastodon", external_id="42", requester=requester, text="same id, other network"))
    with pytest.raises(IntegrityError):
        with sessions() as session, session.begin():
            requester = session.scalar(sa.select(Requester))
            session.add(Message(network="sandbox", external_id="42", requester=requester, text="again"))


def test_store_messages_skips_what_is_already_stored(sessions):
    item = Incoming(external_id="7", author_id="u7", author_handle="@seven", text="hello")
    with sessions() as session, session.begin():
        assert store_messages(session, "sandbox", (item, item)) == 1
    with sessions() as session, session.begin():
        assert store_messages(session, "sandbox", (item,)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(Requester)) == 1


def test_foreign_keys_are_enforced(sessions):
    with pytest.raises(IntegrityError):
        with sessions() as session, session.begin():
            session.add(Message(network="sandbox", external_id="1", requester_id=999, text="orphan"))


def test_datetimes_come_back_aware_utc(sessions):
    with sessions() as session, session.begin():
        session.add(Request(title="t", status="received"))
    with sessions() as session:
        created = session.scalar(sa.select(Request.created_at))
    assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_plain_postgresql_urls_use_psycopg3():
    from storage.database import normalise_url

    assert normalise_url("postgresql://u:p@h/db").startswith("postgresql+psycopg://u:p@h/db")


def test_sandbox_fetch_pages_and_dedupes_sends(sessions):
    connector = SandboxConnector(sessions, page_size=2)
    with sessions() as session, session.begin():
        for n in range(3):
            say(session, f"@c{n}", f"message {n}")
    first = connector.fetch(None, state={})
    second = connector.fetch(first.cursor, state={})
    assert [m.text for m in first.messages] == ["message 0", "message 1"]
    assert [m.text for m in second.messages] == ["message 2"]
    assert connector.fetch(second.cursor, state={}).messages == ()
    ref = connector.post("a call", idempotency_key="k1")
    assert connector.post("a call", idempotency_key="k1") == ref
    # The bot's own posts are never read back as citizen messages.
    assert connector.fetch(second.cursor, state={}).messages == ()
    with pytest.raises(ValueError, match="exceeds"):
        connector.post("x" * 501, idempotency_key="k2")
