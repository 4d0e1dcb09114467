"""Fixtures and helpers shared by the web tests (no tests here): an app on each database, seeded rows."""

from __future__ import annotations

import re
import warnings

import pytest
from sqlalchemy import func, select

with warnings.catch_warnings():  # starlette asks for `httpx2`; the httpx it still supports is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from bot.config import load_config
from bot.pipeline.route import open_request
from bot.runtime import Runtime
from bot.web import create_app
from bot.web.accounts import create_user
from storage.models import Campaign, Message, Requester, utcnow
from tests.databases import bring_to_head

PASSWORD = "correct horse battery"
XSS = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """Argon2 at its lowest cost: a third of a second per hash adds up over a hundred logins."""
    from argon2 import PasswordHasher

    from bot.web import accounts

    monkeypatch.setattr(accounts, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def runtime(config_file, db_url, request):
    bring_to_head(db_url, request)
    rt = Runtime.from_config(load_config(config_file), say=lambda text: None)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime):
    return create_app(runtime)


@pytest.fixture
def client(app):
    with TestClient(app, headers={"Accept-Language": "en"}) as test_client:
        yield test_client


@pytest.fixture
def users(runtime):
    with runtime.sessions() as session, session.begin():
        for name, role in (("alice", "officer"), ("vera", "viewer"), ("ada", "admin")):
            create_user(session, name, PASSWORD, role)
    return runtime


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def login(client: TestClient, name: str = "alice", password: str = PASSWORD):
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                       follow_redirects=False)


def post(client: TestClient, path: str, data: dict | None = None, *, page: str = "/queue", **kwargs):
    """A form post as the browser makes it: with the CSRF token read from a page."""
    token = csrf_of(client.get(page).text)
    return client.post(path, data={**(data or {}), "csrf_token": token}, follow_redirects=False, **kwargs)


def add_message(session, handle: str, text: str, *, network: str = "sandbox", lang: str = "en",
                label: str = "data_request", score: float = 0.9, needs_review: bool = False,
                campaign: Campaign | None = None, consented: bool = False, external_id: str | None = None,
                url: str | None = None) -> Message:
    requester = session.scalar(
        select(Requester).where(Requester.network == network, Requester.external_user_id == f"u-{handle}")
    )
    if requester is None:
        requester = Requester(network=network, external_user_id=f"u-{handle}", handle=handle, lang=lang,
                              consented_public=consented)
        session.add(requester)
        session.flush()
    stored = session.scalar(select(func.count()).select_from(Message))
    message = Message(
        network=network, external_id=external_id or f"{handle}-{stored + 1}",
        requester_id=requester.id, campaign_id=campaign.id if campaign else None, text=text, lang=lang,
        url=url, label=label, score=score, needs_review=needs_review, classified_at=utcnow(),
    )
    session.add(message)
    session.flush()
    return message


def seed(runtime) -> dict[str, int]:
    """Two requests from two requesters (one in the uncertain band), an off-topic message, a campaign."""
    writer = runtime.reply_writer()
    with runtime.sessions() as session, session.begin():
        campaign = Campaign(slug="2027-q1", title="First quarter call", call_text="Which data?")
        session.add(campaign)
        session.flush()
        velo = add_message(session, "@camille_velo", "Publiez les comptages vélo par heure svp", lang="fr",
                           campaign=campaign, url="https://social.example/@camille_velo/1")
        canteen = add_message(session, "@parent_b", f"Please publish school canteen menus {XSS}",
                              campaign=campaign)
        unsure = add_message(session, "@maybe_max", "Where are the bus stop timetables?", score=0.55,
                             needs_review=True, campaign=campaign)
        bins = add_message(session, "@grumpy_joe", "The bins on my street were not emptied", label="off_topic",
                           score=0.1)
        for message in (velo, canteen):
            message.routed_at = utcnow()
            open_request(session, message, writer=writer)
        bins.routed_at = utcnow()
        return {"velo": velo.id, "canteen": canteen.id, "unsure": unsure.id, "bins": bins.id,
                "velo_request": velo.request_id, "canteen_request": canteen.request_id}
