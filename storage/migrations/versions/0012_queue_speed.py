"""Queue speed: each request's support and networks stored, indexes for the officers' own views

Revision ID: 0012_queue_speed
Revises: 0011_triage
Create Date: 2026-11-30
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0012_queue_speed"
down_revision = "0011_triage"
branch_labels = None
depends_on = None

requests = sa.table("requests", sa.column("id", sa.Integer), sa.column("duplicate_of_id", sa.Integer),
                    sa.column("support", sa.Integer), sa.column("networks", sa.String))
messages = sa.table("messages", sa.column("request_id", sa.Integer), sa.column("requester_id", sa.Integer),
                    sa.column("network", sa.String))
options = sa.table("survey_options", sa.column("request_id", sa.Integer), sa.column("votes", sa.Integer))


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("support", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("networks", sa.String(length=200), server_default="", nullable=False))
    _backfill_support()
    _backfill_networks()
    # The queue's "most supported" sort walks this index instead of counting every request's supporters.
    op.create_index("ix_requests_support_id", "requests", ["support", "id"])
    # "Least sure first" walks the scores of the messages to review from 0.5 up and down.
    op.create_index("ix_messages_needs_review_score", "messages", ["needs_review", "score"])
    # A request's messages, to review or not, by id, from the index alone: "mine" and "most supported".
    op.create_index("ix_messages_request_id_needs_review_id", "messages", ["request_id", "needs_review", "id"])
    op.drop_index("ix_messages_request_id", table_name="messages")
    # The dashboard's overdue count: `received` by date, `accepted` by expected date, from the index alone.
    op.create_index("ix_requests_status_created_at_expected_at", "requests", ["status", "created_at", "expected_at"])
    # Support counts walk the merges down from each request shown: one probe per level, not a scan of requests.
    op.create_index("ix_requests_duplicate_of_id", "requests", ["duplicate_of_id"])
    # The dashboard's requests per status, campaign and network: one walk of this index, no table read.
    op.create_index("ix_requests_status_campaign_id_networks_not_a_request", "requests",
                    ["status", "campaign_id", "networks", "not_a_request"])


def _backfill_support() -> None:
    """Supporters (distinct requesters) plus survey votes, as storage.support counts them.

    One UPDATE counts each request's own messages; the requests that others were merged
    into with messages left behind (older data) are then counted again with their group.
    """
    own = (
        sa.select(sa.func.count(sa.distinct(messages.c.requester_id)))
        .where(messages.c.request_id == requests.c.id).scalar_subquery()
    )
    votes = (
        sa.select(sa.func.coalesce(sa.func.sum(options.c.votes), 0))
        .where(options.c.request_id == requests.c.id).scalar_subquery()
    )
    bind = op.get_bind()
    bind.execute(requests.update().values(support=own + votes))
    parent_of = dict(bind.execute(
        sa.select(requests.c.id, requests.c.duplicate_of_id).where(requests.c.duplicate_of_id.is_not(None))
    ).all())
    if not parent_of:
        return
    children: dict[int, set[int]] = defaultdict(set)
    for child, parent in parent_of.items():
        children[parent].add(child)

    def group(root: int) -> set[int]:
        members, frontier = {root}, [root]
        while frontier:
            for child in children.get(frontier.pop(), ()):
                if child not in members:
                    members.add(child)
                    frontier.append(child)
        return members

    for root in children:
        members = sorted(group(root))
        people = bind.scalar(
            sa.select(sa.func.count(sa.distinct(messages.c.requester_id))).where(messages.c.request_id.in_(members))
        )
        total = bind.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(options.c.votes), 0)).where(options.c.request_id.in_(members))
        )
        bind.execute(requests.update().where(requests.c.id == root).values(support=people + int(total)))


def _backfill_networks() -> None:
    """The networks of each request's own messages, sorted and comma-separated."""
    bind = op.get_bind()
    found: dict[int, set[str]] = defaultdict(set)
    for request_id, network in bind.execute(
        sa.select(messages.c.request_id, messages.c.network).distinct().where(messages.c.request_id.is_not(None))
    ):
        found[request_id].add(network)
    if found:
        bind.execute(
            requests.update().where(requests.c.id == sa.bindparam("request_id")).values(networks=sa.bindparam("names")),
            [{"request_id": request_id, "names": ",".join(sorted(names))} for request_id, names in found.items()],
        )


def downgrade() -> None:
    op.drop_index("ix_requests_duplicate_of_id", table_name="requests")
    op.drop_index("ix_requests_status_campaign_id_networks_not_a_request", table_name="requests")
    op.drop_index("ix_requests_status_created_at_expected_at", table_name="requests")
    op.create_index("ix_messages_request_id", "messages", ["request_id"])
    op.drop_index("ix_messages_request_id_needs_review_id", table_name="messages")
    op.drop_index("ix_messages_needs_review_score", table_name="messages")
    op.drop_index("ix_requests_support_id", table_name="requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("networks")
        batch.drop_column("support")
