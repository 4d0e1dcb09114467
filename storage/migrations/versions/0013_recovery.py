"""Recovery in seconds: claims name their worker, workers write a heartbeat, transient failures count apart

Revision ID: 0013_recovery
Revises: 0012_queue_speed
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_recovery"
down_revision = "0012_queue_speed"
branch_labels = None
depends_on = None

CLAIMED_TABLES = ("replies", "posts")


def upgrade() -> None:
    for table in CLAIMED_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
            batch.add_column(sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column("transient_failures", sa.Integer(), nullable=False, server_default="0"))
        # A claim left by an older version may have been sent: it counts as started, so it is checked.
        op.execute(f"UPDATE {table} SET send_started_at = claimed_at WHERE state = 'sending'")
    op.create_table(
        "workers",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_workers")),
    )


def downgrade() -> None:
    op.drop_table("workers")
    for table in CLAIMED_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("transient_failures")
            batch.drop_column("send_started_at")
            batch.drop_column("claimed_by")
