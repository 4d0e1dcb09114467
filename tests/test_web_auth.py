"""Who may do what: login, lock, rate limit, CSRF, roles, cookies; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.routing import Route

from bot.web import create_app
from bot.web.accounts import LOCK_TIME, MAX_FAILURES, LoginLimiter
from storage.models import AppSetting, StatusEvent, User, utcnow
from tests.web_support import PASSWORD, TestClient, csrf_of, login, post, seed

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def test_anonymous_is_sent_to_login_and_back(client, users):
    response = client.get("/queue?scope=all", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fqueue%3Fscope%3Dall"
    page = client.get(response.headers["location"])
    assert 'name="next" value="/queue?scope=all"' in page.text
    token = csrf_of(page.text)
    done = client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": token,
                                       "next": "/queue?scope=all"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/queue?scope=all"
    assert client.get("/queue").status_code == 200


def test_anonymous_cannot_reach_any_officer_page(client, users):
    seed(users)
    for path in ("/queue", "/queue/requests/1"):
        assert client.get(path, follow_redirects=False).headers["location"].startswith("/login")


def test_login_never_redirects_off_site(client, users):
    token = csrf_of(client.get("/login").text)
    done = client.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": token,
                                       "next": "//evil.example/x"}, follow_redirects=False)
    assert done.headers["location"] == "/queue"


def test_wrong_password_is_refused_and_counted(client, users):
    response = login(client, password="wrong password")
    assert response.status_code == 400
    assert "Wrong name or password" in response.text or "incorrect" in response.text
    with users.sessions() as session:
        assert session.scalar(select(User.failed_logins).where(User.name == "alice")) == 1
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_account_locks_after_five_failures_then_unlocks(client, users):
    for _ in range(MAX_FAILURES):
        assert login(client, password="wrong password").status_code == 400
    # Even the right password is refused while locked, with the same message.
    refused = login(client)
    assert refused.status_code == 400
    with users.sessions() as session, session.begin():
        user = session.scalar(select(User).where(User.name == "alice"))
        assert user.locked_until > utcnow() + LOCK_TIME - timedelta(minutes=1)
        user.locked_until = utcnow() - timedelta(seconds=1)  # five minutes later
    assert login(client).status_code == 303
    with users.sessions() as session:
        user = session.scalar(select(User).where(User.name == "alice"))
        assert user.failed_logins == 0 and user.locked_until is None and user.last_login_at is not None


def test_login_upgrades_a_weak_hash(client, users, monkeypatch):
    from argon2 import PasswordHasher

    from bot.web import accounts

    monkeypatch.setattr(accounts, "hasher", PasswordHasher())  # the real cost, as in production
    assert login(client).status_code == 303
    with users.sessions() as session:
        stored = session.scalar(select(User.password_hash).where(User.name == "alice"))
    assert stored.startswith("$argon2id$") and "m=65536" in stored


def test_unknown_names_get_the_same_answer(client, users):
    unknown = login(client, name="nobody")
    wrong = login(client, password="not the password")
    assert unknown.status_code == wrong.status_code == 400
    assert unknown.text.count("flash error") == wrong.text.count("flash error") == 1


def test_per_address_limiter_answers_429(runtime, users):
    app = create_app(runtime, login_limiter=LoginLimiter(max_failures=3, window_seconds=60))
    with TestClient(app) as client:
        for name in ("a", "b", "c"):
            assert login(client, name=name).status_code == 400
        assert login(client).status_code == 429  # right password, but this address is throttled


def test_logout_ends_the_session(client, users):
    login(client)
    assert client.get("/queue").status_code == 200
    assert post(client, "/logout").status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_a_new_password_ends_open_sessions(client, users):
    login(client)
    with users.sessions() as session, session.begin():
        from bot.web.accounts import create_user

        create_user(session, "alice", "another long password", "officer", update=True)
    assert client.get("/queue", follow_redirects=False).status_code == 303


def post_routes(app) -> list[str]:
    return [route.path for route in app.routes if isinstance(route, Route) and "POST" in (route.methods or ())]


def test_every_post_needs_the_csrf_token(app, client, users):
    seed(users)
    login(client)
    paths = post_routes(app)
    assert len(paths) >= 9
    for path in paths:
        concrete = re.sub(r"\{\w+:int\}", "1", path)
        assert client.post(concrete, data={}, follow_redirects=False).status_code == 403, path
        wrong = client.post(concrete, data={"csrf_token": "forged"}, follow_redirects=False)
        assert wrong.status_code == 403, path
    with users.sessions() as session:  # nothing happened
        assert [e.status for e in session.scalars(select(StatusEvent))] == ["received", "received"]
    assert client.get("/queue").status_code == 200  # still logged in


def test_no_form_takes_a_file(client, users):
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token}, files={"name": ("x.txt", b"x")})
    assert response.status_code == 400


def test_login_itself_needs_the_token(client, users):
    response = client.post("/login", data={"name": "alice", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403


def test_viewer_reads_but_cannot_change(client, users):
    ids = seed(users)
    login(client, "vera")
    queue = client.get("/queue")
    assert queue.status_code == 200 and "comptages" in queue.text
    assert "@camille_velo" not in queue.text  # handles are for officers
    assert 'action="/queue/bulk"' not in queue.text
    page = client.get(f"/queue/requests/{ids['velo_request']}")
    assert page.status_code == 200 and "@camille_velo" not in page.text
    attempts = {
        f"/queue/messages/{ids['unsure']}/confirm": {},
        f"/queue/messages/{ids['bins']}/off-topic": {},
        "/queue/bulk": {"ids": [str(ids["velo"])], "action": "status", "status": "accepted"},
        f"/queue/requests/{ids['velo_request']}/status": {"status": "accepted"},
        f"/queue/requests/{ids['canteen_request']}/merge": {"target": str(ids["velo_request"])},
        f"/queue/requests/{ids['velo_request']}/title": {"title": "New"},
        f"/queue/requests/{ids['velo_request']}/replies/1/retry": {},
    }
    for path, data in attempts.items():
        response = post(client, path, data)
        assert response.status_code == 403, path
        assert "read-only" in response.text or "lecture seule" in response.text
    with users.sessions() as session:
        assert len(session.scalars(select(StatusEvent)).all()) == 2
    assert post(client, "/logout").status_code == 303  # but may log out


def test_admin_can_decide(client, users):
    ids = seed(users)
    login(client, "ada")
    assert post(client, f"/queue/requests/{ids['velo_request']}/status", {"status": "accepted"}).status_code == 303
    with users.sessions() as session:
        assert session.scalars(select(StatusEvent).order_by(StatusEvent.id.desc())).first().actor == "ada"


def test_cookies_are_httponly_lax_and_secure_over_https(runtime, users):
    app = create_app(runtime)
    with TestClient(app) as plain:
        cookie = plain.get("/login").headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    with TestClient(app, base_url="https://testserver") as tls:
        cookie = tls.get("/login").headers["set-cookie"]
        assert "secure" in cookie.lower() and "httponly" in cookie.lower()
        assert login(tls).status_code == 303


def test_public_pages_set_no_cookie_and_every_page_has_strict_headers(client, users):
    response = client.get("/")
    assert "set-cookie" not in response.headers
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy  # the app's own files only
    assert response.headers["x-frame-options"] == "DENY"
    assert client.get("/login").headers["cache-control"] == "no-store"


def test_the_session_secret_is_made_once_and_kept(runtime, monkeypatch):
    monkeypatch.delenv("DATACALL_WEB_SECRET", raising=False)
    first = create_app(runtime).state.secret
    assert create_app(runtime).state.secret == first and len(first) >= 40
    with runtime.sessions() as session:
        assert session.get(AppSetting, "web_secret").value == first
    monkeypatch.setenv("DATACALL_WEB_SECRET", "from-the-environment")
    assert create_app(runtime).state.secret == "from-the-environment"
