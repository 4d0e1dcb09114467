"""Officer accounts from the web (admins only) and `datacall user list|remove`; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models import Request, User, utcnow
from tests.web_support import login, post, seed


def _id(runtime, name: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(User.id).where(User.name == name))


def flashes(client) -> str:
    return client.get("/queue/users").text


def test_only_admins_see_and_change_accounts(client, users):
    login(client, "alice")
    assert client.get("/queue/users").status_code == 403
    assert 'href="/queue/users"' not in client.get("/queue").text
    assert post(client, "/queue/users", {"name": "mallory", "password": "x" * 12, "role": "admin"}).status_code == 403
    client.post("/logout", data={})
    login(client, "ada")
    page = client.get("/queue/users").text
    assert 'href="/queue/users"' in page and "alice" in page and "vera" in page
    with users.sessions() as session:
        assert session.scalar(select(User).where(User.name == "mallory")) is None


def test_add_change_role_reset_unlock_remove(client, users):
    login(client, "ada")
    post(client, "/queue/users", {"name": "bob", "password": "bob's long password", "role": "viewer"},
         page="/queue/users")
    assert "Account bob created (viewer)." in flashes(client)
    post(client, "/queue/users", {"name": "carl", "password": "short", "role": "officer"}, page="/queue/users")
    assert "at least 10 characters" in flashes(client)
    bob = _id(users, "bob")
    post(client, f"/queue/users/{bob}/role", {"role": "officer"}, page="/queue/users")
    with users.sessions() as session, session.begin():
        user = session.get(User, bob)
        assert user.role == "officer"
        user.locked_until = utcnow() + timedelta(minutes=5)
        old_hash = user.password_hash
    assert "locked" in client.get("/queue/users").text
    post(client, f"/queue/users/{bob}/unlock", page="/queue/users")
    with users.sessions() as session:
        assert session.get(User, bob).locked_until is None
    post(client, f"/queue/users/{bob}/password", {"password": "a brand new password"}, page="/queue/users")
    with users.sessions() as session:
        assert session.get(User, bob).password_hash != old_hash
    # The new password works, the old one no longer does.
    from starlette.testclient import TestClient
    with TestClient(client.app) as other:
        assert login(other, "bob", "bob's long password").status_code == 400
        assert login(other, "bob", "a brand new password").status_code == 303
    post(client, f"/queue/users/{bob}/remove", page="/queue/users")
    assert "Tick the confirmation to remove bob." in flashes(client)
    post(client, f"/queue/users/{bob}/remove", {"sure": "yes"}, page="/queue/users")
    assert "Account bob removed." in flashes(client)
    with users.sessions() as session:
        assert session.get(User, bob) is None


def test_the_last_admin_stays_and_nobody_removes_themselves(client, users):
    login(client, "ada")
    ada = _id(users, "ada")
    post(client, f"/queue/users/{ada}/role", {"role": "viewer"}, page="/queue/users")
    assert "last admin" in flashes(client)
    post(client, f"/queue/users/{ada}/remove", {"sure": "yes"}, page="/queue/users")
    assert "your own account" in flashes(client)
    with users.sessions() as session:
        assert session.get(User, ada).role == "admin"


def test_removing_an_officer_frees_their_requests(client, users):
    ids = seed(users)
    alice = _id(users, "alice")
    with users.sessions() as session, session.begin():
        session.get(Request, ids["velo_request"]).assignee_id = alice
    login(client, "ada")
    post(client, f"/queue/users/{alice}/remove", {"sure": "yes"}, page="/queue/users")
    with users.sessions() as session:
        assert session.get(Request, ids["velo_request"]).assignee_id is None


def test_user_list_and_remove_on_the_command_line(cli, sessions):
    cli("init")
    cli("user add root --role admin --password-stdin", input="root password!\n")
    cli("user add olga --password-stdin", input="olga password!\n")
    listed = cli("user list").output
    assert "olga\tofficer\tactive\tlast login never" in listed and "root\tadmin" in listed
    assert "nothing removed" in cli("user remove olga", input="n\n", expect=1).output
    assert "user olga removed" in cli("user remove olga", input="y\n").output
    assert "no user 'olga'" in cli("user remove olga --yes", expect=2).output
    assert "last admin" in cli("user remove root --yes", expect=2).output
    with sessions() as session:
        assert [u.name for u in session.scalars(select(User))] == ["root"]
