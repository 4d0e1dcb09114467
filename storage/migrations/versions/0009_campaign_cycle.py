"""The campaign cycle: phases, scheduled posts, which post brought a message, relevance surveys

Revision ID: 0009_campaign_cycle
Revises: 0008_scale
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_campaign_cycle"
down_revision = "0008_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("starts_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("meetup_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("meetup_place", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("meetup_url", sa.String(length=500), nullable=True))
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("skip_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("lang", sa.String(length=8), nullable=True))
    op.execute("UPDATE posts SET state = 'sending' WHERE state = 'posting'")
    with op.batch_alter_table("sandbox_entries") as batch:
        batch.add_column(sa.Column("poll", sa.JSON(), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("post_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f("fk_messages_post_id_posts"), "posts", ["post_id"], ["id"])
        batch.create_index(batch.f("ix_messages_post_id"), ["post_id"])
    op.create_table(
        "campaign_phases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_phases_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_phases")),
        sa.UniqueConstraint("campaign_id", "name", name=op.f("uq_campaign_phases_campaign_id_name")),
    )
    op.create_index(op.f("ix_campaign_phases_campaign_id"), "campaign_phases", ["campaign_id"])
    op.create_table(
        "survey_options",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("option_index", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], name=op.f("fk_survey_options_post_id_posts")),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_survey_options_request_id_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_options")),
        sa.UniqueConstraint("post_id", "option_index", name=op.f("uq_survey_options_post_id_option_index")),
    )
    op.create_index(op.f("ix_survey_options_post_id"), "survey_options", ["post_id"])
    op.create_index(op.f("ix_survey_options_request_id"), "survey_options", ["request_id"])
    op.create_table(
        "survey_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_option_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_option_id"], ["survey_options.id"], name=op.f("fk_survey_votes_survey_option_id_survey_options")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["requesters.id"], name=op.f("fk_survey_votes_requester_id_requesters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_votes")),
        sa.UniqueConstraint(
            "survey_option_id", "requester_id", name=op.f("uq_survey_votes_survey_option_id_requester_id")
        ),
    )
    op.create_index(op.f("ix_survey_votes_survey_option_id"), "survey_votes", ["survey_option_id"])
    op.create_index(op.f("ix_survey_votes_requester_id"), "survey_votes", ["requester_id"])


def downgrade() -> None:
    op.drop_table("survey_votes")
    op.drop_table("survey_options")
    op.drop_table("campaign_phases")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index(batch.f("ix_messages_post_id"))
        batch.drop_constraint(batch.f("fk_messages_post_id_posts"), type_="foreignkey")
        batch.drop_column("post_id")
    with op.batch_alter_table("sandbox_entries") as batch:
        batch.drop_column("poll")
    op.execute("UPDATE posts SET state = 'posting' WHERE state = 'sending'")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("lang")
        batch.drop_column("skip_reason")
    with op.batch_alter_table("campaigns") as batch:
        for column in ("meetup_url", "meetup_place", "meetup_at", "timezone", "starts_on"):
            batch.drop_column(column)
