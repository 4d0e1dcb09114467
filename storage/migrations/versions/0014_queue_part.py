"""Each message stores its place in the officers' queue, kept by the database itself

The queue shows, in this order: messages to review on new requests, other messages to
review, other messages of new requests, then the rest, each part by message id. The part
depends on the message (`needs_review`) and on its request (`status`), two tables, so no
index could serve a page number typed by hand; `messages.queue_part` stores it, and
triggers keep it right on every write, whichever code (or person, in SQL) makes it:

- a message inserted, or its `needs_review` or `request_id` changed: its own part;
- a request inserted or its `status` changed: the parts of its messages.

The part is NULL while `needs_review` is NULL; otherwise 0 (to review, new request),
1 (to review, other), 2 (settled, new request), 3 (settled, other); "new" is a request
in `received`. `bot/web/queue.py` reads it. On SQLite, a later migration that rebuilds
the `messages` or `requests` table (batch mode) drops these triggers and must create them
again (`tests/test_queue_part.py` checks them at head).

Revision ID: 0014_queue_part
Revises: 0013_recovery
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_queue_part"
down_revision = "0013_recovery"
branch_labels = None
depends_on = None


def _part(needs_review: str, status: str) -> str:
    """The part as SQL, from SQL expressions for the message's `needs_review` and its request's status."""
    return (f"CASE WHEN {needs_review} IS NULL THEN NULL"
            f" ELSE (CASE WHEN {needs_review} THEN 0 ELSE 2 END)"
            f" + (CASE WHEN {status} = 'received' THEN 0 ELSE 1 END) END")


def _status_of(request_id: str) -> str:
    return f"(SELECT status FROM requests WHERE id = {request_id})"


SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER messages_queue_part_insert AFTER INSERT ON messages BEGIN
        UPDATE messages SET queue_part = {_part("NEW.needs_review", _status_of("NEW.request_id"))}
        WHERE id = NEW.id;
    END""",
    f"""CREATE TRIGGER messages_queue_part_update AFTER UPDATE OF needs_review, request_id ON messages BEGIN
        UPDATE messages SET queue_part = {_part("NEW.needs_review", _status_of("NEW.request_id"))}
        WHERE id = NEW.id;
    END""",
    f"""CREATE TRIGGER requests_queue_part_insert AFTER INSERT ON requests BEGIN
        UPDATE messages SET queue_part = {_part("needs_review", "NEW.status")} WHERE request_id = NEW.id;
    END""",
    f"""CREATE TRIGGER requests_queue_part_update AFTER UPDATE OF status ON requests
    WHEN OLD.status IS NOT NEW.status BEGIN
        UPDATE messages SET queue_part = {_part("needs_review", "NEW.status")} WHERE request_id = NEW.id;
    END""",
]
SQLITE_DROPS = [f"DROP TRIGGER IF EXISTS {name}" for name in (
    "messages_queue_part_insert", "messages_queue_part_update", "requests_queue_part_insert",
    "requests_queue_part_update")]

POSTGRESQL_TRIGGERS = [
    f"""CREATE FUNCTION messages_queue_part() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.queue_part := {_part("NEW.needs_review", _status_of("NEW.request_id"))};
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER messages_queue_part BEFORE INSERT OR UPDATE OF needs_review, request_id ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_queue_part()""",
    f"""CREATE FUNCTION requests_queue_part() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE messages SET queue_part = {_part("needs_review", "NEW.status")} WHERE request_id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER requests_queue_part_insert AFTER INSERT ON requests
    FOR EACH ROW EXECUTE FUNCTION requests_queue_part()""",
    """CREATE TRIGGER requests_queue_part_update AFTER UPDATE OF status ON requests
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION requests_queue_part()""",
]
POSTGRESQL_DROPS = [
    "DROP TRIGGER IF EXISTS requests_queue_part_update ON requests",
    "DROP TRIGGER IF EXISTS requests_queue_part_insert ON requests",
    "DROP TRIGGER IF EXISTS messages_queue_part ON messages",
    "DROP FUNCTION IF EXISTS requests_queue_part()",
    "DROP FUNCTION IF EXISTS messages_queue_part()",
]


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("queue_part", sa.SmallInteger(), nullable=True))
    op.execute(f"UPDATE messages SET queue_part = {_part('needs_review', _status_of('messages.request_id'))}")
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)
    if not postgresql:
        _indexes()
        return
    # PostgreSQL: the UPDATE above left a dead copy of every row. An index built in the same
    # transaction holds both copies (2.4 times its size, enough for the planner to sort rather
    # than walk it), so the indexes are built once it is committed, and the table vacuumed.
    with op.get_context().autocommit_block():
        _indexes()
        op.execute("VACUUM ANALYZE messages")


def _indexes() -> None:
    # A page of one part by id, or a page number typed by hand: a walk of this index alone.
    op.create_index("ix_messages_queue_part_id", "messages", ["queue_part", "id"])
    # A request's messages by part and id, from the index alone: "mine", "most supported" (was by needs_review).
    op.create_index("ix_messages_request_id_queue_part_id", "messages", ["request_id", "queue_part", "id"])
    op.drop_index("ix_messages_request_id_needs_review_id", table_name="messages")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_DROPS if postgresql else SQLITE_DROPS:
        op.execute(statement)
    op.create_index("ix_messages_request_id_needs_review_id", "messages", ["request_id", "needs_review", "id"])
    op.drop_index("ix_messages_request_id_queue_part_id", table_name="messages")
    op.drop_index("ix_messages_queue_part_id", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("queue_part")
