"""Assignment, internal notes, sorts, and two officers on one request; on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.web.views import when
from storage.erasure import erase_requester, find_requester
from storage.exports import event_rows, json_text, request_rows
from storage.models import Message, Request, RequestNote, StatusEvent, User
from storage.notes import ERASED_NOTE
from tests.web_support import add_message, login, post, seed


def message_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-message="(\d+)"', html)] or [
        int(n) for n in re.findall(r'<h2 id="m(\d+)">', html)]


def version_of(html: str) -> str:
    return re.search(r'name="version" value="([^"]+)"', html).group(1)


def user_id(runtime, name: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(User.id).where(User.name == name))


def flashes(client) -> str:
    return " ".join(re.findall(r'class="flash[^"]*" role="\w+">([^<]*)<', client.get("/queue").text))


def test_assign_to_me_or_a_colleague_and_filter_mine_and_unassigned(client, users):
    ids = seed(users)
    login(client)
    path = f"/queue/requests/{ids['velo_request']}"
    post(client, f"{path}/assign", {"assignee": "me"}, page=path)
    assert "assigned to alice" in flashes(client)
    post(client, f"/queue/requests/{ids['canteen_request']}/assign", {"assignee": str(user_id(users, "ada"))},
         page=path)
    assert message_ids(client.get("/queue?assignee=me").text) == [ids["velo"]]
    assert message_ids(client.get("/queue?assignee=none").text) == [ids["unsure"]]
    assert message_ids(client.get(f"/queue?assignee={user_id(users, 'ada')}").text) == [ids["canteen"]]
    assert "Assigned to alice." in client.get(path).text
    # A viewer cannot be given a request; empty frees it.
    post(client, f"{path}/assign", {"assignee": str(user_id(users, "vera"))}, page=path)
    assert "cannot look after" in flashes(client)
    post(client, f"{path}/assign", {"assignee": ""}, page=path)
    with users.sessions() as session:
        assert session.get(Request, ids["velo_request"]).assignee_id is None


def test_sorts(client, users):
    ids = seed(users)
    with users.sessions() as session, session.begin():
        extra = add_message(session, "@second_voice", "yes, canteen menus please", score=0.95)
        extra.request_id = ids["canteen_request"]
        unsure2 = add_message(session, "@very_unsure", "data on something?", score=0.49, needs_review=True)
        unsure2_id, extra_id = unsure2.id, extra.id
    login(client)
    assert message_ids(client.get("/queue?scope=all&sort=newest").text)[:2] == [unsure2_id, extra_id]
    # Most supported: one line per request (its first message), two supporters first; messages without a request
    # have nobody to count and are not listed.
    assert message_ids(client.get("/queue?sort=support").text) == [ids["canteen"], ids["velo"]]
    assert message_ids(client.get("/queue?sort=support&language=fr").text) == [ids["velo"]]
    scores = message_ids(client.get("/queue?scope=all&sort=score").text)
    assert scores[0] == extra_id and scores[-1] == ids["bins"]
    # Lowest score first: the likely chatter together, for one bulk decision.
    lowest = message_ids(client.get("/queue?scope=all&sort=lowest").text)
    assert lowest[0] == ids["bins"] and lowest[-1] == extra_id and sorted(lowest) == sorted(scores)
    assert message_ids(client.get("/queue?sort=lowest").text)[0] == unsure2_id
    # Least sure first: only the messages to review, the nearest to 0.5 first.
    assert message_ids(client.get("/queue?sort=unsure").text) == [unsure2_id, ids["unsure"]]
    assert client.get("/queue?sort=nonsense").status_code == 200


def test_notes_are_internal_never_public_never_exported(client, users):
    ids = seed(users)
    login(client)
    path = f"/queue/requests/{ids['velo_request']}"
    post(client, f"{path}/notes", {"text": "Ask the mobility team; counters exist since 2019."}, page=path)
    post(client, f"{path}/notes", {"text": "   "}, page=path)
    assert "empty note" in flashes(client)
    assert "counters exist since 2019" in client.get(path).text
    assert "counters exist since 2019" not in client.get(f"/requests/{ids['velo_request']}").text
    assert "counters exist since 2019" not in client.get("/").text
    with users.sessions() as session:
        salt = "s"
        exported = json_text(request_rows(session, salt=salt), event_rows(session))
        assert "counters exist" not in exported
        assert [n.author for n in session.scalars(select(RequestNote))] == ["alice"]
    # A viewer reads the queue but sees no notes form.
    client.post("/logout", data={})
    login(client, "vera")
    assert 'action="' + path + '/notes"' not in client.get(path).text


def test_erasure_blanks_the_notes_that_name_or_quote_the_person(client, users):
    ids = seed(users)
    with users.sessions() as session, session.begin():
        for text in ("@camille_velo called again, wants it by June",
                     "She wrote: comptages vélo par heure svp",
                     "Check with the mobility team"):
            session.add(RequestNote(request_id=ids["velo_request"], author="alice", text=text))
        session.add(RequestNote(request_id=ids["canteen_request"], author="alice",
                                text="unrelated to camille_velo's request? no, same person"))
    with users.sessions() as session, session.begin():
        erase_requester(session, find_requester(session, "sandbox", "@camille_velo"))
    with users.sessions() as session:
        notes = {n.id: n.text for n in session.scalars(select(RequestNote).order_by(RequestNote.id))}
    assert list(notes.values()) == [ERASED_NOTE, ERASED_NOTE, "Check with the mobility team",
                                    "unrelated to camille_velo's request? no, same person"]  # not their request


def test_a_garbled_version_token_is_a_clear_refusal_not_a_server_error(client, users):
    """The token comes back from a form, so any text may: "²" passes str.isdigit() but not int()."""
    ids = seed(users)
    login(client)
    path = f"/queue/requests/{ids['velo_request']}"
    with users.sessions() as session:
        before = session.get(Request, ids["velo_request"]).status
        message_id = session.scalar(select(Message.id).where(Message.request_id == ids["velo_request"]))
    for garbled in ("²", "1².0.x", "x.y.z", "-1.0.0", "9" * 40, "..", "0.0.0.0"):
        response = post(client, f"{path}/status", {"status": "declined", "answer": "No", "version": garbled},
                        page=path)
        assert response.status_code == 303, garbled
        assert f"Request #{ids['velo_request']} changed since you opened it" in flashes(client), garbled
        bulk = post(client, "/queue/bulk", {"step": "apply", "ids": [str(message_id)], "action": "status",
                                            "status": "declined", "answer": "No", f"v{message_id}": garbled})
        assert bulk.status_code == 303, garbled
        assert "changed since you opened it" in flashes(client), garbled
    with users.sessions() as session:
        assert session.get(Request, ids["velo_request"]).status == before


def test_the_second_officer_sees_what_changed_instead_of_overwriting(client, users):
    ids = seed(users)
    login(client)
    path = f"/queue/requests/{ids['velo_request']}"
    seen = version_of(client.get(path).text)  # both officers opened the page
    # The first officer (ada, elsewhere) accepts the request and takes it.
    ada = user_id(users, "ada")
    with users.sessions() as session, session.begin():
        request = session.get(Request, ids["velo_request"])
        request.status, request.assignee_id = "accepted", ada
        session.add(StatusEvent(request_id=request.id, status="accepted", actor="ada", answer="Planned"))
    post(client, f"{path}/status", {"status": "declined", "answer": "No", "version": seen}, page=path)
    message = flashes(client)
    assert f"Request #{ids['velo_request']} changed since you opened it" in message
    assert "Accepted by ada" in message and "assigned to ada" in message and "Nothing was changed" in message
    for action, data in (("title", {"title": "Mine now"}), ("assign", {"assignee": "me"}),
                         ("merge", {"target": str(ids["canteen_request"])})):
        post(client, f"{path}/{action}", {**data, "version": seen}, page=path)
        assert "changed since you opened it" in flashes(client), action
    with users.sessions() as session:
        request = session.get(Request, ids["velo_request"])
        assert (request.status, request.title, request.assignee_id) == (
            "accepted", "Publiez les comptages vélo par heure svp", ada)
    # With the fresh page, the decision goes through.
    fresh = version_of(client.get(path).text)
    post(client, f"{path}/status", {"status": "declined", "answer": "No", "version": fresh}, page=path)
    with users.sessions() as session:
        assert session.get(Request, ids["velo_request"]).status == "declined"
    assert when  # the same date format as the page
