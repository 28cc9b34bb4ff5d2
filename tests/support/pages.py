"""Helpers for the pages' browser tests: keys made as an admin would, and signing in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from support.browser import Visit
from support.demo_book import DEMO_CONFIG
from support.server import Server, environment, start_server, stop_server, telltales


def serve(db: Path) -> Iterator[Server]:
    """``telltales serve`` over ``db`` with the demo's configuration, until closed."""
    server = start_server(db, "--workers", "1", env=environment(TELLTALES_CONFIG=str(DEMO_CONFIG)))
    server.wait_ready()
    try:
        yield server
    finally:
        stop_server(server)


def make_key(db: Path, *options: str) -> str:
    """A new key's token, made with the CLI (``telltales keys create``)."""
    made = telltales("--db", db, "--config", DEMO_CONFIG, "keys", "create", *options)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def sign_in(page: Visit, base: str, token: str, then: str = "/") -> None:
    """Open ``then`` (which leads to the sign-in form), paste the key, submit."""
    page.page.goto(f"{base}{then}")
    page.page.wait_for_url(re.compile(r".*/sign-in\?next=.*"))
    page.page.fill("#key", token)
    page.page.click("button[type=submit]")
    page.page.wait_for_load_state()
