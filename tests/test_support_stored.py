"""The support (and networks) stored on each request always equal the ones computed from the messages.

The queue's "most supported" sort reads the stored support, the dashboard's requests per network the networks.

Random sequences of what changes support, through the code paths the app and the
pipeline use: new requests, confirmed uncertain messages, a new supporter joining,
merges (chains included), a message that was not a data request leaving its request,
survey votes, opt-out and erasure. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import distinct, func, select

from bot.campaigns.survey import record_votes
from bot.pipeline.route import open_request
from bot.pipeline.status import StatusError, set_status
from bot.web.decisions import DecisionError, confirm_request, mark_off_topic
from bot.web.public import LISTED, dashboard_counts
from storage.erasure import erase_requester
from storage.models import Message, Post, Request, Requester, SurveyOption, utcnow
from storage.support import networks_of, recount_all, support_count
from tests.web_support import add_message

NETWORKS = ("sandbox", "mastodon", "telegram")  # each person writes from one of them
PEOPLE = 5  # few people, so the same person often backs several requests (distinct counting matters)

operation = st.one_of(
    st.tuples(st.just("new"), st.integers(0, PEOPLE - 1)),
    st.tuples(st.just("confirm"), st.integers(0, PEOPLE - 1)),
    st.tuples(st.just("join"), st.integers(0, PEOPLE - 1), st.integers(0, 20)),
    st.tuples(st.just("merge"), st.integers(0, 20), st.integers(0, 20)),
    st.tuples(st.just("off_topic"), st.integers(0, 60)),
    st.tuples(st.just("vote"), st.integers(0, PEOPLE - 1), st.integers(0, 20)),
    st.tuples(st.just("opt_out"), st.integers(0, PEOPLE - 1)),
    st.tuples(st.just("erase"), st.integers(0, PEOPLE - 1)),
)


def stored_and_computed(session) -> tuple[dict[int, tuple[int, str]], dict[int, tuple[int, str]]]:
    """(support, networks) of every request, as stored and as computed from the messages."""
    stored = {row.id: (row.support, row.networks) for row in session.execute(
        select(Request.id, Request.support, Request.networks))}
    networks = networks_of(session, stored)
    computed = {i: (count, networks.get(i, "")) for i, count in support_count(session, stored).items()}
    return stored, computed


def networks_from_messages(session) -> list[tuple[str, str, int]]:
    """Listed requests per network counted from every message, as the dashboard did before storing networks."""
    every = session.execute(
        select(Message.network, func.count(distinct(Message.request_id)))
        .where(Message.request_id.is_not(None)).group_by(Message.network).order_by(Message.network)
    ).all()
    merged = dict(session.execute(
        select(Message.network, func.count(distinct(Message.request_id)))
        .where(Message.request_id.in_(select(Request.id).where(~LISTED))).group_by(Message.network)
    ).all())
    return [(network, network, n - merged.get(network, 0)) for network, n in every if n > merged.get(network, 0)]


def test_stored_support_follows_every_change(runtime):
    writer = runtime.reply_writer()
    runs = iter(range(10_000))

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(operation, min_size=1, max_size=12))
    def check(operations):
        run = next(runs)
        requests: list[int] = []
        messages: list[int] = []
        with runtime.sessions() as session, session.begin():
            post = Post(network="sandbox", kind="survey", text="Which first?", state="posted", external_id=f"s{run}")
            session.add(post)
            session.flush()
            for step, (kind, *args) in enumerate(operations):
                handle = f"@person{args[0]}" if kind in ("new", "confirm", "join", "vote", "opt_out", "erase") else ""
                if kind in ("new", "confirm", "join"):
                    message = add_message(session, handle, f"please publish dataset {run}-{step}",
                                          network=NETWORKS[args[0] % len(NETWORKS)],
                                          needs_review=kind == "confirm", external_id=f"{run}-{step}")
                    messages.append(message.id)
                    if kind == "new":
                        open_request(session, message, writer=writer)
                        requests.append(message.request_id)
                    elif kind == "confirm":
                        requests.append(confirm_request(session, message.id, officer="alice", writer=writer).id)
                    elif requests:
                        message.request_id = requests[args[1] % len(requests)]  # one more supporter
                elif kind == "merge" and requests:
                    try:
                        with session.begin_nested():
                            set_status(session, requests[args[0] % len(requests)], "duplicate", actor="alice",
                                       writer=writer, duplicate_of=requests[args[1] % len(requests)])
                    except StatusError:
                        pass  # itself, a duplicate, or closed: refused, as in the app
                elif kind == "off_topic" and messages:
                    try:
                        with session.begin_nested():
                            mark_off_topic(session, messages[args[0] % len(messages)], officer="alice",
                                           writer=writer)
                    except (DecisionError, StatusError):
                        pass  # its only request is already decided: refused
                elif kind == "vote" and requests:
                    voter = session.scalar(select(Requester).where(Requester.handle == handle))
                    if voter is None:
                        continue
                    option = session.scalar(select(SurveyOption).where(
                        SurveyOption.post_id == post.id, SurveyOption.request_id == requests[args[1] % len(requests)]
                    ))
                    if option is None:
                        option = SurveyOption(post_id=post.id, request_id=requests[args[1] % len(requests)],
                                              option_index=step, label="a request", votes=0,
                                              closes_at=utcnow() + timedelta(days=1))
                        session.add(option)
                        session.flush()
                    record_votes(session, post=post, requester=voter, external_id=f"v{run}-{step}",
                                 text=f"+{option.option_index + 1}")
                elif kind in ("opt_out", "erase"):
                    person = session.scalar(select(Requester).where(Requester.handle == handle))
                    if person is not None and kind == "opt_out":
                        person.opted_out = True
                    elif person is not None:
                        erase_requester(session, person)
                session.flush()
                stored, computed = stored_and_computed(session)
                assert stored == computed, (kind, args)
                # Asked one at a time, a request's count does not depend on what else is asked.
                assert {i: support_count(session, [i])[i] for i in requests} == {i: stored[i][0] for i in requests}
        with runtime.sessions() as session:  # and as committed
            stored, computed = stored_and_computed(session)
            assert stored == computed
            assert any(count for count, _ in stored.values()) or not requests
            assert dashboard_counts(session)["network"] == networks_from_messages(session)

    check()


def test_recount_all_repairs_counts_written_around_the_app(runtime):
    """A bulk load (or a hand edit) that leaves the stored counts wrong is mended from the supporters."""
    writer = runtime.reply_writer()
    with runtime.sessions() as session, session.begin():
        first = add_message(session, "@ana", "bus stops please")
        second = add_message(session, "@ben", "bus stops too")
        request = open_request(session, first, writer=writer)
        second.request_id = request.id
    with runtime.sessions() as session, session.begin():
        assert session.get(Request, request.id).support == 2
        session.execute(Request.__table__.update().values(support=0, networks=""))  # Core, around the flush hook
    with runtime.sessions() as session, session.begin():
        assert session.get(Request, request.id).support == 0
        recount_all(session)
    with runtime.sessions() as session:
        assert (session.get(Request, request.id).support, session.get(Request, request.id).networks) == (2, "sandbox")
