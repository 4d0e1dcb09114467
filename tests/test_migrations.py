"""Upgrading a database that holds data: every row survives, and what points to it still does."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from storage.database import make_engine
from storage.migrate import alembic_config, head_revision, upgrade

TABLES = ("requesters", "requests", "messages", "status_events", "replies")


def test_upgrade_from_0005_keeps_rows_that_other_rows_point_to(db_url):
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0005")
    with engine.begin() as connection:
        run = lambda sql: connection.execute(sa.text(sql))  # noqa: E731
        run("INSERT INTO requesters (id, network, external_user_id, opted_out, consented_public, created_at) "
            "VALUES (1, 'sandbox', 'u-1', false, false, CURRENT_TIMESTAMP)")
        run("INSERT INTO requests (id, title, status, created_at, updated_at) "
            "VALUES (1, 'bike counts', 'received', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        run("INSERT INTO messages (id, network, external_id, requester_id, text, is_private, received_at, "
            "label, needs_review, request_id) VALUES (1, 'sandbox', 'm-1', 1, 'bike counts please', false, "
            "CURRENT_TIMESTAMP, 'data_request', false, 1)")
        run("INSERT INTO status_events (id, request_id, status, actor, created_at) "
            "VALUES (1, 1, 'received', 'datacall', CURRENT_TIMESTAMP)")
        # A reply points to the message: a batch rebuild of `messages` must not break or drop it.
        run("INSERT INTO replies (id, status_event_id, requester_id, message_id, network, idempotency_key, "
            "lang, text, state, attempts, next_attempt_at, created_at) VALUES (1, 1, 1, 1, 'sandbox', 'k-1', "
            "'en', 'logged', 'sent', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    assert upgrade(engine) == ("0005", head_revision())
    with engine.connect() as connection:
        counts = {table: connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in TABLES}
        broken = (
            connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if engine.dialect.name == "sqlite" else []
        )
        reply_message = connection.scalar(sa.text("SELECT message_id FROM replies WHERE id = 1"))
    engine.dispose()
    assert counts == dict.fromkeys(TABLES, 1)
    assert broken == [] and reply_message == 1
