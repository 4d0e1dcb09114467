"""The match-term index: suggestions look candidates up by shared terms instead of scanning

Revision ID: 0008_scale
Revises: 0007_trust_web
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_scale"
down_revision = "0007_trust_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled by the suggest job (requests, and a one-time rebuild after this upgrade)
    # and by `datacall catalogue import` (datasets).
    op.create_table(
        "match_terms",
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", "kind", "ref_id", name=op.f("pk_match_terms")),
    )
    op.create_index("ix_match_terms_kind_ref_id", "match_terms", ["kind", "ref_id"])


def downgrade() -> None:
    op.drop_index("ix_match_terms_kind_ref_id", table_name="match_terms")
    op.drop_table("match_terms")
