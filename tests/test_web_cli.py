"""`datacall user add` and `datacall serve`, in-process."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import User


def test_user_add_asks_twice_and_stores_only_a_hash(cli, sessions):
    cli("init")
    result = cli("user add alice --role admin", input="a long password\na long password\n")
    assert "user alice (admin) created" in result.output
    with sessions() as session:
        user = session.scalar(select(User).where(User.name == "alice"))
    assert user.role == "admin" and user.password_hash.startswith("$argon2")
    assert "a long password" not in user.password_hash


def test_user_add_from_stdin_refusals_and_update(cli, sessions):
    cli("init")
    cli("user add vera --role viewer --password-stdin", input="viewer password\n")
    assert "already exists" in cli("user add vera --password-stdin", input="another password\n", expect=2).output
    assert "unknown role" in cli("user add bob --role boss --password-stdin", input="x" * 12 + "\n",
                                 expect=2).output
    assert "at least 10" in cli("user add bob --password-stdin", input="short\n", expect=2).output
    cli("user add vera --role officer --update --password-stdin", input="another password\n")
    with sessions() as session:
        assert session.scalar(select(User.role).where(User.name == "vera")) == "officer"
        assert session.scalar(select(func.count(User.id))) == 1


def test_mismatched_passwords_are_asked_again(cli):
    cli("init")
    result = cli("user add carl", input="first password\nsecond password\nfirst password\nfirst password\n")
    assert "do not match" in result.output.lower() and "created" in result.output


def test_serve_runs_uvicorn_on_the_configured_address(cli, monkeypatch):
    import uvicorn

    cli("init")
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(app=app, **kwargs))
    assert "http://127.0.0.1:8000/" in cli("serve").output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8000
    # The app reads X-Forwarded-* itself, from [web] trusted_proxies only; uvicorn must not rewrite them first.
    assert seen["proxy_headers"] is False
    cli("serve --host 0.0.0.0 --port 8123")
    assert (seen["host"], seen["port"]) == ("0.0.0.0", 8123)
    assert seen["app"].state.runtime is not None


def test_serve_refuses_an_uninitialised_database(cli):
    assert "datacall init" in cli("serve", expect=1).output
