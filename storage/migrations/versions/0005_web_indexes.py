"""Indexes for the web app at scale: the queue's order and counts, the dashboard's counts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The queue walks the messages an officer must review in id order (PostgreSQL's
    # index on needs_review alone keeps its duplicates in table order, not id order).
    op.create_index("ix_messages_needs_review_id", "messages", ["needs_review", "id"])
    # The queue's language choices: one index probe per language instead of reading every message.
    op.create_index(op.f("ix_messages_lang"), "messages", ["lang"])
    # Counts read from an index alone: the queue's messages of new requests (from the requests'
    # status), the dashboard's requests per network (all, minus the merged ones).
    op.create_index("ix_messages_request_id_needs_review_network", "messages",
                    ["request_id", "needs_review", "network"])
    op.create_index("ix_messages_network_request_id", "messages", ["network", "request_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_network_request_id", table_name="messages")
    op.drop_index("ix_messages_request_id_needs_review_network", table_name="messages")
    op.drop_index(op.f("ix_messages_lang"), table_name="messages")
    op.drop_index("ix_messages_needs_review_id", table_name="messages")
