"""Sessions end when they should: logout, a new password, their absolute lifetime; who the client is.

Through the ASGI client, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.web import accounts, create_app
from bot.web.accounts import MAX_FAILURES, LoginLimiter, create_user
from storage.models import Request, User
from tests.web_support import PASSWORD, TestClient, csrf_of, login, post, seed

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

COOKIE = "datacall_session"
GONE = "expires=Thu, 01 Jan 1970"  # how Starlette deletes a cookie


def captured(app, cookie: str) -> TestClient:
    """Another browser holding a copy of a session cookie (stolen, or left on a shared computer)."""
    other = TestClient(app, headers={"Accept-Language": "en"})
    other.cookies.set(COOKIE, cookie)
    return other


def title_of(runtime, request_id: int) -> str:
    with runtime.sessions() as session:
        return session.get(Request, request_id).title


def test_a_cookie_captured_before_logout_opens_and_changes_nothing(app, client, users):
    ids = seed(users)
    login(client)
    page = client.get("/queue")
    assert page.status_code == 200
    cookie, token = client.cookies.get(COOKIE), csrf_of(page.text)
    before = title_of(users, ids["velo_request"])
    assert post(client, "/logout").status_code == 303
    with captured(app, cookie) as thief:
        queue = thief.get("/queue", follow_redirects=False)
        assert queue.status_code == 303 and queue.headers["location"].startswith("/login")
        # The CSRF token of that session still matches its cookie: only the revocation stops the change.
        change = thief.post(f"/queue/requests/{ids['velo_request']}/title",
                            data={"title": "Changed by a thief", "csrf_token": token}, follow_redirects=False)
        assert change.status_code == 303 and change.headers["location"].startswith("/login")
        assert GONE in change.headers["set-cookie"]  # deleted, not renewed
    assert title_of(users, ids["velo_request"]) == before
    with captured(app, cookie) as thief:  # the same copy again later: still nothing
        assert thief.get("/queue", follow_redirects=False).status_code == 303


def test_logout_ends_the_sessions_on_every_device(app, client, users):
    with TestClient(app, headers={"Accept-Language": "en"}) as phone:
        login(client)
        login(phone)
        assert phone.get("/queue").status_code == 200
        assert post(client, "/logout").status_code == 303
        assert phone.get("/queue", follow_redirects=False).status_code == 303
        assert login(phone).status_code == 303  # a new login works at once
        assert phone.get("/queue").status_code == 200
    with users.sessions() as session:
        assert session.scalar(select(User.session_version).where(User.name == "alice")) == 1


def test_logout_of_one_officer_leaves_the_others_signed_in(app, client, users):
    with TestClient(app, headers={"Accept-Language": "en"}) as other:
        login(client)
        login(other, "ada")
        assert post(client, "/logout").status_code == 303
        assert other.get("/queue").status_code == 200


def test_a_new_password_ends_every_session_and_copy(app, client, users, cli):
    login(client)
    cookie = client.cookies.get(COOKIE)
    cli("user add alice --update --password-stdin", input="another long password\n")
    assert client.get("/queue", follow_redirects=False).status_code == 303
    with captured(app, cookie) as thief:
        assert thief.get("/queue", follow_redirects=False).status_code == 303
    assert login(client).status_code == 400  # the old password is gone
    assert login(client, password="another long password").status_code == 303


def test_a_session_ends_after_its_lifetime_however_active(client, users, monkeypatch):
    real_clock = accounts.clock
    login(client)
    lifetime = 12 * 3600  # the default [web] session_hours
    for elapsed in (3600, 6 * 3600, lifetime - 60):  # busy all day: every response renews the cookie
        monkeypatch.setattr(accounts, "clock", lambda elapsed=elapsed: real_clock() + elapsed)
        assert client.get("/queue").status_code == 200, elapsed
    monkeypatch.setattr(accounts, "clock", lambda: real_clock() + lifetime + 1)
    ended = client.get("/queue", follow_redirects=False)
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    assert GONE in ended.headers["set-cookie"]
    assert login(client).status_code == 303  # a fresh login starts a fresh lifetime
    assert client.get("/queue").status_code == 200


def test_the_lifetime_comes_from_the_config(write_config, db_url, monkeypatch):
    from bot.config import load_config
    from bot.runtime import Runtime
    from storage.migrate import upgrade

    config = write_config(f'[database]\nurl = "{db_url}"\n[web]\nsession_hours = 0.5\n', "short.toml")
    rt = Runtime.from_config(load_config(config), say=lambda text: None)
    try:
        upgrade(rt.engine)
        with rt.sessions() as session, session.begin():
            create_user(session, "alice", PASSWORD, "officer")
        real_clock = accounts.clock
        with TestClient(create_app(rt)) as browser:
            assert login(browser).status_code == 303
            monkeypatch.setattr(accounts, "clock", lambda: real_clock() + 25 * 60)
            assert browser.get("/queue").status_code == 200
            monkeypatch.setattr(accounts, "clock", lambda: real_clock() + 31 * 60)
            assert browser.get("/queue", follow_redirects=False).status_code == 303
    finally:
        rt.close()


def test_a_locked_account_costs_one_password_check_like_a_wrong_password(client, users, monkeypatch):
    """The time an answer takes must not tell a locked account from a wrong password or an unknown name."""
    checks: list[str] = []
    real_verify = accounts._verify
    monkeypatch.setattr(accounts, "_verify",
                        lambda hash_, password: checks.append(hash_) or real_verify(hash_, password))
    with users.sessions() as session:
        alice_hash = session.scalar(select(User.password_hash).where(User.name == "alice"))

    assert login(client, password="wrong password").status_code == 400
    assert checks == [alice_hash]
    for _ in range(MAX_FAILURES - 1):
        login(client, password="wrong password")
    checks.clear()
    locked = login(client)  # the right password, on a locked account
    assert locked.status_code == 400
    assert checks == [alice_hash]  # the same check, with the same hash parameters, as a wrong password
    checks.clear()
    assert login(client, name="nobody").status_code == 400
    assert len(checks) == 1


def limited_app(runtime):
    return create_app(runtime, login_limiter=LoginLimiter(max_failures=3, window_seconds=60))


def test_forwarded_for_from_an_unlisted_address_is_ignored(runtime, users):
    """A client that invents X-Forwarded-For at each try is still counted at its own address."""
    with TestClient(limited_app(runtime), client=("203.0.113.9", 40000)) as client:
        for n in range(3):
            client.headers["X-Forwarded-For"] = f"198.51.100.{n}"
            assert login(client, name="nobody").status_code == 400
        client.headers["X-Forwarded-For"] = "198.51.100.77"
        assert login(client).status_code == 429


def test_forwarded_for_from_a_trusted_proxy_names_the_client(runtime, users):
    """Behind the proxy every client shares its address: each is limited on its own."""
    with TestClient(limited_app(runtime), client=("127.0.0.1", 40000)) as proxy:
        proxy.headers["X-Forwarded-For"] = "198.51.100.1"
        for _ in range(3):
            assert login(proxy, name="nobody").status_code == 400
        assert login(proxy).status_code == 429
        # A client that prepends its own X-Forwarded-For gets the proxy's view of it: the right-most entry.
        proxy.headers["X-Forwarded-For"] = "192.0.2.50, 198.51.100.1"
        assert login(proxy).status_code == 429
        proxy.headers["X-Forwarded-For"] = "198.51.100.2"
        assert login(proxy).status_code == 303


def test_forwarded_proto_counts_only_from_a_trusted_proxy(runtime, users):
    app = create_app(runtime)
    with TestClient(app, client=("203.0.113.9", 40000), headers={"X-Forwarded-Proto": "https"}) as direct:
        assert "secure" not in direct.get("/login").headers["set-cookie"].lower()
    with TestClient(app, client=("127.0.0.1", 40000), headers={"X-Forwarded-Proto": "https"}) as proxied:
        assert "secure" in proxied.get("/login").headers["set-cookie"].lower()
