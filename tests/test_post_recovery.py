"""A post (a call, a reminder, a survey's poll) whose worker died mid-send is looked for among the account's
own posts before it is posted again, as a reply is (tests/test_claims.py).

The posts go to the recording network (tests/fakes/recording.py), which keeps every send, so a post sent
twice is seen. With `finds_own_posts` it plays X (its own timeline is searched), without it Telegram. The
last tests go through the real X connector (tweepy) against the fake X API.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.campaigns.publishing import Publisher
from bot.campaigns.texts import load_campaign_texts
from bot.networks.base import NetworkError, ReplyTarget
from bot.networks.sandbox import SandboxConnector, say, timeline
from bot.pipeline import outbox
from bot.pipeline.outbox import Claims, post_due
from bot.worker import Heartbeat
from storage import queries, workers
from storage.models import Campaign, Post, SurveyOption, Worker, utcnow
from tests.campaign_data import add_request
from tests.fakes.recording import RecordingConnector, SendLog

RETRY = {"max_attempts": 3, "retry_base_seconds": 0.01}
LEASE = 30.0
CALL = "Call for contributions 2027-q1: which public data should we open? Reply here. https://data.example.org/"
QUESTION = "Which of these requests matters most to you?"


class Killed(BaseException):
    """The worker's process dies here: nothing after this point runs, nothing is recorded."""


def die(*_args, **_kwargs):
    raise Killed


@pytest.fixture
def network(sessions):
    return RecordingConnector(sessions, log=SendLog())


def publisher(connectors) -> Publisher:
    return Publisher(texts=load_campaign_texts(), public_url="https://data.example.org", survey_size=8,
                     max_length={name: c.max_length for name, c in connectors.items()})


def run(sessions, connectors, worker: str) -> int:
    """One pass of the post job, as `worker`."""
    return post_due(sessions, connectors, publisher=publisher(connectors), claims=Claims(worker, LEASE), **RETRY)


def queue_call(sessions, network_name: str = "sandbox", text: str = CALL) -> int:
    with sessions() as session, session.begin():
        post = Post(network=network_name, kind="call", text=text, due_at=utcnow() - timedelta(minutes=1))
        session.add(post)
        session.flush()
        return post.id


def queue_survey(sessions, network_name: str = "sandbox", requests: int = 3) -> int:
    """A campaign's survey, due now, with `requests` open requests to ask about."""
    with sessions() as session, session.begin():
        campaign = Campaign(slug="2027-q1", title="Q1 2027", call_text="")
        session.add(campaign)
        session.flush()
        for supporters in range(requests, 0, -1):
            add_request(session, campaign.id, supporters, network=network_name)
        post = Post(campaign_id=campaign.id, network=network_name, kind="survey", text=QUESTION, lang="en",
                    due_at=utcnow() - timedelta(minutes=1))
        session.add(post)
        session.flush()
        return post.id


def kill_while_sending(sessions, connectors, worker: str, monkeypatch, *, went_out: bool, method: str = "post"):
    """`worker` dies during the network call of `method`: after it reached the network, or before."""
    original = getattr(RecordingConnector, method)

    def send_then_die(self, *args, **kwargs):
        if went_out:
            original(self, *args, **kwargs)
        raise Killed

    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(RecordingConnector, method, send_then_die)
        with sessions() as session, session.begin():
            workers.beat(session, worker, now=utcnow(), starting=True)
        run(sessions, connectors, worker)


def restart(sessions, connectors, worker: str) -> int:
    """`worker` starts again (it frees its own claims at once) and runs the post job once."""
    heartbeat = Heartbeat(sessions, worker, lease_seconds=LEASE)
    try:
        heartbeat.start()
        return run(sessions, connectors, worker)
    finally:
        heartbeat.stop()


def post_row(sessions, post_id: int) -> Post:
    with sessions() as session:
        return session.get_one(Post, post_id)


def bot_entries(network: RecordingConnector, kind: str = "post") -> list:
    return [send for send in network.log.sends if send.kind == kind]


@pytest.mark.parametrize("went_out", [True, False])
def test_a_restarting_worker_looks_for_its_post_before_posting_it_again(sessions, network, monkeypatch, went_out):
    monkeypatch.setattr(RecordingConnector, "finds_own_posts", True)  # as X: its own timeline can be read
    post_id = queue_call(sessions)
    kill_while_sending(sessions, {"sandbox": network}, "w1", monkeypatch, went_out=went_out)
    assert (post_row(sessions, post_id).state, len(bot_entries(network))) == ("sending", int(went_out))

    assert restart(sessions, {"sandbox": network}, "w1") == 1
    [send] = bot_entries(network)  # exactly one post on the network, whether or not the first send went out
    assert (send.text, network.log.per_key("post")) == (CALL, {f"datacall-post-{post_id}": 1})
    row = post_row(sessions, post_id)
    [entry_id] = [str(entry.id) for entry in network_timeline(sessions)]
    assert (row.state, row.external_id, row.claimed_by) == ("posted", entry_id, None)
    assert row.url == f"sandbox://entries/{entry_id}"
    assert (row.last_error == outbox.FOUND_SENT) is went_out
    with sessions() as session:  # replies to it are collected
        assert queries.posted_external_ids(session, network="sandbox") == [entry_id]


def network_timeline(sessions):
    with sessions() as session:
        return timeline(session, from_bot=True)


def test_another_worker_looks_for_a_dead_workers_post_after_the_lease(sessions, network, monkeypatch):
    monkeypatch.setattr(RecordingConnector, "finds_own_posts", True)
    post_id = queue_call(sessions)
    kill_while_sending(sessions, {"sandbox": network}, "w1", monkeypatch, went_out=True)
    assert run(sessions, {"sandbox": network}, "w2") == 0  # w1 may still be alive
    assert post_row(sessions, post_id).state == "sending"
    age(sessions, "w1", LEASE + 1)
    assert run(sessions, {"sandbox": network}, "w2") == 1
    assert post_row(sessions, post_id).state == "posted" and len(bot_entries(network)) == 1


def age(sessions, worker: str, seconds: float) -> None:
    """`worker` fell silent `seconds` ago: its heartbeat and its claims are that old."""
    then = utcnow() - timedelta(seconds=seconds)
    with sessions() as session, session.begin():
        session.execute(update(Worker).where(Worker.name == worker).values(heartbeat_at=then))
        session.execute(update(Post).where(Post.claimed_by == worker).values(claimed_at=then))


@pytest.mark.parametrize("went_out", [True, False])
def test_a_survey_poll_killed_mid_send_is_found_by_its_question_and_options(sessions, network, monkeypatch,
                                                                            went_out):
    monkeypatch.setattr(RecordingConnector, "finds_own_posts", True)
    post_id = queue_survey(sessions)
    kill_while_sending(sessions, {"sandbox": network}, "w1", monkeypatch, went_out=went_out, method="post_poll")

    assert restart(sessions, {"sandbox": network}, "w1") == 1
    [poll] = bot_entries(network, "poll")
    assert poll.text == QUESTION and network.log.per_key("poll") == {f"datacall-post-{post_id}": 1}
    [entry] = network_timeline(sessions)
    row = post_row(sessions, post_id)
    assert (row.state, row.external_id) == ("posted", str(entry.id))
    assert (row.last_error == outbox.FOUND_SENT) is went_out
    with sessions() as session:  # the options asked are the ones stored, so the votes are read back
        labels = [o.label for o in session.scalars(select(SurveyOption).where(SurveyOption.post_id == post_id)
                                                   .order_by(SurveyOption.option_index))]
    assert entry.poll["options"] == labels


def test_the_second_poll_of_a_split_survey_is_not_mistaken_for_the_first(sessions, network, monkeypatch):
    """The one killed after it left is told apart from the first by its question's number and its options."""
    monkeypatch.setattr(RecordingConnector, "finds_own_posts", True)
    first_id = queue_survey(sessions, requests=6)  # 6 requests, 4 options per poll: two polls of 3
    original = RecordingConnector.post_poll
    polls = []

    def second_dies(self, question, options, **kwargs):
        polls.append(options)
        ref = original(self, question, options, **kwargs)
        if len(polls) == 2:
            raise Killed
        return ref

    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(RecordingConnector, "post_poll", second_dies)
        run(sessions, {"sandbox": network}, "w1")
    assert restart(sessions, {"sandbox": network}, "w1") == 1
    assert len(bot_entries(network, "poll")) == 2
    entries = [str(entry.id) for entry in network_timeline(sessions)]
    with sessions() as session:
        posts = session.scalars(select(Post).where(Post.kind == "survey").order_by(Post.id)).all()
    assert posts[0].id == first_id
    assert [(p.state, p.external_id) for p in posts] == [("posted", entry_id) for entry_id in entries]
    assert posts[1].last_error == outbox.FOUND_SENT


def test_a_survey_killed_before_its_options_were_stored_is_posted_without_a_lookup(sessions, network, monkeypatch):
    """The options are committed before the poll is sent: without them the poll cannot have left."""
    monkeypatch.setattr(RecordingConnector, "finds_own_posts", True)
    post_id = queue_survey(sessions)
    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr("bot.campaigns.survey.prepare", die)
        run(sessions, {"sandbox": network}, "w1")
    assert post_row(sessions, post_id).state == "sending"
    monkeypatch.setattr(RecordingConnector, "find_own_post", lambda *a, **k: pytest.fail("nothing to look for"))
    assert restart(sessions, {"sandbox": network}, "w1") == 1
    assert post_row(sessions, post_id).state == "posted" and len(bot_entries(network, "poll")) == 1


def test_a_post_killed_mid_send_on_a_network_that_cannot_tell_stays_for_an_officer(sessions, network, monkeypatch):
    """As Telegram: no API lists the bot's posts, so it is `dead` with the reason, never posted twice."""
    monkeypatch.setattr(RecordingConnector, "find_own_post", lambda *a, **k: pytest.fail("nothing to look at"))
    post_id = queue_call(sessions)
    kill_while_sending(sessions, {"sandbox": network}, "w1", monkeypatch, went_out=True)
    assert restart(sessions, {"sandbox": network}, "w1") == 0
    row = post_row(sessions, post_id)
    assert (row.state, row.last_error) == ("dead", outbox.INTERRUPTED)
    assert len(bot_entries(network)) == 1


def test_a_post_killed_mid_send_on_an_idempotent_network_is_simply_posted_again(sessions, network, monkeypatch):
    """As Mastodon: the repeated Idempotency-Key makes the resend safe, so nothing is looked up."""
    monkeypatch.setattr(RecordingConnector, "idempotent_sends", True)
    monkeypatch.setattr(RecordingConnector, "finds_own_posts", True)
    monkeypatch.setattr(RecordingConnector, "find_own_post", lambda *a, **k: pytest.fail("no lookup needed"))
    post_id = queue_call(sessions)
    kill_while_sending(sessions, {"sandbox": network}, "w1", monkeypatch, went_out=False)
    assert restart(sessions, {"sandbox": network}, "w1") == 1
    assert post_row(sessions, post_id).state == "posted"


def test_a_lookup_that_fails_for_now_leaves_the_post_for_a_later_look(sessions, network, monkeypatch):
    monkeypatch.setattr(RecordingConnector, "finds_own_posts", True)

    def down(*_a, **_k):
        raise NetworkError("503 Service Unavailable")

    post_id = queue_call(sessions)
    kill_while_sending(sessions, {"sandbox": network}, "w1", monkeypatch, went_out=True)
    with monkeypatch.context() as patch:
        patch.setattr(RecordingConnector, "find_own_post", down)
        assert restart(sessions, {"sandbox": network}, "w1") == 0
    row = post_row(sessions, post_id)
    assert (row.state, row.claimed_by) == ("sending", None)  # never posted blind
    assert len(bot_entries(network)) == 1
    with sessions() as session, session.begin():
        session.execute(update(Post).values(claimed_at=utcnow() - timedelta(seconds=LEASE + 1)))
    assert run(sessions, {"sandbox": network}, "w2") == 1
    assert post_row(sessions, post_id).state == "posted" and len(bot_entries(network)) == 1


@pytest.mark.parametrize("finds_own", [True, False])
def test_a_timeout_after_the_post_left(sessions, network, monkeypatch, finds_own):
    """X: looked for once the lease has passed, found, not posted again. Telegram: `dead`, for an officer."""
    monkeypatch.setattr(RecordingConnector, "finds_own_posts", finds_own)
    original = RecordingConnector.post

    def deliver_then_time_out(self, text, *, idempotency_key):
        original(self, text, idempotency_key=idempotency_key)
        raise NetworkError("POST: ReadTimeout", outcome_unknown=True)

    post_id = queue_call(sessions)
    with monkeypatch.context() as patch:
        patch.setattr(RecordingConnector, "post", deliver_then_time_out)
        assert run(sessions, {"sandbox": network}, "w1") == 0
    row = post_row(sessions, post_id)
    if not finds_own:
        assert row.state == "dead" and outbox.OUTCOME_UNKNOWN in row.last_error
        return
    assert (row.state, row.claimed_by) == ("sending", None) and outbox.TO_CHECK in row.last_error
    with sessions() as session, session.begin():
        session.execute(update(Post).values(claimed_at=utcnow() - timedelta(seconds=LEASE + 1)))
    assert run(sessions, {"sandbox": network}, "w1") == 1
    assert post_row(sessions, post_id).state == "posted" and len(bot_entries(network)) == 1


def test_the_sandbox_finds_its_own_post_by_text_or_poll_since_the_send_started(sessions):
    sandbox = SandboxConnector(sessions)
    before = utcnow() - timedelta(seconds=1)
    call = sandbox.post(CALL, idempotency_key="datacall-post-1")
    poll = sandbox.post_poll(QUESTION, ["Bike counts", "Canteen menus"], duration_seconds=3600,
                             idempotency_key="datacall-post-2")
    with sessions() as session, session.begin():
        citizen = say(session, "@camille", "Bike counts, please", in_reply_to_id=int(call.external_id))
    sandbox.reply(ReplyTarget(str(citizen.id), citizen.author_id, "@camille"), CALL, idempotency_key="r1")
    assert sandbox.find_own_post(CALL, since=before).found == call  # the reply of the same text is no post
    assert sandbox.find_own_post(CALL, since=before, known={call.external_id}).found is None
    assert sandbox.find_own_post(CALL, since=utcnow() + timedelta(seconds=1)).found is None
    assert sandbox.find_own_post(QUESTION, since=before, poll_options=["Bike counts", "Canteen menus"]).found == poll
    assert sandbox.find_own_post(QUESTION, since=before, poll_options=["Bike counts"]).found is None
    assert sandbox.find_own_post(QUESTION, since=before).found is None  # a poll is not a text post
    assert sandbox.find_own_post(QUESTION, since=before).checked


# The same recovery through the real X connector (tweepy) against the fake X API, which like X
# shows a posted link as a t.co link (the `x_network` fixture, tests/conftest.py).

def kill_x_send(sessions, x, monkeypatch, method: str, *, went_out: bool) -> None:
    """w1 dies during the X call `method` (post or post_poll): after X took it, or before it left."""
    from bot.networks.twitter import TwitterConnector

    original = getattr(TwitterConnector, method)

    def send_then_die(self, *args, **kwargs):
        if went_out:
            original(self, *args, **kwargs)
        raise Killed

    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(TwitterConnector, method, send_then_die)
        run(sessions, {"twitter": x}, "w1")


@pytest.mark.parametrize("went_out", [True, False])
def test_a_taken_back_x_post_is_looked_for_on_the_timeline_before_any_resend(sessions, x_network, monkeypatch,
                                                                             went_out):
    fake, x = x_network
    post_id = queue_call(sessions, "twitter")
    kill_x_send(sessions, x, monkeypatch, "post", went_out=went_out)
    assert restart(sessions, {"twitter": x}, "w1") == 1
    [tweet] = fake.posts_by_bot()  # exactly one call on X, whether or not the first send went out
    assert "https://t.co/" in tweet["text"] and tweet.get("written") == CALL
    assert len(fake.calls("GET /2/users/:id/tweets")) == 1
    row = post_row(sessions, post_id)
    assert (row.state, row.external_id) == ("posted", tweet["id"])
    assert row.url == f"https://x.com/datacall_city/status/{tweet['id']}"
    assert (row.last_error == outbox.FOUND_SENT) is went_out


@pytest.mark.parametrize("went_out", [True, False])
def test_a_taken_back_x_survey_poll_is_looked_for_on_the_timeline(sessions, x_network, monkeypatch, went_out):
    fake, x = x_network
    post_id = queue_survey(sessions, "twitter")
    kill_x_send(sessions, x, monkeypatch, "post_poll", went_out=went_out)
    assert restart(sessions, {"twitter": x}, "w1") == 1
    [tweet] = fake.posts_by_bot()
    assert tweet["text"] == QUESTION and len(tweet["poll"]["options"]) == 3
    row = post_row(sessions, post_id)
    assert (row.state, row.external_id) == ("posted", tweet["id"])
    assert (row.last_error == outbox.FOUND_SENT) is went_out
