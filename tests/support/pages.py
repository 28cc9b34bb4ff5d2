"""Helpers for the pages' browser tests: keys made as an admin would, and signing in."""

from __future__ import annotations

import re
from pathlib import Path

from support.browser import Visit
from support.demo_book import DEMO_CONFIG
from support.server import telltales


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
