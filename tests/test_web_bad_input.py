"""Bad input is refused cleanly: absurd numbers answer 404 or a refusal, never a crash; every error page
carries the security headers. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.routing import Route

from bot.web import create_app
from bot.web.middleware import SECURITY_HEADERS
from storage.models import Request, StatusEvent
from tests.web_support import TestClient, csrf_of, login, post, seed

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

HUGE = "99999999999999999999"  # more than 64 bits
LARGEST = str(2**63 - 1)  # fits SQLite's integers, not PostgreSQL's INTEGER ids


def assert_secure(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.status_code, name)


def events(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(StatusEvent))


@pytest.mark.parametrize("number", [HUGE, LARGEST, str(2**31), str(2**31 - 1), "0" * 40 + "1"])
def test_public_request_with_an_absurd_id_is_not_found(client, users, number):
    response = client.get(f"/requests/{number}")
    assert response.status_code == 404 and "This page does not exist" in response.text
    assert_secure(response)


def test_officer_pages_with_absurd_ids_are_not_found(client, users):
    ids = seed(users)
    login(client)
    for number in (HUGE, LARGEST):
        page = client.get(f"/queue/requests/{number}")
        assert page.status_code == 404, number
        assert_secure(page)
        assert page.headers["cache-control"] == "no-store"
    for path in (f"/queue/requests/{HUGE}/status", f"/queue/requests/{HUGE}/title",
                 f"/queue/requests/{HUGE}/merge", f"/queue/messages/{HUGE}/confirm",
                 f"/queue/messages/{HUGE}/off-topic", f"/queue/requests/{ids['velo_request']}/replies/{HUGE}/retry"):
        response = post(client, path, {"status": "accepted", "title": "x", "target": "1"})
        assert response.status_code == 404, path
        assert_secure(response)
    assert events(users) == 2  # nothing happened


def test_absurd_ids_in_forms_are_refused_with_a_message(client, users):
    ids = seed(users)
    login(client)
    velo = ids["velo_request"]
    for number in (HUGE, "²", "１２"):  # too large, a superscript digit, full-width digits
        bulk = post(client, "/queue/bulk", {"step": "apply", "ids": [number], "action": "confirm"})
        assert bulk.status_code == 303, number
        assert "Select at least one message" in client.get("/queue").text
        merged = post(client, f"/queue/requests/{velo}/merge", {"target": number}, page=f"/queue/requests/{velo}")
        assert merged.status_code == 303, number
        assert "give the number of the request it joins" in client.get(f"/queue/requests/{velo}").text
        duplicate = post(client, f"/queue/requests/{velo}/status", {"status": "duplicate", "of": number},
                         page=f"/queue/requests/{velo}")
        assert duplicate.status_code == 303, number
        bulk_merge = post(
            client, "/queue/bulk", {"step": "apply", "ids": [str(ids["velo"])], "action": "merge", "target": number}
        )
        assert bulk_merge.status_code == 303, number
    with users.sessions() as session:
        assert session.get(Request, velo).status == "received"
    assert events(users) == 2


def test_absurd_query_numbers_still_show_the_queue(client, users):
    seed(users)
    login(client)
    for query in (f"page={HUGE}", "page=²", f"after=0.{HUGE}", "after=².1", f"before=1.{HUGE}&page=3",
                  "after=0.１"):
        assert client.get(f"/queue?{query}").status_code == 200, query
    assert client.get(f"/?page={HUGE}").status_code == 200


def test_every_error_page_carries_the_security_headers(runtime, users):
    app = create_app(runtime)

    def crash(request):
        raise RuntimeError("a bug")

    app.router.routes.append(Route("/crash", crash))
    with TestClient(app, raise_server_exceptions=False, headers={"Accept-Language": "en"}) as client:
        not_found = client.get("/no/such/page")
        assert not_found.status_code == 404
        wrong_method = client.get("/logout")
        assert wrong_method.status_code == 405
        forged = client.post("/login", data={"name": "alice", "password": "x", "csrf_token": "forged"})
        assert forged.status_code == 403
        token = csrf_of(client.get("/login").text)
        with_file = client.post("/login", data={"csrf_token": token}, files={"name": ("x.txt", b"x")})
        assert with_file.status_code == 400
        crashed = client.get("/crash")
        assert crashed.status_code == 500
        assert "This page cannot be shown" in crashed.text and "a bug" not in crashed.text
        for response in (not_found, wrong_method, forged, with_file, crashed):
            assert_secure(response)
    with TestClient(app, raise_server_exceptions=False, base_url="https://testserver") as tls:
        tls.get("/login")  # a session cookie to send back
        assert tls.get("/crash").status_code == 500


def test_a_crash_under_queue_is_never_cached(runtime, users):
    app = create_app(runtime)

    def crash(request):
        raise RuntimeError("a bug")

    app.router.routes.append(Route("/queue/crash", crash))
    with TestClient(app, raise_server_exceptions=False) as client:
        crashed = client.get("/queue/crash")
        assert crashed.status_code == 500 and crashed.headers["cache-control"] == "no-store"
        assert_secure(crashed)


@pytest.mark.parametrize(("url", "accepted"), [
    ("https://data.example.org/d/velo", True), ("HTTP://data.example.org", True),
    ("javascript:alert(1)", False), ("  javascript:alert(1)", False), ("data:text/html,x", False),
    ("/relative/path", False), ("//evil.example", False), ("https:no-host", False), ("http://[broken", False),
    ("", False), (None, False),
])
def test_one_link_rule_for_the_web_and_the_cli(url, accepted):
    from bot.links import is_web_link
    from bot.web.views import safe_href

    assert is_web_link(url) is accepted
    assert safe_href(url) == (url if accepted else None)


def test_the_web_form_refuses_a_script_link(client, users):
    ids = seed(users)
    login(client)
    velo = ids["velo_request"]
    refused = post(client, f"/queue/requests/{velo}/status", {"status": "published", "url": "javascript:alert(1)"},
                   page=f"/queue/requests/{velo}")
    assert refused.status_code == 303
    with users.sessions() as session:
        assert session.get(Request, velo).status == "received"
