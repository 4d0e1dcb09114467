"""The queue's score sorts walk each part of the queue by score

"Highest score" and "lowest score" read, for each part of the queue (`queue_part`), its
messages in score order, and merge the runs: a page reads about a page from each part.
Without this index, "lowest score" in the default queue walked the score index past every
settled off-topic message (most messages) before it found the few waiting for a decision.
An index only: no table is rebuilt, so the triggers of 0014_queue_part stay.

Revision ID: 0015_queue_score
Revises: 0014_queue_part
Create Date: 2026-12-01
"""

from alembic import op

revision = "0015_queue_score"
down_revision = "0014_queue_part"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_queue_part_score_id", "messages", ["queue_part", "score", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_queue_part_score_id", table_name="messages")
