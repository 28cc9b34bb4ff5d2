"""The pages' tests run in a real browser against a real ``telltales serve``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.browser import browser  # noqa: F401 - the session's browser, a fixture
from support.server import Server, start_server, stop_server, telltales

SCREENSHOTS = Path(__file__).parents[2] / ".telltales" / "screenshots"
"""Where each page's picture goes: kept after the run, so a fresh clone's test run
leaves one of every page to look at."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("pages") / "book.db"
    assert telltales("--db", db, "init").returncode == 0
    server = start_server(db, "--workers", "1")
    server.wait_ready()
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
