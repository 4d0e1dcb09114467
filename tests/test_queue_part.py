"""Each message's part of the officers' queue, kept by database triggers (migration 0014_queue_part).

Part 0: to review, on a new request; 1: to review, otherwise; 2: on a new request;
3: the rest. The database keeps it through every kind of write, on SQLite and
PostgreSQL: ORM and Core, a message's own change and its request's.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy import bindparam, insert, select, update

from storage.database import make_engine
from storage.migrate import alembic_config, upgrade
from storage.models import Message, Request, Requester
from tests.web_support import add_message


def parts(session) -> dict[str, int | None]:
    """Each message's stored part, by its text."""
    session.expire_all()
    return dict(session.execute(select(Message.text, Message.queue_part)).all())


def test_a_message_takes_its_part_when_stored(sessions):
    with sessions() as session, session.begin():
        new = Request(title="bike counts")
        answered = Request(title="tree census", status="published")
        session.add_all([new, answered])
        session.flush()
        for text, needs_review, request in [("review new", True, new), ("review answered", True, answered),
                                            ("new", False, new), ("answered", False, answered),
                                            ("review alone", True, None), ("alone", False, None)]:
            message = add_message(session, "@a", text, needs_review=needs_review)
            message.request_id = request.id if request else None
    with sessions() as session:
        assert parts(session) == {"review new": 0, "review answered": 1, "new": 2, "answered": 3,
                                  "review alone": 1, "alone": 3}


def test_a_core_insert_takes_its_part_too(sessions):
    """Ingest writes pages with Core inserts: no ORM object, the database still fills the part."""
    with sessions() as session, session.begin():
        requester = Requester(network="sandbox", external_user_id="u-1")
        session.add(requester)
        session.flush()
        session.execute(insert(Message), [
            {"network": "sandbox", "external_id": str(n), "requester_id": requester.id, "text": f"m{n}",
             "needs_review": n == 0} for n in range(2)])
    with sessions() as session:
        assert parts(session) == {"m0": 1, "m1": 3}


def test_the_part_follows_the_message_and_its_request(sessions):
    with sessions() as session, session.begin():
        first, second = Request(title="bike counts"), Request(title="noise map")
        session.add_all([first, second])
        session.flush()
        for text in ("one", "two"):
            add_message(session, "@a", text).request_id = first.id
        add_message(session, "@b", "three", needs_review=True)
    with sessions() as session:
        assert parts(session) == {"one": 2, "two": 2, "three": 1}

    with sessions() as session, session.begin():  # an officer decides the request: both its messages move
        session.scalar(select(Request).where(Request.title == "bike counts")).status = "accepted"
    with sessions() as session:
        assert parts(session) == {"one": 3, "two": 3, "three": 1}

    with sessions() as session, session.begin():  # reopened (Core, as bulk changes write)
        session.execute(update(Request).where(Request.title == "bike counts").values(status="received"))
    with sessions() as session:
        assert parts(session) == {"one": 2, "two": 2, "three": 1}

    with sessions() as session, session.begin():  # a message joins another request, another is reviewed
        noise = session.scalar(select(Request.id).where(Request.title == "noise map"))
        session.execute(update(Request).where(Request.id == noise).values(status="planned"))
        session.execute(update(Message).where(Message.text == "two").values(request_id=noise))
        session.execute(update(Message).where(Message.text == "three").values(needs_review=False))
    with sessions() as session:
        assert parts(session) == {"one": 2, "two": 3, "three": 3}

    with sessions() as session, session.begin():  # classified in a batch, as the classify job writes
        table = Message.__table__
        session.execute(
            table.update().where(table.c.text == bindparam("key")).values(needs_review=bindparam("review")),
            [{"key": "one", "review": True}, {"key": "two", "review": True}],
        )
    with sessions() as session:
        assert parts(session) == {"one": 0, "two": 1, "three": 3}


DIGITS = " UNION ALL ".join(f"SELECT {n} AS n" for n in range(100))


def test_upgrading_fills_the_part_of_every_message(db_url):
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0013_recovery")
    with engine.begin() as connection:
        run = lambda sql: connection.execute(sa.text(sql))  # noqa: E731
        run("INSERT INTO requesters (id, network, external_user_id, opted_out, consented_public, created_at) "
            "VALUES (1, 'sandbox', 'u-1', false, false, CURRENT_TIMESTAMP)")
        for request_id, status in [(1, "received"), (2, "accepted")]:
            run(f"INSERT INTO requests (id, title, status, created_at, updated_at, support, networks, "
                f"not_a_request) VALUES ({request_id}, 't', '{status}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, "
                f"1, 'sandbox', false)")
        for message_id, needs_review, request_id in [(1, "true", 1), (2, "false", 1), (3, "true", 2),
                                                     (4, "false", 2), (5, "false", "NULL")]:
            run(f"INSERT INTO messages (id, network, external_id, requester_id, text, is_private, received_at, "
                f"needs_review, request_id) VALUES ({message_id}, 'sandbox', 'm-{message_id}', 1, 'x', false, "
                f"CURRENT_TIMESTAMP, {needs_review}, {request_id})")
        # Enough rows for an index built over the UPDATE's dead copies to show it (PostgreSQL).
        run("INSERT INTO messages (id, network, external_id, requester_id, text, is_private, received_at, "
            "needs_review, request_id) SELECT n, 'sandbox', 'bulk-' || n, 1, 'x', false, CURRENT_TIMESTAMP, "
            "false, 1 FROM (SELECT 100 + a.n * 100 + b.n AS n FROM (" + DIGITS + ") a, (" + DIGITS + ") b) ids")
    upgrade(engine)
    with engine.connect() as connection:
        stored = dict(connection.execute(sa.text("SELECT id, queue_part FROM messages WHERE id < 100")).all())
        bulk = set(connection.scalars(sa.text("SELECT DISTINCT queue_part FROM messages WHERE id >= 100")))
        if engine.dialect.name == "postgresql":
            size = "SELECT pg_relation_size('ix_messages_queue_part_id')"
            built = connection.scalar(sa.text(size))
            connection.execute(sa.text("REINDEX INDEX ix_messages_queue_part_id"))
            assert built == connection.scalar(sa.text(size))  # built without the dead copies
    engine.dispose()
    assert stored == {1: 0, 2: 2, 3: 1, 4: 3, 5: 3}
    assert bulk == {2}
