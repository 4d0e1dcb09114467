"""Officers' triage: assignment, internal notes, dismissed suggestions, the score index

Revision ID: 0011_triage
Revises: 0010_campaign_note
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_triage"
down_revision = "0010_campaign_note"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_requests_assignee_id_users"), "users", ["assignee_id"], ["id"])
        batch.create_index(op.f("ix_requests_assignee_id"), ["assignee_id"])
    with op.batch_alter_table("suggestions") as batch:
        batch.add_column(sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dismissed_by", sa.String(length=100), nullable=True))
        # Suggestions that point to a request are closed when it is merged or decided.
        batch.create_index(op.f("ix_suggestions_target"), ["target"])
    op.create_table(
        "request_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_request_notes_request_id_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_notes")),
    )
    op.create_index(op.f("ix_request_notes_request_id"), "request_notes", ["request_id"])
    # The queue's "highest score" sort walks this index instead of sorting every waiting message.
    op.create_index(op.f("ix_messages_score"), "messages", ["score"])


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_score"), table_name="messages")
    op.drop_index(op.f("ix_request_notes_request_id"), table_name="request_notes")
    op.drop_table("request_notes")
    with op.batch_alter_table("suggestions") as batch:
        batch.drop_index(op.f("ix_suggestions_target"))
        batch.drop_column("dismissed_by")
        batch.drop_column("dismissed_at")
    with op.batch_alter_table("requests") as batch:
        batch.drop_index(op.f("ix_requests_assignee_id"))
        batch.drop_constraint(op.f("fk_requests_assignee_id_users"), type_="foreignkey")
        batch.drop_column("assignee_id")
