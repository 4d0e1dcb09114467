"""Message visibility, network pauses, replies to commands

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("visibility", sa.String(length=16), nullable=True))
    with op.batch_alter_table("network_cursors") as batch:
        batch.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("replies") as batch:
        batch.alter_column("status_event_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("replies") as batch:
        batch.alter_column("status_event_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("network_cursors") as batch:
        batch.drop_column("paused_until")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("visibility")
