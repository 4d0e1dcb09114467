"""Publication follow-up: the one question after publication, its answers as reuse feedback, publish suggestions."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from bot.config import load_config
from bot.jobs import build_jobs
from bot.networks.base import Batch, Connector, PostRef, ReplyTarget
from bot.networks.sandbox import SandboxConnector, say, timeline
from bot.pipeline import ingest
from bot.pipeline.follow_up import LATE_WINDOW, follow_up_key, queue_follow_ups
from bot.pipeline.outbox import send_due_replies
from bot.pipeline.replies import ReplyWriter
from bot.pipeline.route import open_request, route_classified
from bot.pipeline.status import set_status
from bot.replies.render import load_templates
from bot.runtime import Runtime
from storage.erasure import erase_requester
from storage.migrate import upgrade
from storage.models import FollowUp, Message, Reply, Request, Requester, ReuseFeedback, StatusEvent, Suggestion, utcnow
from tests.web_support import add_message, login

CKAN = Path(__file__).resolve().parent / "data" / "catalogues" / "ckan_package_search.json"
DAYS = 28


class RecordingConnector(Connector):
    """A network that sends everything it is given, twice if asked twice: it never drops a repeated key."""

    name = "recording"
    max_length = 500

    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []  # (author id, idempotency key, text)
        self._ids = itertools.count(1000)

    def post(self, text: str, *, idempotency_key: str) -> PostRef:
        raise AssertionError("nothing is posted here")

    def fetch(self, cursor, *, state: dict, watched: Sequence[str] = ()) -> Batch:
        return Batch((), cursor)

    def reply(self, target: ReplyTarget, text: str, *, idempotency_key: str) -> PostRef:
        self.sent.append((target.author_id, idempotency_key, text))
        return PostRef(str(next(self._ids)))


def writer_for(*networks: str) -> ReplyWriter:
    return ReplyWriter(
        templates=load_templates(), networks={n: RecordingConnector() for n in networks}, default_language="fr"
    )


def publish(session, writer, *supporters: tuple[str, str], network="recording") -> int:
    """A request opened by the first supporter, joined by the others, then published."""
    first = add_message(session, supporters[0][0], f"Publish {supporters[0][1]}", network=network)
    request = open_request(session, first, writer=writer)
    for handle, text in supporters[1:]:
        add_message(session, handle, text, network=network).request_id = request.id
    set_status(session, request.id, "published", actor="alice", writer=writer, url="https://data.example.org/d")
    return request.id


def test_each_supporter_is_asked_exactly_once_even_by_a_network_that_never_deduplicates(sessions):
    writer, network = writer_for("recording"), RecordingConnector()
    with sessions() as session, session.begin():
        main = publish(session, writer, ("@ana", "bike counts"), ("@ben", "bike counts too"),
                       ("@stop", "me too"), ("@gone", "me three"))
        # A duplicate merged into it: its supporter is the main request's supporter now.
        dup_message = add_message(session, "@dup", "bike counters please", network="recording")
        duplicate = open_request(session, dup_message, writer=writer)
        set_status(session, duplicate.id, "duplicate", actor="alice", writer=writer, duplicate_of=main)
        session.execute(update(Requester).where(Requester.handle == "@stop").values(opted_out=True))
        erase_requester(session, session.scalar(select(Requester).where(Requester.handle == "@gone")))
        recent = publish(session, writer, ("@cyd", "tree map"))
        old = publish(session, writer, ("@dan", "old data"))
        for request_id, days_ago in ((main, DAYS + 1), (recent, DAYS - 3), (old, DAYS + LATE_WINDOW.days + 5)):
            session.execute(update(StatusEvent).where(StatusEvent.request_id == request_id)
                            .values(created_at=utcnow() - timedelta(days=days_ago)))
    send_due_replies(sessions, {"recording": network}, max_attempts=3, retry_base_seconds=0.01)
    network.sent.clear()  # the status replies; what follows is the follow-up only

    two_days_ago = utcnow() - timedelta(days=2)
    assert queue_follow_ups(sessions, writer=writer, after_days=DAYS, now=two_days_ago) == 0  # not yet
    assert queue_follow_ups(sessions, writer=writer, after_days=DAYS) == 3
    for _ in range(3):  # every pass of `datacall run` runs the job again
        assert queue_follow_ups(sessions, writer=writer, after_days=DAYS) == 0
        send_due_replies(sessions, {"recording": network}, max_attempts=3, retry_base_seconds=0.01)

    with sessions() as session:
        ids = {r.handle: r.id for r in session.scalars(select(Requester).where(Requester.handle.is_not(None)))}
    asked = sorted(key for _, key, _ in network.sent)
    assert asked == sorted(follow_up_key(main, ids[handle]) for handle in ("@ana", "@ben", "@dup"))
    assert all("Did it meet your need" in text and "https://data.example.org/d" in text
               for _, _, text in network.sent)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(FollowUp)) == 3
        assert {row.request_id for row in session.scalars(select(FollowUp))} == {main}


def test_french_speakers_get_the_french_question(sessions):
    writer, network = writer_for("recording"), RecordingConnector()
    with sessions() as session, session.begin():
        publish(session, writer, ("@eve", "air quality"))
        session.execute(update(Requester).values(lang="fr"))
    queue_follow_ups(sessions, writer=writer, after_days=DAYS, now=utcnow() + timedelta(days=DAYS + 1))
    send_due_replies(sessions, {"recording": network}, max_attempts=3, retry_base_seconds=0.01)
    followups = [text for _, key, text in network.sent if "followup" in key]
    assert followups[0].startswith("Bonjour ! Les données de votre demande")


def test_who_opts_out_after_the_question_is_queued_is_not_asked(sessions):
    """The question is queued, then the person opts out without the outbox hearing of it (another process,
    or the web consent page): the outbox must look again at send time."""
    writer, network = writer_for("recording"), RecordingConnector()
    with sessions() as session, session.begin():
        publish(session, writer, ("@fay", "parking"))
    send_due_replies(sessions, {"recording": network}, max_attempts=3, retry_base_seconds=0.01)
    network.sent.clear()
    queue_follow_ups(sessions, writer=writer, after_days=DAYS, now=utcnow() + timedelta(days=DAYS + 1))
    with sessions() as session, session.begin():
        session.execute(update(Requester).values(opted_out=True))
    send_due_replies(sessions, {"recording": network}, max_attempts=3, retry_base_seconds=0.01)
    assert network.sent == []


def test_answers_are_reuse_feedback_not_requests(runtime, cli, config_file):
    sessions, writer = runtime.sessions, runtime.reply_writer()
    sandbox = SandboxConnector(sessions)
    with sessions() as session, session.begin():
        entry = say(session, "@gil", "Pourriez-vous publier les comptages vélo ?").id
    ingest.poll(sandbox, sessions)
    with sessions() as session, session.begin():
        message = session.scalar(select(Message).where(Message.external_id == str(entry)))
        message.label, message.classified_at, message.routed_at = "data_request", utcnow(), utcnow()
        request_id = open_request(session, message, writer=writer).id
        set_status(session, request_id, "published", actor="alice", writer=writer, url="https://data.example.org/v")
    queue_follow_ups(sessions, writer=writer, after_days=DAYS, now=utcnow() + timedelta(days=DAYS + 1))
    send_due_replies(sessions, runtime.connectors, max_attempts=3, retry_base_seconds=0.01)
    with sessions() as session:
        question = session.scalar(select(Reply).where(Reply.idempotency_key.like("datacall-followup-%")))
        assert question.state == "sent"
        bot_entry = int(question.external_id)
        assert "Ont-elles répondu" in next(e.text for e in timeline(session, from_bot=True) if e.id == bot_entry)
    with sessions() as session, session.begin():
        say(session, "@gil", "Oui ! J'en ai fait une carte des pistes les plus fréquentées.", in_reply_to_id=bot_entry)
        say(session, "@hal", "Publiez aussi les comptages piétons svp", in_reply_to_id=bot_entry)
    ingest.poll(sandbox, sessions)
    with sessions() as session:
        feedback = session.scalars(select(ReuseFeedback)).all()
        assert [(f.request_id, f.message.text) for f in feedback] == [
            (request_id, "Oui ! J'en ai fait une carte des pistes les plus fréquentées.")
        ]
        answer = feedback[0].message
        assert answer.classified_at is not None and answer.routed_at is not None and answer.label is None
        assert answer.request_id is None
        stranger = session.scalar(select(Message).where(Message.text.like("Publiez aussi%")))
        assert stranger.classified_at is None  # an ordinary message: the classifier will see it
    requests_before = _count(sessions, Request)
    route_classified(sessions, writer=writer)
    assert _count(sessions, Request) == requests_before

    shown = cli(f"request show {request_id}").output
    assert "reuse feedback (1 of 1 asked)" in shown and "carte des pistes" in shown


def test_feedback_shows_on_the_officers_request_page(client, users):
    writer = users.reply_writer()
    with users.sessions() as session, session.begin():
        request_id = publish(session, writer, ("@ivy", "noise maps"), network="sandbox")
        answer = add_message(session, "@ivy", "It met our need: we built a noise alert app.")
        session.add(ReuseFeedback(request_id=request_id, requester_id=answer.requester_id, message_id=answer.id))
    login(client)
    page = client.get(f"/queue/requests/{request_id}").text
    assert "Reuse feedback" in page and "we built a noise alert app" in page


def _count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def promised_requests(sessions, writer) -> dict[str, int]:
    with sessions() as session, session.begin():
        ids = {}
        for key, text, status in (
            ("canteen", "Please publish the school canteen menus", "accepted"),
            ("bikes", "Publiez les données des compteurs vélo (comptage par compteur)", "in_progress"),
            ("bus", "Where is the list of bus stops of the network?", None),
        ):
            request = open_request(session, add_message(session, f"@{key}", text), writer=writer)
            if status:
                set_status(session, request.id, status, actor="alice", writer=writer)
            ids[key] = request.id
        return ids


def test_scheduled_import_suggests_publishing_promised_requests(write_config, db_url, cli):
    config_path = write_config(
        f'[database]\nurl = "{db_url}"\n[catalogue]\nimport_interval_hours = 6\n'
        '[[catalogue.sources]]\nsource = "portal.json"\nformat = "ckan"\nname = "city"\n'
        'base_url = "https://data.example.org"\n'
    )
    # A relative path is relative to the config file's folder.
    (config_path.parent / "portal.json").write_bytes(CKAN.read_bytes())
    runtime = Runtime.from_config(load_config(config_path), say=lambda text: None)
    try:
        upgrade(runtime.engine)
        ids = promised_requests(runtime.sessions, runtime.reply_writer())
        job = next(job for job in build_jobs(runtime) if job.name == "catalogue")
        assert job.run() == 3  # three datasets added
        assert job.run() == 0  # not again before import_interval_hours
        with runtime.sessions() as session:
            found = sorted(
                (s.request_id, s.url) for s in session.scalars(select(Suggestion).where(Suggestion.kind == "publish"))
            )
        assert found == sorted([
            (ids["canteen"], "https://data.example.org/dataset/menus-des-cantines-scolaires"),
            (ids["bikes"], "https://data.example.org/dataset/comptage-velo"),
        ])  # the bus stops request is not promised yet: the suggest step handles it as "already available"
        shown = cli(f"request show {ids['canteen']}", config=config_path).output
        assert (f"set-status {ids['canteen']} published --url "
                "https://data.example.org/dataset/menus-des-cantines-scolaires") in shown
    finally:
        runtime.close()


def test_no_catalogue_job_without_sources(runtime):
    assert "catalogue" not in [job.name for job in build_jobs(runtime)]


def test_manual_import_suggests_publishing_too(cli, sessions, runtime):
    ids = promised_requests(sessions, runtime.reply_writer())
    out = cli(f"catalogue import {CKAN} --base-url https://data.example.org").output
    assert "2 publish suggestion(s)" in out
    with sessions() as session:
        assert {s.request_id for s in session.scalars(select(Suggestion).where(Suggestion.kind == "publish"))} == {
            ids["canteen"], ids["bikes"],
        }


def test_workers_queueing_at_the_same_moment_ask_each_supporter_once(sessions):
    """Several `datacall run` processes on one database: the unique keys make one win, the others add nothing."""
    import threading

    writer = writer_for("recording")
    with sessions() as session, session.begin():
        for n in range(5):
            request_id = publish(session, writer, (f"@p{n}", f"data {n}"), (f"@q{n}", f"data {n} too"))
            session.execute(update(StatusEvent).where(StatusEvent.request_id == request_id)
                            .values(created_at=utcnow() - timedelta(days=DAYS + 1)))
    barrier, results, errors = threading.Barrier(4), [], []

    def worker():
        try:
            barrier.wait()
            results.append(queue_follow_ups(sessions, writer=writer, after_days=DAYS))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and sum(results) == 10
    with sessions() as session:
        keys = session.scalars(select(Reply.idempotency_key).where(Reply.idempotency_key.like("datacall-followup-%")))
        assert len(list(keys)) == 10 == session.scalar(select(func.count()).select_from(FollowUp))
