"""Suggestions in the web app: shown where officers decide, previewed before anything is sent, dismissed
for good, and closed when requests are merged or decided; on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

from sqlalchemy import select, update

from bot.pipeline.suggest import MARK_KEY, suggest_new
from storage.models import AppSetting, CatalogueDataset, Request, Suggestion
from tests.web_support import add_message, login, post, seed

MENUS = "https://data.example.org/dataset/school-canteen-menus"


def flashes(client) -> str:
    return " ".join(re.findall(r'class="flash[^"]*" role="\w+">([^<]*)<', client.get("/queue").text))


def suggest(users, ids) -> dict[str, int]:
    """The canteen request may duplicate the bike one (for the test), is in the catalogue, and out of scope."""
    with users.sessions() as session, session.begin():
        dataset = CatalogueDataset(source="ckan", external_id="menus", title="School canteen menus", url=MENUS)
        session.add(dataset)
        session.flush()
        rows = {
            "duplicate": Suggestion(request_id=ids["canteen_request"], kind="duplicate",
                                    target=f"request:{ids['velo_request']}", score=0.8),
            "dataset": Suggestion(request_id=ids["canteen_request"], kind="already_available",
                                  target=f"dataset:{dataset.id}", score=0.9, url=MENUS),
            "rule": Suggestion(request_id=ids["canteen_request"], kind="out_of_scope", target="rule:schools",
                               score=1.0, answer="Canteens are run by the school board: ask them."),
        }
        session.add_all(rows.values())
        session.flush()
        return {name: row.id for name, row in rows.items()}


def test_suggestions_on_the_queue_line_and_the_request_page(client, users):
    ids = seed(users)
    suggest(users, ids)
    login(client)
    queue = client.get("/queue").text
    line = re.search(rf'data-message="{ids["canteen"]}">(.*?)</details>', queue, re.S).group(1)
    for badge in ("possible duplicate", "already published", "out of scope"):
        assert badge in line
    request_page = f"/queue/requests/{ids['canteen_request']}"
    for page in (line, client.get(request_page).text):
        assert f"#{ids['velo_request']} Publiez les comptages" in page
        assert f'href="{request_page}?status=duplicate&amp;of={ids["velo_request"]}#status">→ Merge' in page
        assert f'<a href="{MENUS}" rel="noopener">School canteen menus</a>' in page
        assert "Canteens are run by the school board: ask them." in page
        assert page.count("→ Use this answer") == 2


def test_each_suggestion_previews_what_will_be_sent_before_sending(client, users):
    ids = seed(users)
    suggest(users, ids)
    login(client)
    page = client.get(f"/queue/requests/{ids['canteen_request']}").text
    links = [html.unescape(href) for href in re.findall(r'<a class="decide" href="([^"]+)"', page)]
    assert len(links) == 3
    previews = {link: client.get(link).text for link in links}
    with users.sessions() as session:  # looking sent nothing
        assert session.get(Request, ids["canteen_request"]).status == "received"
    use_dataset, merge, use_rule = links  # by kind: already_available, duplicate, out_of_scope
    assert "status=duplicate" in merge and "status=out_of_scope" in use_rule
    assert "1 person will be told." in previews[merge]
    assert MENUS in previews[use_dataset] and "Set status Already available and send 1 reply(ies)" in html.unescape(
        previews[use_dataset])
    assert "ask them." in previews[use_rule]
    # The officer presses the button under the preview: the same form as any status change.
    token = re.search(r'name="csrf_token" value="([^"]+)"', previews[use_dataset]).group(1)
    form = dict(re.findall(r'<input type="hidden" name="(status|url|answer|of|version)" value="([^"]*)"',
                           previews[use_dataset]))
    client.post(f"/queue/requests/{ids['canteen_request']}/status", data={**form, "csrf_token": token})
    with users.sessions() as session:
        request = session.get(Request, ids["canteen_request"])
        assert (request.status, request.url) == ("already_available", MENUS)
        # Decided: its suggestions are closed.
        assert session.scalars(select(Suggestion).where(Suggestion.request_id == request.id)).all() == []


def test_a_dismissed_suggestion_does_not_come_back(client, users):
    ids = seed(users)
    made = suggest(users, ids)
    login(client)
    path = f"/queue/requests/{ids['canteen_request']}"
    post(client, f"{path}/suggestions/{made['rule']}/dismiss", {"next": path}, page=path)
    assert "it will not come back" in flashes(client)
    assert "school board" not in client.get(path).text
    post(client, f"/queue/requests/{ids['velo_request']}/suggestions/{made['dataset']}/dismiss", page=path)
    assert "No suggestion" in flashes(client)  # not that request's suggestion
    with users.sessions() as session:
        dismissed = session.get(Suggestion, made["rule"])
        assert dismissed.dismissed_by == "alice" and dismissed.dismissed_at is not None
    # The suggest step looks again (its mark reset): the dismissed one stays dismissed, nothing doubles.
    with users.sessions() as session, session.begin():
        session.execute(update(AppSetting).where(AppSetting.key == MARK_KEY).values(value="0"))
    suggest_new(users.sessions)
    with users.sessions() as session:
        rows = session.scalars(select(Suggestion).where(Suggestion.target == "rule:schools")).all()
        assert len(rows) == 1 and rows[0].dismissed_at is not None


def test_merging_repoints_duplicates_and_deciding_closes_them(client, users):
    ids = seed(users)
    suggest(users, ids)
    with users.sessions() as session, session.begin():
        third = add_message(session, "@third", "bike counts per hour please")
        third_request = Request(title="bike counts per hour please")
        session.add(third_request)
        session.flush()
        third.request_id = third_request.id
        session.add(Suggestion(request_id=third_request.id, kind="duplicate",
                               target=f"request:{ids['canteen_request']}", score=0.7))
        third_id = third_request.id
    login(client)
    # canteen joins velo: the third request's "duplicate of canteen" now points to velo, where it would go.
    post(client, f"/queue/requests/{ids['canteen_request']}/merge", {"target": str(ids["velo_request"])})
    with users.sessions() as session:
        assert session.scalars(select(Suggestion.target).where(Suggestion.request_id == third_id)).all() == [
            f"request:{ids['velo_request']}"]
        assert session.scalars(select(Suggestion).where(Suggestion.request_id == ids["canteen_request"])).all() == []
    # velo is declined: nothing can be merged into it any more.
    post(client, f"/queue/requests/{ids['velo_request']}/status", {"status": "declined", "answer": "Not ours."})
    with users.sessions() as session:
        assert session.scalars(select(Suggestion).where(Suggestion.request_id == third_id)).all() == []
