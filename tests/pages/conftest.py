"""The pages' tests run in a real browser against a real ``telltales serve``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from support.browser import Visit, launch_browser, visit
from support.demo_book import build_book
from support.pages import serve
from support.server import Server
from telltales.demo.replay import DemoOptions

SCREENSHOTS = Path(__file__).parents[2] / ".telltales" / "screenshots"
"""Where each page's picture goes: kept after the run, so a fresh clone's test run
leaves one of every page to look at."""
BOOK = DemoOptions(accounts=60, days=154, seed=5, end=date(2026, 11, 20))


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo book, built once for every page test (copied before any change)."""
    path = tmp_path_factory.mktemp("pages-book") / "demo.db"
    build_book(path, BOOK)
    return path


@pytest.fixture(scope="module")
def served(demo_db: Path) -> Iterator[Server]:
    """``telltales serve`` over the demo book (read-mostly tests share it)."""
    yield from serve(demo_db)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one module's tests. Not for the whole session: Playwright's sync API
    holds an event loop on the main thread while it runs, and later tests that start
    their own loop (asyncio.run) would fail."""
    yield from launch_browser()


@pytest.fixture
def page(browser: Browser) -> Iterator[Visit]:
    """A fresh browser context (no cookies) and its page, closed after the test."""
    opened = visit(browser)
    try:
        yield opened
    finally:
        opened.context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
