"""Expected date of accepted requests, follow-up questions and reuse feedback

Revision ID: 0010_campaign_note
Revises: 0009_campaign_cycle
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_campaign_note"
down_revision = "0009_campaign_cycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("expected_at", sa.Date(), nullable=True))
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_follow_ups_request_id_requests")),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["requesters.id"], name=op.f("fk_follow_ups_requester_id_requesters")
        ),
        sa.ForeignKeyConstraint(["reply_id"], ["replies.id"], name=op.f("fk_follow_ups_reply_id_replies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
        sa.UniqueConstraint("request_id", "requester_id", name=op.f("uq_follow_ups_request_id_requester_id")),
        sa.UniqueConstraint("reply_id", name=op.f("uq_follow_ups_reply_id")),
    )
    op.create_index(op.f("ix_follow_ups_request_id"), "follow_ups", ["request_id"])
    op.create_index(op.f("ix_follow_ups_requester_id"), "follow_ups", ["requester_id"])
    op.create_table(
        "reuse_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_reuse_feedback_request_id_requests")),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["requesters.id"], name=op.f("fk_reuse_feedback_requester_id_requesters")
        ),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_reuse_feedback_message_id_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reuse_feedback")),
        sa.UniqueConstraint("message_id", name=op.f("uq_reuse_feedback_message_id")),
    )
    op.create_index(op.f("ix_reuse_feedback_request_id"), "reuse_feedback", ["request_id"])
    op.create_index(op.f("ix_reuse_feedback_requester_id"), "reuse_feedback", ["requester_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_reuse_feedback_requester_id"), table_name="reuse_feedback")
    op.drop_index(op.f("ix_reuse_feedback_request_id"), table_name="reuse_feedback")
    op.drop_table("reuse_feedback")
    op.drop_index(op.f("ix_follow_ups_requester_id"), table_name="follow_ups")
    op.drop_index(op.f("ix_follow_ups_request_id"), table_name="follow_ups")
    op.drop_table("follow_ups")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("expected_at")
