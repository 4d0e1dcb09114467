"""Spot checks: a small random share of automatic decisions goes to officers too

`messages.spot_check` marks a message the classifier would have decided by itself and that
was sent to officers instead, drawn at random (`[classifier] spot_check_share`): officers'
decisions on those messages measure how precise the automatic decisions are on this
deployment's own messages (`datacall evaluate --decisions`). A plain column added: SQLite
adds it in place, so the triggers of 0014_queue_part stay.

Revision ID: 0016_spot_check
Revises: 0015_queue_score
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_spot_check"
down_revision = "0015_queue_score"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("spot_check", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("spot_check")
