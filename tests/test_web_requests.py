"""The officers' request page: supporters across networks, history, replies, title, status with preview."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Reply, Request, StatusEvent
from tests.web_support import XSS, add_message, login, post, seed


def test_request_page_shows_supporters_history_and_replies(client, users):
    ids = seed(users)
    with users.sessions() as session, session.begin():
        other = add_message(session, "@tg_user", "+1 pour les comptages", network="telegram", lang="fr")
        other.request_id = ids["velo_request"]
    login(client)
    page = client.get(f"/queue/requests/{ids['velo_request']}").text
    assert "Publiez les comptages vélo par heure svp" in page and "+1 pour les comptages" in page
    assert "telegram" in page and "@tg_user" in page and "@camille_velo" in page
    assert "2 supporting messages" in page
    assert "<td>datacall</td>" in page  # the system opened it: first history line
    assert "pending" in page  # the acknowledgement waits in the outbox
    assert f'href="/requests/{ids["velo_request"]}"' in page


def test_a_script_in_a_message_stays_text_on_the_request_page(client, users):
    ids = seed(users)
    login(client)
    page = client.get(f"/queue/requests/{ids['canteen_request']}").text
    assert XSS not in page and "&lt;script&gt;" in page


def test_unknown_request_is_a_404_page(client, users):
    login(client)
    response = client.get("/queue/requests/999")
    assert response.status_code == 404 and "does not exist" in response.text


def test_public_title_is_approved_on_the_request_page_and_withdrawn_when_empty(client, users):
    ids = seed(users)
    login(client)
    path = f"/queue/requests/{ids['canteen_request']}"
    page = client.get(path).text
    assert "Please publish school canteen menus" in page  # the draft stays visible to officers
    assert "Request #2" in page  # what the public sees meanwhile
    assert "Please publish school canteen menus" not in client.get("/").text
    post(client, f"{path}/title", {"title": "  School   canteen menus  "}, page=path)
    with users.sessions() as session:
        request = session.get(Request, ids["canteen_request"])
        assert request.public_title == "School canteen menus"
        assert request.title.startswith("Please publish school canteen menus")  # the draft is kept
    assert "School canteen menus" in client.get("/").text
    post(client, f"{path}/title", {"title": ""}, page=path)
    with users.sessions() as session:
        assert session.get(Request, ids["canteen_request"]).public_title is None
    dashboard = client.get("/").text
    assert "Request #2" in dashboard and "School canteen menus" not in dashboard


def test_status_preview_shows_both_languages_then_queues_the_replies(client, users):
    ids = seed(users)
    login(client)
    path = f"/queue/requests/{ids['velo_request']}"
    preview = client.get(f"{path}?status=published&url=https://data.example.org/velo&answer=Hourly").text
    assert "It&#39;s published! The data for your request #1 is online: https://data.example.org/velo" in preview
    assert "C&#39;est publié !" in preview
    assert "1 person will be told." in preview
    assert 'name="status" value="published"' in preview
    missing = client.get(f"{path}?status=published").text
    assert "needs the dataset&#39;s link" in missing
    response = post(client, f"{path}/status", {"status": "published", "url": "https://data.example.org/velo",
                                               "answer": "Hourly"}, page=path)
    assert response.headers["location"] == path
    page = client.get(path).text
    assert "Request #1 is now Published; 1 reply(ies) queued." in page
    with users.sessions() as session:
        event = session.scalars(select(StatusEvent).order_by(StatusEvent.id.desc())).first()
        assert (event.status, event.actor, event.url) == ("published", "alice", "https://data.example.org/velo")
        reply = session.scalars(select(Reply).where(Reply.status_event_id == event.id)).one()
        assert reply.lang == "fr" and reply.text.startswith("C'est publié !")


def test_status_refusals_change_nothing(client, users):
    ids = seed(users)
    login(client)
    path = f"/queue/requests/{ids['velo_request']}"
    for data in ({"status": "declined"}, {"status": "done"}, {"status": "duplicate"},
                 {"status": "duplicate", "of": str(ids["velo_request"])}):
        post(client, f"{path}/status", data, page=path)
        assert 'class="flash error"' in client.get(path).text, data
    with users.sessions() as session:
        assert [e.status for e in session.scalars(select(StatusEvent))] == ["received", "received"]


def test_deciding_a_request_settles_its_uncertain_messages(client, users):
    ids = seed(users)
    login(client)
    post(client, f"/queue/messages/{ids['unsure']}/confirm")
    with users.sessions() as session, session.begin():
        request_id = session.scalar(select(Request.id).order_by(Request.id.desc()))
        extra = add_message(session, "@x", "timetables too", needs_review=True)
        extra.request_id = request_id
        extra_id = extra.id
    post(client, f"/queue/requests/{request_id}/status", {"status": "under_review"})
    with users.sessions() as session:
        from storage.models import Message

        assert session.get(Message, extra_id).needs_review is False


def test_retry_a_dead_reply(client, users):
    ids = seed(users)
    with users.sessions() as session, session.begin():
        reply = session.scalars(select(Reply).order_by(Reply.id)).first()
        reply.state, reply.attempts, reply.last_error = "dead", 8, "NetworkError: boom"
        reply_id = reply.id
    login(client)
    path = f"/queue/requests/{ids['velo_request']}"
    page = client.get(path).text
    assert "NetworkError: boom" in page and f"/replies/{reply_id}/retry" in page
    post(client, f"{path}/replies/{reply_id}/retry", page=path)
    with users.sessions() as session:
        reply = session.get(Reply, reply_id)
        assert (reply.state, reply.attempts) == ("pending", 0)
    post(client, f"{path}/replies/{reply_id}/retry", page=path)  # not dead any more
    assert "only an unknown or dead reply can be settled" in client.get(path).text
    other = f"/queue/requests/{ids['canteen_request']}"
    post(client, f"{other}/replies/{reply_id}/retry", page=other)  # not this request's reply
    assert "No reply" in client.get(other).text
