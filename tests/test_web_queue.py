"""The officers' queue: order, filters, search, pages, and every decision; on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from bot.web import queue
from bot.web.queue import PAGE_SIZE
from storage.models import LabelDecision, Message, Reply, Request, StatusEvent
from tests.web_support import XSS, add_message, login, post, seed


def message_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-message="(\d+)"', html)]


def flashes(client) -> list[str]:
    return re.findall(r'class="flash[^"]*" role="\w+">([^<]*)<', client.get("/queue?lang=en").text)


def test_uncertain_messages_first_then_new_requests(client, users):
    ids = seed(users)
    login(client)
    page = client.get("/queue?lang=en").text
    # The off-topic message waits for nobody; the uncertain one comes first.
    assert message_ids(page) == [ids["unsure"], ids["velo"], ids["canteen"]]
    assert "3 items wait for a decision." in page
    assert "@camille_velo" in page and "0.55" in page and "Needs review" in page
    assert 'href="https://social.example/@camille_velo/1"' in page
    everything = client.get("/queue?scope=all").text
    assert message_ids(everything) == [ids["unsure"], ids["velo"], ids["canteen"], ids["bins"]]


def test_filters_and_search(client, users):
    ids = seed(users)
    login(client)
    assert message_ids(client.get("/queue?scope=all&label=off_topic").text) == [ids["bins"]]
    assert message_ids(client.get("/queue?scope=all&language=fr").text) == [ids["velo"]]
    assert message_ids(client.get("/queue?scope=all&campaign=2027-q1").text) == [
        ids["unsure"], ids["velo"], ids["canteen"]]
    assert message_ids(client.get("/queue?scope=all&status=none").text) == [ids["unsure"], ids["bins"]]
    assert message_ids(client.get("/queue?scope=all&status=received&network=sandbox").text) == [
        ids["velo"], ids["canteen"]]
    assert message_ids(client.get("/queue?scope=all&network=telegram").text) == []
    # Case-insensitive, on the text or the title, with LIKE wildcards taken literally.
    assert message_ids(client.get("/queue?scope=all&q=CANTEEN").text) == [ids["canteen"]]
    assert message_ids(client.get("/queue?scope=all&q=50%25").text) == []
    assert message_ids(client.get("/queue?scope=all&q=_").text) == []


def test_pages(client, users):
    with users.sessions() as session, session.begin():
        for n in range(PAGE_SIZE + 3):
            add_message(session, f"@p{n}", f"Please publish dataset number {n}", needs_review=True)
    login(client)
    first, second = client.get("/queue").text, client.get("/queue?page=2").text
    assert len(message_ids(first)) == PAGE_SIZE and len(message_ids(second)) == 3
    assert not set(message_ids(first)) & set(message_ids(second))
    assert 'rel="next"' in first and 'rel="prev"' in second and 'rel="next"' not in second
    assert client.get("/queue?page=abc").status_code == 200


def test_a_script_in_a_message_stays_text(client, users):
    seed(users)
    login(client)
    page = client.get("/queue").text
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_confirm_opens_an_acknowledged_request_once(client, users):
    ids = seed(users)
    login(client)
    assert post(client, f"/queue/messages/{ids['unsure']}/confirm", {"next": "/queue?scope=all"}).headers[
        "location"] == "/queue?scope=all"
    post(client, f"/queue/messages/{ids['unsure']}/confirm")  # twice: still one request
    with users.sessions() as session:
        message = session.get(Message, ids["unsure"])
        assert message.request_id is not None and not message.needs_review and message.routed_at is not None
        assert session.scalar(select(func.count()).select_from(Request)) == 3
        decisions = session.scalars(select(LabelDecision).where(LabelDecision.message_id == message.id)).all()
        assert [(d.label, d.previous_score, d.officer) for d in decisions][0] == ("data_request", 0.55, "alice")
        ack = session.scalars(select(Reply).where(Reply.message_id == message.id)).one()
        assert ack.text.startswith("Thank you!") and ack.state == "pending"


def test_off_topic_on_a_lone_new_request_declines_it_with_a_reason(client, users):
    ids = seed(users)
    login(client)
    post(client, f"/queue/messages/{ids['velo']}/off-topic")
    assert any("declined" in text for text in flashes(client))
    with users.sessions() as session:
        request = session.get(Request, ids["velo_request"])
        assert request.status == "declined" and "données" in request.answer  # the requester writes French
        assert session.get(Message, ids["velo"]).label == "off_topic"
        event = session.scalars(select(StatusEvent).where(StatusEvent.status == "declined")).one()
        assert event.actor == "alice"
        assert session.scalars(select(Reply).where(Reply.status_event_id == event.id)).one().lang == "fr"


def test_off_topic_leaves_a_shared_request_and_labels_a_lone_message(client, users):
    ids = seed(users)
    with users.sessions() as session, session.begin():
        extra = add_message(session, "@someone", "me too, bike counts please")
        extra.request_id = ids["velo_request"]
        extra_id = extra.id
    login(client)
    post(client, f"/queue/messages/{extra_id}/off-topic")
    post(client, f"/queue/messages/{ids['unsure']}/off-topic")
    with users.sessions() as session:
        assert session.get(Message, extra_id).request_id is None
        assert session.get(Request, ids["velo_request"]).status == "received"
        unsure = session.get(Message, ids["unsure"])
        assert unsure.label == "off_topic" and not unsure.needs_review and unsure.routed_at is not None
        assert session.scalar(select(func.count()).select_from(LabelDecision)) == 2


def test_off_topic_is_refused_on_a_decided_request(client, users):
    ids = seed(users)
    login(client)
    post(client, f"/queue/requests/{ids['velo_request']}/status", {"status": "accepted"})
    post(client, f"/queue/messages/{ids['velo']}/off-topic")
    assert any("already decided" in text for text in flashes(client))
    with users.sessions() as session:
        assert session.get(Message, ids["velo"]).label == "data_request"
        assert session.scalar(select(func.count()).select_from(LabelDecision)) == 0


def test_merge_from_the_queue(client, users):
    ids = seed(users)
    login(client)
    post(client, f"/queue/requests/{ids['canteen_request']}/merge", {"target": str(ids["velo_request"])})
    with users.sessions() as session:
        assert session.get(Request, ids["canteen_request"]).duplicate_of_id == ids["velo_request"]
        assert session.get(Message, ids["canteen"]).request_id == ids["velo_request"]
    post(client, f"/queue/requests/{ids['velo_request']}/merge", {"target": "999"})
    assert any("Nothing was changed" in text for text in flashes(client))


def test_bulk_status_is_all_or_nothing(client, users):
    ids = seed(users)
    login(client)
    selected = {"ids": [str(ids["velo"]), str(ids["canteen"])], "action": "status", "step": "apply"}
    post(client, "/queue/bulk", {**selected, "status": "declined"})  # no answer: refused for both
    assert any("needs an answer" in text for text in flashes(client))
    post(client, "/queue/bulk", {**selected, "status": "published", "url": "javascript:alert(1)"})
    assert any("http" in text for text in flashes(client))
    with users.sessions() as session:
        assert {r.status for r in session.scalars(select(Request))} == {"received"}
    post(client, "/queue/bulk", {**selected, "status": "published", "url": "https://data.example.org/d"})
    assert "2 requests are now Published." in flashes(client)
    with users.sessions() as session:
        assert {r.status for r in session.scalars(select(Request))} == {"published"}
        assert session.scalar(select(func.count()).where(StatusEvent.actor == "alice")) == 2


def test_bulk_off_topic_merge_and_confirm(client, users):
    ids = seed(users)
    login(client)
    post(client, "/queue/bulk", {"ids": [str(ids["unsure"]), str(ids["bins"])], "action": "confirm", "step": "apply"})
    with users.sessions() as session:
        unsure, bins = session.get(Message, ids["unsure"]), session.get(Message, ids["bins"])
        assert unsure.request_id and bins.request_id and bins.label == "data_request"
        targets = (unsure.request_id, bins.request_id)
    post(client, "/queue/bulk", {"ids": [str(ids["velo"]), str(ids["canteen"]), str(ids["unsure"])],
                                 "action": "merge", "target": str(targets[0]), "step": "apply"})
    assert f"2 requests merged into #{targets[0]}." in flashes(client)
    post(client, "/queue/bulk", {"ids": [str(ids["bins"])], "action": "off_topic", "step": "apply"})
    with users.sessions() as session:
        assert session.get(Request, targets[1]).status == "declined"
        assert session.scalar(select(func.count()).where(Message.request_id == targets[0])) == 3
    post(client, "/queue/bulk", {"action": "off_topic", "step": "apply"})
    assert "Select at least one message." in flashes(client)


@pytest.mark.parametrize("filters", [
    queue.Filters(), queue.Filters(scope="all"), queue.Filters(network="mastodon", language="fr", label="off_topic"),
    queue.Filters(status="none"), queue.Filters(status="accepted"), queue.Filters(q="bus"),
    queue.Filters(assignee="none"), queue.Filters(assignee="me", me=1), queue.Filters(assignee="7"),
    queue.Filters(campaign="2027-q1", sort="unsure"), queue.Filters(sort="score"),
])
def test_the_queue_joins_requests_only_when_a_filter_reads_them(filters):
    """Without a join its filters do not need, PostgreSQL walks a part's index for a typed page (BENCHMARKS.md)."""
    froms = select(Message.id).where(*filters.where()).get_final_froms()
    assert filters.reads_requests() == (Request.__table__ in froms)
