"""Public titles approved by officers; requests closed as not a data request

Revision ID: 0006_trust_data
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_trust_data"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, which SQLite does in place: a batch copy would drop a table other rows point to.
    op.add_column("requests", sa.Column("public_title", sa.String(length=300), nullable=True))
    op.add_column("requests", sa.Column("title_message_id", sa.Integer(), nullable=True))
    op.add_column("requests", sa.Column("not_a_request", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Existing drafts were made from each request's first message. No public title is
    # approved yet: the public sees neutral titles until an officer approves one.
    op.execute(
        "UPDATE requests SET title_message_id = "
        "(SELECT min(messages.id) FROM messages WHERE messages.request_id = requests.id)"
    )
    # Declined requests whose every message an officer marked off-topic were closed as not a data request.
    requests = sa.table("requests", sa.column("id"), sa.column("status"), sa.column("not_a_request"))
    messages = sa.table("messages", sa.column("request_id"), sa.column("label"))
    mine = messages.c.request_id == requests.c.id
    op.execute(
        requests.update()
        .where(
            requests.c.status == "declined",
            sa.exists().where(mine),
            ~sa.exists().where(mine, sa.or_(messages.c.label.is_(None), messages.c.label != "off_topic")),
        )
        .values(not_a_request=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("not_a_request")
        batch.drop_column("title_message_id")
        batch.drop_column("public_title")
