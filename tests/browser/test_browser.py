"""End to end in a real browser: Debian's chromium, driven by Playwright, against uvicorn on SQLite.

An officer logs in, reviews the queue, merges two requests, publishes the
dataset; `datacall run --once` then answers both requesters on the sandbox
network. The screenshots in docs/ come from this test (DATACALL_SCREENSHOTS=docs). Chromium missing is a
failure, never a skip.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from bot.demo.scenario import sample_messages
from bot.networks.sandbox import timeline
from storage.models import Message, Request, Requester, Suggestion
from tests.browser.support import served
from tests.helpers import call_entry_id, citizens_reply

# The committed screenshots are refreshed only on request (DATACALL_SCREENSHOTS=docs),
# so an ordinary test run leaves the work tree clean.
DOCS = (
    Path(__file__).resolve().parents[2] / "docs"
    if os.environ.get("DATACALL_SCREENSHOTS") == "docs"
    else Path(tempfile.mkdtemp(prefix="datacall-screenshots-"))
)
PASSWORD = "a long officer password"
DATASET = "https://data.example.org/datasets/school-canteen-menus"
TREES = "https://data.example.org/datasets/street-trees"


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

        # Merge the English canteen request into the French one, from its line in the queue, expanded in place.
        item = page.locator(f'li.qrow[data-message="{second.id}"]')
        item.locator("summary").click()
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

        # The public reads "Request #N" until an officer approves a title.
        page.get_by_label("Title shown to the public").fill("School canteen menus")
        page.get_by_role("button", name="Save the title").click()
        expect(page.get_by_role("status")).to_contain_text("School canteen menus")

        # A few more decisions, from the command line, so the dashboard shows what the public sees.
        for handle, decision in (("@transit_tom", "accepted --answer 'GTFS-realtime feed planned for June.'"),
                                 ("@geo_margaux", f"already_available --url {TREES}")):
            if messages[handle].request_id:
                cli(f"request set-status {messages[handle].request_id} {decision} --actor bob")

        public = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB").new_page()
        public.goto(f"{base}/")
        card = public.locator("li.card", has=public.get_by_role("link", name=re.compile(f"^#{first.request_id} ")))
        expect(card).to_contain_text("School canteen menus")
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
        # The name field takes the focus by itself (autofocus, applied once the page has rendered).
        expect(page.get_by_label("Nom", exact=True)).to_be_focused()
        page.keyboard.type("alice")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1, name="File de décision")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # Bulk: the checkboxes sit in the list, outside the bulk form, tied to it by their form attribute;
        # the bar appears once something is checked, and shows what will happen before it happens.
        expect(page.locator(".bulkbar")).to_be_hidden()
        page.get_by_label(f"Sélectionner le message n°{unsure.id}", exact=True).check()
        expect(page.locator(".bulkbar")).to_be_visible()
        page.get_by_label("Action").select_option("off_topic")
        page.get_by_role("button", name="Prévisualiser").click()
        expect(page.get_by_text("1 message sera classé hors sujet.")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.get_by_role("button", name="Appliquer à 1 élément").click()
        expect(page.get_by_role("status")).to_have_text("1 message classé hors sujet.")
        phone.close()
    with sessions() as session:
        decided = session.get(Message, unsure.id)
        assert decided.label == "off_topic" and not decided.needs_review


def test_compact_queue_shows_a_dozen_lines_and_the_bulk_bar_beside_them(cli, config_file, sessions, browser):
    """At 1366x900, at least 12 lines fit without scrolling; checking one shows the bulk bar next to the list."""
    messages = replay_the_demo_citizens(cli, sessions)
    first, second = (messages[s["handle"]] for s in sample_messages() if s.get("pair") == "canteen")
    with sessions() as session, session.begin():
        # What the suggest step stores for a pair it recognises (the matcher misses this FR/EN paraphrase).
        session.add(Suggestion(request_id=second.request_id, kind="duplicate", target=f"request:{first.request_id}",
                               score=0.8))
    with served(config_file) as base:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        page = context.new_page()
        log_in(page, base)
        page.goto(f"{base}/queue?scope=all")
        rows = page.locator("li.qrow")
        assert rows.count() >= 12
        visible = page.evaluate(
            "[...document.querySelectorAll('li.qrow')]"
            ".filter(r => r.getBoundingClientRect().bottom <= innerHeight).length"
        )
        assert visible >= 12, f"only {visible} queue lines fit in 1366x900"
        tops = page.evaluate("[...document.querySelectorAll('form.filters > :is(select, input, button)')]"
                             ".map(e => e.getBoundingClientRect().top)")
        assert len(tops) >= 10 and max(tops) - min(tops) < 10, "the filters sit in one row"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        expect(page.locator(".bulkbar")).to_be_hidden()
        rows.nth(0).locator("input[type=checkbox]").check()
        rows.nth(2).locator("input[type=checkbox]").check()
        bar, listing = page.locator(".bulkbar").bounding_box(), page.locator("#qlist").bounding_box()
        assert bar["x"] >= listing["x"] + listing["width"] and bar["y"] < 400, "the bulk bar sits beside the list"
        expect(page.get_by_label("Action")).to_have_value("")  # no default action
        rows.nth(1).locator("summary").click()  # one line opens in place, the others stay lines
        expect(rows.nth(1).locator(".qbody")).to_be_visible()
        expect(rows.nth(3).locator(".qbody")).to_be_hidden()
        page.screenshot(path=str(DOCS / "screenshot-queue.png"))

        # The two canteen requests: "possible duplicate → Merge", one click from the line,
        # opens the preview of what will be sent; only its button sends.
        line = page.locator(f'li.qrow[data-message="{second.id}"]')
        expect(line.locator("summary")).to_contain_text("possible duplicate")
        line.locator("summary").click()
        line.get_by_role("link", name="→ Merge").click()
        expect(page.get_by_role("heading", name="Replies for status Duplicate")).to_be_visible()
        expect(page.locator("blockquote[lang=en]")).to_contain_text(f"#{first.request_id}")
        page.get_by_role("button", name=re.compile("^Set status Duplicate and send 1 reply")).click()
        expect(page.get_by_role("status")).to_contain_text("is now Duplicate")
        page.goto(f"{base}/queue/requests/{first.request_id}")
        expect(page.get_by_role("heading", name="2 supporting messages")).to_be_visible()
        context.close()


def test_keyboard_shortcuts_and_the_queue_without_javascript(cli, config_file, sessions, browser):
    """j/k move, x checks, o opens, from the app's own script under script-src 'self'; without it all still works."""
    replay_the_demo_citizens(cli, sessions)
    with served(config_file) as base:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
        page = context.new_page()
        errors = []
        page.on("console", lambda message: errors.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        log_in(page, base)
        expect(page.locator("#keys-hint")).to_be_visible()
        expect(page.get_by_role("button", name="Check the whole page")).to_be_visible()  # before any line is checked
        rows = page.locator("li.qrow")
        page.keyboard.press("j")
        page.keyboard.press("j")
        expect(rows.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
        page.keyboard.press("x")
        expect(rows.nth(1).locator("input[type=checkbox]")).to_be_checked()
        expect(page.locator(".bulkbar")).to_be_visible()
        page.keyboard.press("o")
        expect(rows.nth(1).locator(".qbody")).to_be_visible()
        page.keyboard.press("k")
        expect(rows.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
        page.keyboard.press("o")
        expect(rows.nth(0).locator(".qbody")).to_be_visible()
        # Typing in a field is typing, not a shortcut.
        page.get_by_label("Search the text").fill("jkxo")
        expect(rows.nth(2).locator("input[type=checkbox]")).not_to_be_checked()
        # The whole page checked in one click, then none: a page of chatter is one bulk decision.
        boxes = page.locator("li.qrow input[type=checkbox]")
        assert boxes.count() > 2
        page.get_by_role("button", name="Check the whole page").click()
        for n in range(boxes.count()):
            expect(boxes.nth(n)).to_be_checked()
        page.get_by_role("button", name="Uncheck all").click()
        for n in range(boxes.count()):
            expect(boxes.nth(n)).not_to_be_checked()
        boxes.nth(0).check()  # by hand, one line: the button offers the whole page again
        expect(page.get_by_role("button", name="Check the whole page")).to_be_visible()
        assert not errors, errors  # no policy violation, no script error
        context.close()

        bare = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB", java_script_enabled=False)
        page = bare.new_page()
        log_in(page, base)
        expect(page.locator("#keys-hint")).to_be_hidden()
        expect(page.locator("#check-page")).to_be_hidden()
        line = page.locator("li.qrow").nth(0)
        line.locator("summary").click()
        expect(line.locator(".qbody")).to_be_visible()
        line.locator("input[type=checkbox]").check()
        page.get_by_label("Action").select_option("off_topic")
        page.get_by_role("button", name="Preview").click()
        expect(page.get_by_text("1 message will be marked off-topic.")).to_be_visible()
        bare.close()


def test_dashboard_charts_and_a_390_pixel_phone_with_long_words(cli, config_file, sessions, browser):
    """Charts drawn on the server, and no sideways scrolling at 390 px, even with a 60-letter word in a title."""
    messages = replay_the_demo_citizens(cli, sessions)
    long_word = "Donnéesouvertesdesrégistresdestationnementrésidentieldétaillé" * 2
    request_id = next(m.request_id for m in messages.values() if m.request_id)
    with sessions() as session, session.begin():
        session.get(Request, request_id).public_title = f"Open {long_word} please"  # an approved title
        session.get(Request, request_id).answer = "See https://data.example.org/" + "x" * 80
    with served(config_file) as base:
        phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB", is_mobile=True)
        page = phone.new_page()
        for path in ("/", f"/requests/{request_id}", f"/?q={long_word[:20]}"):
            page.goto(f"{base}{path}")
            expect(page.get_by_text(long_word[:30]).first).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        page.goto(f"{base}/")
        expect(page.locator("svg.chart")).to_have_count(2)
        assert page.locator("svg.chart").first.bounding_box()["width"] <= 390
        page.screenshot(path=str(DOCS / "screenshot-phone.png"), full_page=True)
        phone.close()

        wide = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB").new_page()
        wide.goto(f"{base}/")
        expect(wide.get_by_role("img", name="Requests per status, per campaign")).to_be_visible()
        with wide.expect_download() as download:
            wide.get_by_role("link", name="requests.csv").click()
        assert download.value.suggested_filename == "requests.csv"
        expect(wide.get_by_role("link", name="publication note").first).to_have_attribute("href", "/campaigns/2027-q1")
        wide.reload()
        expect(wide.get_by_text(re.compile(r"file of \d{4}-"))).to_be_visible()
        wide.screenshot(path=str(DOCS / "screenshot-dashboard.png"), full_page=True)
        wide.context.close()


def test_an_admin_manages_accounts_in_the_browser(cli, config_file, sessions, browser, page):
    cli("init")
    cli("user add root --role admin --password-stdin", input=PASSWORD + "\n")
    cli("user add alice --role officer --password-stdin", input=PASSWORD + "\n")
    with served(config_file) as base:
        page.goto(f"{base}/login")
        page.get_by_label("Name").fill("root")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Accounts").click()
        add = page.locator("section", has=page.get_by_role("heading", name="Add an account"))
        add.get_by_label("Name").fill("bruno")
        add.get_by_label("Role").select_option("viewer")
        add.get_by_label("Password").fill("bruno's own password")
        add.get_by_role("button", name="Add").click()
        expect(page.get_by_role("status")).to_have_text("Account bruno created (viewer).")
        page.get_by_label("Role of bruno").select_option("officer")
        page.get_by_role("row", name=re.compile("^bruno")).get_by_role("button", name="Change role").click()
        expect(page.get_by_role("status")).to_have_text("bruno is now officer.")
        page.get_by_text("Remove alice").first.click()
        page.get_by_label("I confirm: remove the account alice").check()
        page.get_by_role("button", name="Remove alice").click()
        expect(page.get_by_role("status")).to_have_text("Account alice removed.")
        page.screenshot(path=str(DOCS / "screenshot-accounts.png"), full_page=True)
    assert "bruno\tofficer\tactive" in cli("user list").output
