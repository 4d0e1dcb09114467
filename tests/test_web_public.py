"""The public dashboard and permalinks: every request, no personal data; and the two languages."""

from __future__ import annotations

import re

from bot.web.i18n import STRINGS, from_accept_language
from bot.web.public import PAGE_SIZE
from tests.web_support import XSS, add_message, login, post, seed

HANDLES = ("camille_velo", "parent_b", "maybe_max", "grumpy_joe")


def assert_no_personal_data(html: str) -> None:
    for handle in HANDLES:
        assert handle not in html, handle  # neither the handle nor the user id (u-@handle)
    assert "The bins on my street" not in html


def decide(client, ids) -> None:
    login(client)
    post(client, f"/queue/requests/{ids['canteen_request']}/merge", {"target": str(ids["velo_request"])})
    post(client, f"/queue/requests/{ids['velo_request']}/status",
         {"status": "published", "url": "https://data.example.org/velo", "answer": "Hourly counts."})
    post(client, "/logout")


def test_dashboard_lists_requests_counts_and_answers(client, users):
    ids = seed(users)
    decide(client, ids)
    page = client.get("/").text
    assert f'href="/requests/{ids["velo_request"]}"' in page
    assert f'href="/requests/{ids["canteen_request"]}"' not in page  # merged: counted on the survivor
    assert "2 supporters" in page and "Hourly counts." in page
    assert 'href="https://data.example.org/velo"' in page
    assert "First quarter call" in page and "sandbox" in page and "By network" in page
    assert_no_personal_data(page)
    assert XSS not in page


def test_dashboard_filters_and_pages(client, users):
    with users.sessions() as session, session.begin():
        from bot.pipeline.route import open_request

        for n in range(PAGE_SIZE + 2):
            open_request(session, add_message(session, f"@c{n}", f"Publish dataset {n}"),
                         writer=users.reply_writer())
    first, second = client.get("/").text, client.get("/?page=2").text
    assert len(re.findall(r'<li class="card">', first)) == PAGE_SIZE
    assert len(re.findall(r'<li class="card">', second)) == 2
    assert "22 requests" in first
    assert len(re.findall(r'<li class="card">', client.get("/?status=published").text)) == 0
    assert len(re.findall(r'<li class="card">', client.get("/?network=sandbox&status=received").text)) == 20
    assert client.get("/?status=nonsense&page=-3").status_code == 200
    assert client.get("/?page=" + "9" * 30).status_code == 200


def test_permalink_shows_the_history_without_names(client, users):
    ids = seed(users)
    decide(client, ids)
    page = client.get(f"/requests/{ids['velo_request']}").text
    assert "Published" in page and "Received" in page and "Hourly counts." in page
    assert "2 supporters" in page and "alice" not in page  # officers stay anonymous too
    assert_no_personal_data(page)
    merged = client.get(f"/requests/{ids['canteen_request']}", follow_redirects=False)
    assert merged.status_code == 303 and merged.headers["location"] == f"/requests/{ids['velo_request']}"
    assert client.get("/requests/999").status_code == 404


def test_consenting_requesters_are_quoted(client, users):
    with users.sessions() as session, session.begin():
        from bot.pipeline.route import open_request

        message = add_message(session, "@proud_reuser", "Publish the tree inventory please", consented=True)
        request = open_request(session, message, writer=users.reply_writer())
        shy = add_message(session, "@shy_one", "Yes, the tree inventory!")
        shy.request_id = request.id
        request_id = request.id
    page = client.get(f"/requests/{request_id}").text
    assert "@proud_reuser" in page and "Publish the tree inventory please" in page
    assert "shy_one" not in page and "Yes, the tree inventory!" not in page
    assert "proud_reuser" not in client.get("/").text


def test_language_from_query_cookie_and_browser(runtime):
    from bot.web import create_app
    from tests.web_support import TestClient

    with TestClient(create_app(runtime)) as client:
        assert '<html lang="fr">' in client.get("/").text  # the deployment's default language
        assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
        english = client.get("/?lang=en")
        assert '<html lang="en">' in english.text and "lang=en" in english.headers["set-cookie"]
        assert '<html lang="en">' in client.get("/").text  # remembered
        assert "Demandes de données" in client.get("/?lang=fr").text
        assert 'href="/?lang=en" lang="en" hreflang="en"' in client.get("/").text


def test_accept_language_weights():
    assert from_accept_language("de, en;q=0.5, fr;q=0.8") == "fr"
    assert from_accept_language("en-US") == "en"
    assert from_accept_language("de, it") is None
    assert from_accept_language("fr;q=oops, en;q=0.1") == "en"


def test_both_languages_have_the_same_strings():
    assert set(STRINGS["fr"]) == set(STRINGS["en"])
    for key, value in STRINGS["fr"].items():
        assert type(value) is type(STRINGS["en"][key]), key


def test_unknown_page_and_static_files(client):
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and '<html lang="en">' in missing.text
    css = client.get("/static/style.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
