"""A real browser for the pages' tests: Debian's Chromium, driven by Playwright.

Playwright's own browser download does not work here, so the tests drive the
Chromium of the operating system (``apt-get install chromium``; ``.ci/run`` installs
it where it is missing). Without it, the browser tests are skipped on a developer's
machine, with how to install it, and fail in CI (``CI`` set), where a skip would hide
them.

Every page is loaded with the network closed but for 127.0.0.1: a request for
anything else is refused and recorded, so a test can say the page needed nothing
from outside (no CDN, no font service, no validator badge).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Without the background-networking flags, Chromium keeps trying to reach its
vendor's services, which this machine's closed network refuses."""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch_browser() -> Iterator[Browser]:
    """Debian's Chromium, launched once; without it, skip (or fail in CI) with how to
    install it."""
    path = chromium_path()
    if path is None:
        message = "no Chromium: install it with `apt-get install chromium` (Debian)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=list(FLAGS))
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Visit:
    """A browser context and its page, with every request refused for leaving 127.0.0.1."""

    context: BrowserContext
    page: Page
    refused: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def screenshot(self, folder: Path, name: str) -> Path:
        path = folder / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path


def visit(browser: Browser) -> Visit:
    """A fresh context (no cookies) whose page may reach only 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    found = Visit(context=context, page=page)

    def guard(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", None) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            found.refused.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page.on(
        "console",
        lambda message: (
            found.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    return found
