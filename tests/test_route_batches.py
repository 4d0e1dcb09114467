"""Routing and classification by batch: few statements, the same outcome as one message at a time,
and no SQLite write lock held while the model runs or the texts are rendered."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import event, func, select

from bot.networks.sandbox import SandboxConnector
from bot.pipeline import route
from bot.pipeline.classify import classify_pending
from bot.pipeline.replies import ReplyWriter
from bot.replies.render import load_templates
from storage.database import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import Message, Reply, Request, Requester, StatusEvent, utcnow


def writer() -> ReplyWriter:
    # Only the sandbox's pure rules are used (its length limit); no database behind it.
    return ReplyWriter(templates=load_templates(), networks={"sandbox": SandboxConnector(None)}, default_language="fr")


def add_classified(sessions, items) -> list[int]:
    """items: (author, text, label, lang, needs_review); returns the message ids in order."""
    ids = []
    with sessions() as session, session.begin():
        people: dict[str, Requester] = {}
        for n, (author, text, label, lang, review) in enumerate(items):
            if author not in people:
                people[author] = Requester(network="sandbox", external_user_id=author, handle=f"@{author}")
                session.add(people[author])
            message = Message(
                network="sandbox", external_id=f"m{n}", requester=people[author], text=text, lang=lang,
                label=label, score=0.9 if label == "data_request" else 0.1, needs_review=review,
                classified_at=utcnow(),
            )
            session.add(message)
            session.flush()
            ids.append(message.id)
    return ids


def count_statements(engine):
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_a_batch_is_written_in_a_few_statements_whatever_its_size(engine, sessions):
    items = [(f"u{n}", f"Please publish the tree inventory of district {n} as CSV", "data_request",
              "en" if n % 2 else "fr", False) for n in range(300)]
    items += [("u0", "The bus was late again", "off_topic", "en", False), ("u1", "Hmm?", "data_request", None, True)]
    ids = add_classified(sessions, items)
    statements = count_statements(engine)
    assert route.route_classified(sessions, writer=writer(), batch_size=500) == 300
    writes = [s for s in statements if not s.lstrip().upper().startswith(("SELECT", "BEGIN", "PRAGMA"))]
    # Claim, requesters' languages, requests, their messages, events, replies: six writes for 302 messages
    # (it was about five statements per message).
    assert len(writes) <= 8, writes
    assert len(statements) <= 16
    with sessions() as session:
        assert session.scalar(select(func.count()).where(Message.routed_at.is_(None))) == 0
        replies = session.scalars(select(Reply).order_by(Reply.id)).all()
        assert len(replies) == 300
        for reply in replies:
            message = session.get(Message, reply.message_id)
            request = session.get(Request, message.request_id)
            event_row = session.get(StatusEvent, reply.status_event_id)
            assert event_row.request_id == request.id and event_row.status == "received"
            assert request.title_message_id == message.id and request.status == "received"
            assert reply.idempotency_key == f"datacall-{event_row.id}-{message.requester_id}"
            assert reply.lang == message.lang
            assert reply.text == writer().status_text(
                "received", reply.lang, network="sandbox", handle=message.requester.handle, request_id=request.id,
                title=request.title,
            )
            assert f"{request.id}" in reply.text
        review = session.get(Message, ids[-1])
        assert review.request_id is None and review.routed_at is not None
        assert session.get(Requester, review.requester_id).lang == "en"  # its earlier message's language


def run_one_by_one(sessions):
    """The reference: every message routed through the per-message path."""
    with sessions() as session, session.begin():
        ids = [row.id for row in route.load_rows(session)]
        session.execute(Message.__table__.update().where(Message.id.in_(ids)).values(routed_at=utcnow()))
        route._route_one_by_one(session, ids, writer=writer())


def outcome(sessions) -> list[tuple]:
    with sessions() as session:
        rows = session.execute(
            select(Message.external_id, Request.title, Reply.state, Reply.lang, Reply.text, Request.id)
            .outerjoin(Request, Request.id == Message.request_id)
            .outerjoin(Reply, Reply.message_id == Message.id)
            .order_by(Message.id)
        ).all()
        # Request ids may come in another order (a batch opens its commanders' requests last).
        rows = [(*row[:4], (row[4] or "").replace(str(row[5]), "N")) for row in rows]
        langs = session.execute(select(Requester.external_user_id, Requester.lang, Requester.opted_out)
                                .order_by(Requester.id)).all()
    return [tuple(row) for row in rows] + [tuple(row) for row in langs]


MIXED = [
    ("ana", "Could you publish the bike counters per hour?", "data_request", "en", False),
    ("ana", "/stop", "off_topic", None, False),
    ("ana", "And the parking occupancy too please", "data_request", "en", False),
    ("ben", "/stop", "off_topic", None, False),
    ("ben", "/start", "off_topic", None, False),
    ("ben", "Pourriez-vous publier les menus des cantines ?", "data_request", "fr", False),
    ("cleo", "Les horaires des piscines en open data ?", "data_request", "fr", False),
    ("cleo", "Not sure what this is", "data_request", "de", True),
    ("dan", "What a lovely day", "off_topic", "en", False),
    ("eve", "Les comptages piétons, merci", "data_request", None, False),
]


@pytest.mark.parametrize("batch_size", [3, 500])
def test_a_batch_routes_exactly_as_one_message_at_a_time(db_url, batch_size, tmp_path):
    results = []
    for name in ("batch", "one_by_one"):
        url = db_url if name == "batch" else _sibling(db_url, tmp_path)
        engine = make_engine(url)
        upgrade(engine)
        sessions = make_session_factory(engine)
        add_classified(sessions, MIXED)
        if name == "batch":
            route.route_classified(sessions, writer=writer(), batch_size=batch_size)
        else:
            run_one_by_one(sessions)
        results.append(outcome(sessions))
        engine.dispose()
    assert results[0] == results[1]
    by_message = {row[0]: row for row in results[0] if row[0].startswith("m")}
    assert by_message["m0"][2] == "dead"  # ana's first acknowledgement, dropped by her /stop
    assert by_message["m2"][2] is None  # opted out: no acknowledgement at all
    assert by_message["m5"][2] == "pending"  # ben came back with /start


def _sibling(db_url: str, tmp_path) -> str:
    """A second, empty database of the same kind."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'reference.db'}"
    import uuid

    import sqlalchemy as sa

    name = f"r_{uuid.uuid4().hex[:12]}"
    url = sa.engine.make_url(db_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def test_two_workers_route_each_message_once(engine, sessions):
    items = [(f"u{n}", f"Publish dataset number {n} please", "data_request", "en", False) for n in range(400)]
    add_classified(sessions, items)
    created, errors = [], []

    def work():
        try:
            created.append(route.route_classified(sessions, writer=writer(), batch_size=50))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sum(created) == 400
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Request)) == 400
        assert session.scalar(select(func.count(func.distinct(Reply.message_id)))) == 400
        assert session.scalar(select(func.count()).select_from(Reply)) == 400


def write_lock_is_free(path: str) -> bool:
    """Whether another process could start writing right now."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_sqlite_write_lock_is_free_while_planning_and_classifying(tmp_path, monkeypatch):
    """SQLite only: it has one write lock for the whole file (PostgreSQL locks rows)."""
    path = str(tmp_path / "lock.db")
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    add_classified(sessions, [(f"u{n}", f"Publish dataset {n}", "data_request", "en", False) for n in range(20)])
    seen = []
    original = route.plan_batch

    def plan_and_check(*args, **kwargs):
        seen.append(write_lock_is_free(path))
        return original(*args, **kwargs)

    monkeypatch.setattr(route, "plan_batch", plan_and_check)
    assert route.route_classified(sessions, writer=writer()) == 20
    assert seen == [True]

    with sessions() as session, session.begin():
        requester = session.scalar(select(Requester))
        session.add_all(Message(network="sandbox", external_id=f"new{n}", requester=requester, text=f"text {n}")
                        for n in range(10))

    class Model:
        version = "test"

        def predict(self, texts, *, threshold):
            from classifiers import Prediction

            seen.append(write_lock_is_free(path))
            return [Prediction(label="off_topic", score=0.1, lang="en") for _ in texts]

    assert classify_pending(sessions, Model(), threshold=0.5, batch_size=4) == 10
    assert seen == [True, True, True, True]
    engine.dispose()
