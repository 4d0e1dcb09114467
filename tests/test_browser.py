"""End to end in a real browser: Debian's chromium, driven by Playwright, against uvicorn on SQLite.

An officer logs in, reviews the queue, merges two requests, publishes the
dataset; `datacall run --once` then answers both requesters on the sandbox
network. The screenshots in docs/ come from this test (DATACALL_SCREENSHOTS=docs). Chromium missing is a
failure, never a skip.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from bot.config import load_config
from bot.demo.scenario import sample_messages
from bot.networks.sandbox import timeline
from bot.runtime import Runtime
from bot.web import create_app
from storage.models import Message, Requester
from tests.helpers import call_entry_id, citizens_reply

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# The committed screenshots are refreshed only on request (DATACALL_SCREENSHOTS=docs),
# so an ordinary test run leaves the work tree clean.
DOCS = (
    Path(__file__).resolve().parents[1] / "docs"
    if os.environ.get("DATACALL_SCREENSHOTS") == "docs"
    else Path(tempfile.mkdtemp(prefix="datacall-screenshots-"))
)
PASSWORD = "a long officer password"
DATASET = "https://data.example.org/datasets/school-canteen-menus"
TREES = "https://data.example.org/datasets/street-trees"


@pytest.fixture
def db_url(tmp_path) -> str:
    """These tests run on SQLite only: a browser adds nothing a second database would test."""
    return f"sqlite:///{tmp_path / 'datacall.db'}"


@contextmanager
def served(config_file: Path) -> Iterator[str]:
    """The web app in a real uvicorn server, on a free port of 127.0.0.1, in a thread."""
    runtime = Runtime.from_config(load_config(config_file), say=lambda text: None)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        runtime.close()


@pytest.fixture
def browser():
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (browser tests never skip)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def replay_the_demo_citizens(cli, sessions) -> dict[str, Message]:
    """A posted call, the demo's twenty citizen replies, one pass of the loop: requests and acknowledgements."""
    cli("init")
    cli("campaign create 2027-q1 --title 'Spring 2027 call for data'")
    cli("campaign post 2027-q1")
    cli("run --once")
    samples = sample_messages()
    citizens_reply(sessions, to=call_entry_id(sessions), citizens=[(s["handle"], s["text"]) for s in samples])
    cli("run --once")
    cli("user add alice --role officer --password-stdin", input=PASSWORD + "\n")
    with sessions() as session, session.begin():
        messages = {m.requester.handle: m for m in session.scalars(select(Message).join(Requester))}
        # One message in the classifier's uncertain band, as the review band would leave it.
        borderline = min(messages.values(), key=lambda m: abs((m.score or 0) - 0.5))
        borderline.needs_review = True
    return messages


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fqueue$"))
    page.get_by_label("Name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Decision queue")).to_be_visible()


def test_officer_merges_and_publishes_and_both_requesters_hear_of_it(cli, config_file, sessions, browser, page):
    messages = replay_the_demo_citizens(cli, sessions)
    canteen = [s["handle"] for s in sample_messages() if s.get("pair") == "canteen"]
    first, second = (messages[handle] for handle in canteen)
    assert first.request_id and second.request_id, "the classifier should open both canteen requests"
    DOCS.mkdir(exist_ok=True)

    with served(config_file) as base:
        log_in(page, base)
        expect(page.get_by_text("Needs review").first).to_be_visible()
        page.screenshot(path=str(DOCS / "screenshot-queue.png"))

        # Merge the English canteen request into the French one, from its item in the queue.
        item = page.locator("article", has=page.get_by_role("heading", name=f"Message #{second.id}", exact=True))
        item.get_by_text(f"Merge or set the status of request #{second.request_id}").click()
        item.get_by_label(f"Merge request #{second.request_id} into request #").fill(str(first.request_id))
        item.get_by_role("button", name="Merge", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text(
            f"Request #{second.request_id} merged into #{first.request_id}; 1 reply(ies) queued.")

        # Publish the surviving request, after previewing the replies in both languages.
        page.goto(f"{base}/queue/requests/{first.request_id}")
        expect(page.get_by_role("heading", name="2 supporting messages")).to_be_visible()
        page.get_by_label("New status").select_option("published")
        page.get_by_label("Public answer").fill("Menus for every school, updated each week.")
        page.get_by_label("Dataset link").fill(DATASET)
        page.get_by_role("button", name="Preview the replies").click()
        expect(page.get_by_text("2 people will be told.")).to_be_visible()
        expect(page.locator("blockquote[lang=fr]")).to_contain_text("C'est publié !")
        expect(page.locator("blockquote[lang=en]")).to_contain_text(DATASET)
        page.screenshot(path=str(DOCS / "screenshot-request.png"), full_page=True)
        page.get_by_role("button", name="Set status Published and send 2 reply(ies)").click()
        expect(page.get_by_role("status")).to_contain_text("is now Published; 2 reply(ies) queued.")

        cli("run --once")
        page.reload()
        expect(page.locator(".delivery-sent")).to_have_count(5)  # 2 acknowledgements, 1 merge, 2 published

        # A few more decisions, from the command line, so the dashboard shows what the public sees.
        for handle, decision in (("@transit_tom", "accepted --answer 'GTFS-realtime feed planned for June.'"),
                                 ("@geo_margaux", f"already_available --url {TREES}")):
            if messages[handle].request_id:
                cli(f"request set-status {messages[handle].request_id} {decision} --actor bob")

        public = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB").new_page()
        public.goto(f"{base}/")
        card = public.locator("li.card", has=public.get_by_role("link", name=re.compile(f"^#{first.request_id} ")))
        expect(card).to_contain_text("Published")
        expect(card).to_contain_text("2 supporters")
        expect(public.get_by_role("link", name=re.compile(f"^#{second.request_id} "))).to_have_count(0)
        expect(public.get_by_role("link", name="Log in")).to_be_visible()
        public.screenshot(path=str(DOCS / "screenshot-dashboard.png"), full_page=True)
        assert "@parents_ecole_nord" not in public.content() and "bob" not in public.content()
        public.context.close()

    with sessions() as session:
        published = {e.in_reply_to_id: e.text for e in timeline(session, from_bot=True) if DATASET in e.text}
    assert set(published) == {int(first.external_id), int(second.external_id)}
    assert published[int(first.external_id)].startswith("C'est publié !")
    assert published[int(second.external_id)].startswith("It's published!")


def test_keyboard_and_phone(cli, config_file, sessions, browser):
    """The skip link comes first, login works from the keyboard, pages fit a phone, bulk actions work."""
    messages = replay_the_demo_citizens(cli, sessions)
    unsure = next(m for m in messages.values() if m.needs_review)
    with served(config_file) as base:
        phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="fr-FR", is_mobile=True)
        page = phone.new_page()
        page.goto(f"{base}/")
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_text("Aller au contenu")
        page.goto(f"{base}/login")
        page.keyboard.type("alice")  # the name field has the focus
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1, name="File de décision")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # Bulk: the checkboxes sit in the list, outside the bulk form, tied to it by their form attribute.
        page.get_by_label(f"Sélectionner le message n°{unsure.id}", exact=True).check()
        page.get_by_label("Action").select_option("off_topic")
        page.get_by_role("button", name="Appliquer").click()
        expect(page.get_by_role("status")).to_have_text("1 message classé hors sujet.")
        phone.close()
    with sessions() as session:
        decided = session.get(Message, unsure.id)
        assert decided.label == "off_topic" and not decided.needs_review
