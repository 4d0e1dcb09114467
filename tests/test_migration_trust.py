"""Migration 0006: existing requests get their draft's message, and those closed as off-topic leave the public views."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from storage.database import make_engine
from storage.migrate import alembic_config, upgrade


def test_upgrade_fills_the_draft_message_and_hides_requests_closed_as_off_topic(db_url):
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0005")
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO requesters (id, network, external_user_id, opted_out, consented_public, created_at) "
            "VALUES (1, 'sandbox', 'u-1', false, false, CURRENT_TIMESTAMP)"
        ))
        for request_id, status in ((1, "received"), (2, "declined"), (3, "declined")):
            connection.execute(sa.text(
                "INSERT INTO requests (id, title, status, created_at, updated_at) "
                "VALUES (:id, 'draft', :status, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ), {"id": request_id, "status": status})
        # 1: a data request; 2: declined because its only message was off-topic; 3: declined on its merits.
        for message_id, request_id, label in ((10, 1, "data_request"), (11, 1, "data_request"),
                                              (20, 2, "off_topic"), (30, 3, "data_request")):
            connection.execute(sa.text(
                "INSERT INTO messages (id, network, external_id, requester_id, text, is_private, received_at, "
                "label, needs_review, request_id) VALUES (:id, 'sandbox', :ext, 1, 'text', false, "
                "CURRENT_TIMESTAMP, :label, false, :request_id)"
            ), {"id": message_id, "ext": str(message_id), "label": label, "request_id": request_id})
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT id, title_message_id, not_a_request, public_title FROM requests ORDER BY id"
        )).all()
    engine.dispose()
    assert [(r[0], r[1], bool(r[2]), r[3]) for r in rows] == [
        (1, 10, False, None), (2, 20, True, None), (3, 30, False, None),
    ]
