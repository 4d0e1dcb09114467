"""Publishing by schedule with a controllable clock: once, never twice, skip what has passed, retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.campaigns.publishing import Publisher
from bot.campaigns.schedule import build_calendar
from bot.campaigns.texts import load_campaign_texts
from bot.config import CampaignsConfig
from bot.networks.base import Incoming, NetworkError, PollResult
from bot.networks.sandbox import SandboxConnector, vote
from bot.pipeline.ingest import store_messages
from bot.pipeline.outbox import post_due
from storage.models import Campaign, Message, Post, Requester, SurveyOption, SurveyVote
from storage.support import support_count
from tests.campaign_data import add_request
from tests.recording import RecordingConnector

PARIS = ZoneInfo("Europe/Paris")
PUBLIC = "https://data.example.org"


def at(text: str) -> datetime:
    """A local Paris time, as the aware UTC datetime the database keeps."""
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).astimezone(UTC)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def make_campaign(sessions, connectors, *, meetup: str | None = None, settings: CampaignsConfig | None = None) -> int:
    with sessions() as session, session.begin():
        campaign = Campaign(slug="2027-q1", title="Q1 2027", call_text="", meetup_place="City hall")
        session.add(campaign)
        build_calendar(
            session, campaign, start=date(2027, 1, 4), settings=settings or CampaignsConfig(),
            connectors=connectors, max_length={name: c.max_length for name, c in connectors.items()},
            texts=load_campaign_texts(), public_url=PUBLIC, meetup_at=at(meetup) if meetup else None,
        )
        session.flush()
        return campaign.id


def run(sessions, connectors, clock, *, survey_size: int = 8) -> int:
    publisher = Publisher(
        texts=load_campaign_texts(), public_url=PUBLIC, survey_size=survey_size,
        max_length={name: c.max_length for name, c in connectors.items()},
    )
    return post_due(sessions, connectors, max_attempts=3, retry_base_seconds=60, publisher=publisher, now=clock)


def states(sessions) -> list[tuple[str, str]]:
    with sessions() as session:
        return [(p.kind, p.state) for p in session.scalars(select(Post).order_by(Post.due_at, Post.id))]


def test_each_post_goes_out_when_due_and_only_once(sessions):
    network = RecordingConnector()
    make_campaign(sessions, {"sandbox": network})
    clock = Clock(at("2027-01-04 09:00"))
    assert run(sessions, {"sandbox": network}, clock) == 0
    clock.now = at("2027-01-04 09:31")
    assert run(sessions, {"sandbox": network}, clock) == 1
    assert run(sessions, {"sandbox": network}, clock) == 0
    assert network.texts()[0].startswith("📣 Appel à contributions « Q1 2027 »")
    assert "17 janvier" in network.texts()[0]
    clock.now = at("2027-01-08 09:30")
    assert run(sessions, {"sandbox": network}, clock) == 1
    assert network.texts()[1].startswith("⏰ Rappel")
    assert states(sessions)[:3] == [("call", "posted"), ("reminder", "posted"), ("reminder", "pending")]
    with sessions() as session:
        call = session.scalar(select(Post).where(Post.kind == "call"))
        assert call.posted_at == at("2027-01-04 09:31") and call.url == "https://sandbox.example/1"


def test_after_downtime_missed_posts_go_once_and_passed_ones_are_skipped(sessions):
    network = RecordingConnector()
    make_campaign(sessions, {"sandbox": network}, meetup="2027-01-14 18:30")
    # datacall was down from before the call until the sorting phase.
    clock = Clock(at("2027-01-20 08:00"))
    assert run(sessions, {"sandbox": network}, clock) == 1
    assert run(sessions, {"sandbox": network}, clock) == 0
    assert [t.split(" :")[0] for t in network.texts()] == ["📣 Appel à contributions « Q1 2027 »"]
    with sessions() as session:
        skipped = {
            (p.kind, p.skip_reason.split(" ended")[0])
            for p in session.scalars(select(Post).where(Post.state == "skipped"))
        }
    assert skipped == {
        ("reminder", "the reminder's phase"), ("meetup", "the meetup"), ("meetup_reminder", "the meetup"),
        ("survey", "fewer than two open requests to survey"),
    }


def test_a_reminder_overtaken_by_a_later_one_is_skipped(sessions):
    network = RecordingConnector()
    make_campaign(sessions, {"sandbox": network})
    clock = Clock(at("2027-01-14 10:00"))  # down from the 3rd to the 14th, still in the call phase
    assert run(sessions, {"sandbox": network}, clock) == 2
    assert states(sessions)[:3] == [("call", "posted"), ("reminder", "skipped"), ("reminder", "posted")]
    with sessions() as session:
        first = session.scalars(select(Post).where(Post.kind == "reminder").order_by(Post.due_at)).first()
        assert first.skip_reason.startswith("overtaken by the later reminder")


def test_a_failed_post_is_retried_with_backoff(sessions):
    network = RecordingConnector()
    network.failures = 1
    make_campaign(sessions, {"sandbox": network})
    clock = Clock(at("2027-01-04 09:30"))
    assert run(sessions, {"sandbox": network}, clock) == 0
    with sessions() as session:
        call = session.scalar(select(Post).where(Post.kind == "call"))
        # An outage: retried with backoff, without using up an attempt.
        assert (call.state, call.attempts, call.transient_failures) == ("failed", 0, 1) and "down" in call.last_error
        retry_at = call.due_at
    assert retry_at > clock.now
    assert run(sessions, {"sandbox": network}, clock) == 0  # not before its backoff
    clock.now = retry_at
    assert run(sessions, {"sandbox": network}, clock) == 1
    assert len(network.published) == 1
    with sessions() as session:
        call = session.scalar(select(Post).where(Post.kind == "call"))
        assert (call.state, call.attempts, call.last_error) == ("posted", 1, None)


def test_research_update_counts_the_requests_when_it_goes_out(sessions):
    network = RecordingConnector()
    campaign_id = make_campaign(sessions, {"sandbox": network}, settings=CampaignsConfig(default_language="en"))
    with sessions() as session, session.begin():
        for status in ("received", "accepted", "in_progress", "published", "published", "declined"):
            add_request(session, campaign_id, 1, status=status)
        add_request(session, campaign_id, 0, status="duplicate")
    with sessions() as session, session.begin():  # the earlier posts went out
        for post in session.scalars(select(Post).where(Post.kind != "research_update")):
            post.state = "posted"
    clock = Clock(at("2027-02-15 09:30"))
    assert run(sessions, {"sandbox": network}, clock) == 1
    assert network.texts() == [
        "🔎 Where \"Q1 2027\" stands: 6 requests received, 4 accepted, 2 already published. https://data.example.org/"
    ]


def test_survey_becomes_native_polls_split_per_network_limit_then_votes_are_read(sessions):
    x_like = RecordingConnector("twitter", max_length=280, poll_options=4, poll_option_length=25,
                                max_poll_seconds=7 * 24 * 3600)
    telegram_like = RecordingConnector("telegram", max_length=4096, poll_options=10, poll_option_length=100)
    connectors = {"twitter": x_like, "telegram": telegram_like}
    campaign_id = make_campaign(sessions, connectors)
    with sessions() as session, session.begin():
        requests = [add_request(session, campaign_id, n) for n in (1, 5, 2, 4, 3)]
        add_request(session, campaign_id, 9, status="declined")  # closed: not surveyed
        for post in session.scalars(select(Post).where(Post.kind != "survey")):
            post.state = "posted"
        ids = [r.id for r in requests]
    by_support = [ids[1], ids[3], ids[4], ids[2], ids[0]]
    clock = Clock(at("2027-01-18 09:30"))
    assert run(sessions, connectors, clock, survey_size=5) == 3  # X: 3 + 2 options, Telegram: one poll of 5
    assert [p.options for p in x_like.published] == [
        tuple(f"Demande n° {i}" for i in by_support[:3]), tuple(f"Demande n° {i}" for i in by_support[3:]),
    ]
    assert x_like.published[0].duration_seconds == 7 * 24 * 3600  # X polls last at most a week
    # X refuses a repeated text: the split polls' questions are numbered; a single poll's is not.
    assert [p.text[-6:] for p in x_like.published] == [" (1/2)", " (2/2)"]
    assert x_like.published[0].text[:-6] == x_like.published[1].text[:-6] == telegram_like.published[0].text
    assert telegram_like.published[0].options == tuple(f"Demande n° {i}" for i in by_support)
    assert telegram_like.published[0].text.startswith("🗳 Sondage")
    assert run(sessions, connectors, clock) == 0

    x_posts = ["twitter-1", "twitter-2"]
    x_like.votes = {x_posts[0]: (1, 0, 7), x_posts[1]: (2, 0)}
    telegram_like.votes = {"telegram-1": (0, 0, 0, 0, 10)}
    clock.now = at("2027-01-25 09:31")  # X polls have closed, Telegram's closes with the sorting phase
    run(sessions, connectors, clock)
    assert x_like.results_asked == x_posts and telegram_like.results_asked == []
    clock.now = at("2027-02-01 00:01")
    run(sessions, connectors, clock)
    run(sessions, connectors, clock)
    assert telegram_like.results_asked == ["telegram-1"]
    with sessions() as session:
        assert all(o.read_at is not None for o in session.scalars(select(SurveyOption)))
        support = support_count(session, ids)
    assert support[by_support[0]] == 5 + 1
    assert support[by_support[2]] == 3 + 7
    assert support[by_support[3]] == 2 + 2
    assert support[by_support[4]] == 1 + 10


def test_text_survey_counts_plus_n_replies_once_per_person(sessions):
    network = RecordingConnector()  # no native polls: a numbered text post
    campaign_id = make_campaign(sessions, {"sandbox": network})
    with sessions() as session, session.begin():
        first, second, third = (add_request(session, campaign_id, n) for n in (3, 2, 1))
        for post in session.scalars(select(Post).where(Post.kind != "survey")):
            post.state, post.external_id = "posted", f"posted-{post.kind}-{post.id}"
        call_ref = session.scalar(select(Post.external_id).where(Post.kind == "call"))
    run(sessions, {"sandbox": network}, Clock(at("2027-01-18 09:30")))
    [survey_post] = network.published
    assert f"+1 Demande n° {first.id} · +2 Demande n° {second.id} · +3 Demande n° {third.id}" in survey_post.text
    assert "+numéro" in survey_post.text and "31 janvier" in survey_post.text
    with sessions() as session:
        survey_ref = session.scalar(select(Post.external_id).where(Post.kind == "survey"))

    def reply(external_id, author, text, to):
        return Incoming(external_id=external_id, author_id=author, author_handle=f"@{author}", text=text,
                        in_reply_to_id=to)

    with sessions() as session, session.begin():
        stored = store_messages(session, "sandbox", (
            reply("v1", "ana", "+3", survey_ref),
            reply("v2", "bob", "+3 +1", survey_ref),
            reply("v3", "ana", "+3", survey_ref),          # the same vote again: counted once
            reply("v4", "cy", "+9", survey_ref),           # no such option
            reply("q1", "dan", "+1", call_ref),            # not an answer to the survey: a message
            reply("q2", "eve", "Please publish the tree inventory", call_ref),
        ))
    assert stored == 2
    with sessions() as session:
        messages = {m.external_id: m for m in session.scalars(select(Message).where(Message.request_id.is_(None)))}
        assert set(messages) == {"q1", "q2"}
        call_id = session.scalar(select(Post.id).where(Post.kind == "call"))
        assert messages["q2"].post_id == call_id and messages["q2"].campaign_id == campaign_id
        assert session.scalar(select(func.count()).select_from(SurveyVote)) == 3
        support = support_count(session, [first.id, second.id, third.id])
    assert support == {first.id: 3 + 1, second.id: 2, third.id: 1 + 2}


def test_support_counts_people_of_merged_requests_once(sessions):
    with sessions() as session, session.begin():
        campaign = Campaign(slug="c", title="c", call_text="")
        session.add(campaign)
        session.flush()
        kept = add_request(session, campaign.id, 2)
        merged = add_request(session, campaign.id, 1, status="duplicate")
        merged.duplicate_of_id = kept.id
        # One person supports both: counted once.
        person = session.scalar(select(Requester).where(Requester.external_user_id == f"u{kept.id}-0"))
        session.add(Message(network="sandbox", external_id="again", requester=person, text="me too",
                            request_id=merged.id))
        session.flush()
        assert support_count(session, [kept.id]) == {kept.id: 3}
        assert support_count(session, [kept.id, 999_999]) == {kept.id: 3, 999_999: 0}


def test_sandbox_polls_count_votes_until_read(sessions):
    sandbox = SandboxConnector(sessions)
    ref = sandbox.post_poll("Which one?", ["Request #1", "Request #2", "Request #3"], duration_seconds=60,
                            idempotency_key="poll-1")
    with sessions() as session, session.begin():
        vote(session, int(ref.external_id), 2, voters=3)
        vote(session, int(ref.external_id), 0)
    assert sandbox.poll_results(ref.external_id) == PollResult(votes=(1, 0, 3), closed=True)
    with sessions() as session, session.begin():
        vote(session, int(ref.external_id), 1)  # too late: the poll is closed
    assert sandbox.poll_results(ref.external_id).votes == (1, 0, 3)
    with pytest.raises(NetworkError):
        sandbox.post_poll("Too many?", [f"Request #{n}" for n in range(5)], duration_seconds=60,
                          idempotency_key="poll-2")
    with pytest.raises(NetworkError):
        sandbox.poll_results(sandbox.post("no poll", idempotency_key="p").external_id)
    with pytest.raises(NotImplementedError):
        SandboxConnector(sessions, polls=False).post_poll("?", ["a", "b"], duration_seconds=60, idempotency_key="k")


def test_a_poll_that_cannot_be_read_is_retried_or_given_up_when_gone(sessions):
    network = RecordingConnector("mastodon", poll_options=4, poll_option_length=50)
    campaign_id = make_campaign(sessions, {"mastodon": network})
    with sessions() as session, session.begin():
        for n in (2, 1):
            add_request(session, campaign_id, n)
        for post in session.scalars(select(Post).where(Post.kind != "survey")):
            post.state = "posted"
    clock = Clock(at("2027-01-18 09:30"))
    run(sessions, {"mastodon": network}, clock)
    clock.now = at("2027-02-01 00:01")

    def unread() -> int:
        with sessions() as session:
            return sum(o.read_at is None for o in session.scalars(select(SurveyOption)))

    network.results_error = NetworkError("mastodon: 503")  # down for now: tried again next pass
    run(sessions, {"mastodon": network}, clock)
    assert unread() == 2
    network.results_error = NetworkError("mastodon: 404 the status was deleted", permanent=True)
    run(sessions, {"mastodon": network}, clock)
    assert unread() == 0 and len(network.results_asked) == 2
    run(sessions, {"mastodon": network}, clock)
    assert len(network.results_asked) == 2
