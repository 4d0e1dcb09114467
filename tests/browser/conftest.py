"""Fixtures of the browser tests: SQLite only, one chromium per test, one page in a fresh context."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def db_url(tmp_path) -> str:
    """These tests run on SQLite only: a browser adds nothing a second database would test."""
    return f"sqlite:///{tmp_path / 'datacall.db'}"


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
