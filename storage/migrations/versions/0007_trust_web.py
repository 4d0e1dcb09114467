"""A per-user session version, so logout and a new password end every open session

Revision ID: 0007_trust_web
Revises: 0006_trust_data
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_trust_web"
down_revision = "0006_trust_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
