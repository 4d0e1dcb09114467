"""The campaign note in a real browser (Debian's chromium via Playwright): its charts load under the strict CSP."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.support import served
from tests.test_report import SLUG, build_campaign


def test_note_page_shows_every_chart_and_breaks_no_content_policy(cli, config_file, sessions, page):
    cli("init")
    with sessions() as session, session.begin():
        build_campaign(session)
    refused = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    with served(config_file) as base:
        page.goto(f"{base}/campaigns/{SLUG}")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Publication note")
        images = page.locator("article.note img")
        expect(images).to_have_count(6)
        for index in range(6):
            image = images.nth(index)
            image.scroll_into_view_if_needed()
            expect(image).to_be_visible()
            assert image.evaluate("img => img.complete && img.naturalWidth > 0"), image.get_attribute("src")
        assert page.evaluate("document.scripts.length") == 0
    assert refused == []
