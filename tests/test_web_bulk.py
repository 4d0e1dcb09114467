"""The compact queue's rows and bulk bar: no default action, the same preview as a single change,
and an explicit confirmation before a published request moves back; on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from storage.models import Request, StatusEvent, User
from tests.web_support import add_message, login, post, seed


def flashes(client) -> str:
    return " ".join(re.findall(r'class="flash[^"]*" role="\w+">([^<]*)<', client.get("/queue").text))


def test_one_line_per_message_with_its_columns(client, users):
    ids = seed(users)
    with users.sessions() as session, session.begin():
        extra = add_message(session, "@second_voice", "yes, canteen menus please")
        extra.request_id = ids["canteen_request"]
        session.get(Request, ids["canteen_request"]).assignee_id = session.scalar(
            select(User.id).where(User.name == "ada"))
    login(client)
    page = client.get("/queue").text
    row = re.search(rf'<li class="qrow[^"]*" data-message="{ids["canteen"]}">(.*?)</summary>', page, re.S).group(1)
    assert "sandbox" in row and ">en<" in row and "0.90" in row and "0 min" in row
    assert re.search(r'class="c-support"[^>]*><span class="sr-only">Support </span>2<', row)
    assert ">ada<" in row and "Received" in row
    assert page.count("<details>") >= 3  # each line expands in place
    # The bulk bar: no action chosen, "Preview" is the only button.
    bar = page[page.index('<form id="bulk"'):page.index("</aside>")]
    assert '<option value="" selected>— choose —</option>' in bar and 'required' in bar
    assert 'name="step" value="preview"' in bar


def test_bulk_needs_a_chosen_action_and_previews_before_applying(client, users):
    ids = seed(users)
    login(client)
    selected = {"ids": [str(ids["velo"]), str(ids["canteen"])], "next": "/queue"}
    post(client, "/queue/bulk", {**selected, "action": ""})
    assert "Choose an action" in flashes(client)
    preview = post(client, "/queue/bulk", {**selected, "action": "status", "status": "accepted",
                                           "answer": "Planned for spring."})
    assert preview.status_code == 200
    text = preview.text
    assert "2 requests will become Accepted." in text and "1 person will be told." in text
    assert 'lang="fr"' in text and 'lang="en"' in text and "Planned for spring." in text
    assert 'name="step" value="apply"' in text and 'name="answer" value="Planned for spring."' in text
    with users.sessions() as session:  # the preview changed nothing
        assert {r.status for r in session.scalars(select(Request))} == {"received"}
    token = re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text))
    data = {**fields, "ids": selected["ids"], "csrf_token": token}
    client.post("/queue/bulk", data=data, follow_redirects=False)
    assert "2 requests are now Accepted." in flashes(client)


def test_moving_back_from_published_needs_the_confirmation(client, users):
    ids = seed(users)
    login(client)
    base = {"ids": [str(ids["velo"])], "action": "status", "step": "apply"}
    post(client, "/queue/bulk", {**base, "status": "published", "url": "https://data.example.org/velo"})
    preview = post(client, "/queue/bulk", {**base, "status": "in_progress", "step": "preview"}).text
    assert 'name="confirm_reopen"' in preview and "Already published: " in preview
    post(client, "/queue/bulk", {**base, "status": "in_progress"})
    assert "needs a confirmation" in flashes(client)  # the request page's refusal (check_change)
    path = f"/queue/requests/{ids['velo_request']}"
    post(client, f"{path}/status", {"status": "in_progress"}, page=path)
    assert "needs a confirmation" in flashes(client)
    assert 'name="confirm_reopen"' in client.get(f"{path}?status=accepted").text
    with users.sessions() as session:
        assert session.get(Request, ids["velo_request"]).status == "published"
    post(client, "/queue/bulk", {**base, "status": "in_progress", "confirm_reopen": "yes"})
    with users.sessions() as session:
        assert session.get(Request, ids["velo_request"]).status == "in_progress"
        assert session.scalar(select(func.count()).select_from(StatusEvent)) == 4


def test_bulk_refuses_a_request_changed_since_the_queue_was_drawn(client, users):
    ids = seed(users)
    login(client)
    page = client.get("/queue").text
    seen = re.search(rf'name="v{ids["velo"]}" value="([^"]+)"', page).group(1)
    post(client, f"/queue/requests/{ids['velo_request']}/assign", {"assignee": "me"})
    post(client, "/queue/bulk", {"ids": [str(ids["velo"])], "action": "status", "status": "accepted",
                                 "step": "apply", f"v{ids['velo']}": seen})
    assert "changed since you opened it: assigned to alice" in flashes(client)
    with users.sessions() as session:
        assert session.get(Request, ids["velo_request"]).status == "received"
