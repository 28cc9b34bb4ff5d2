"""The OpenAPI page at /schema works offline: everything it loads comes from telltales.

Issue 19: the page loaded Swagger UI's script and style from a public CDN, so with
no way out to the internet it was blank.
"""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Browser
from support.browser import visit
from support.server import Server

VENDOR = Path(__file__).parents[2] / "api" / "telltales_api" / "static" / "vendor"


def test_the_schema_page_renders_every_route_with_no_request_leaving_the_machine(
    browser: Browser, served: Server, screenshots: Path
) -> None:
    page = visit(browser)
    try:
        answer = page.page.goto(f"{served.url}/schema")
        assert answer is not None
        assert answer.status == 200
        page.page.wait_for_selector(".opblock", timeout=30_000)
        routes = page.page.locator(".opblock-summary-path").all_inner_texts()
        schema = served.http.get("/schema/openapi.json").json()
        assert "/v1/accounts" in routes
        assert len(set(routes)) == len(schema["paths"])
        assert page.refused == [], "the page asked for something outside 127.0.0.1"
        assert page.console_errors == []
        page.screenshot(screenshots, "openapi")
    finally:
        page.context.close()


def test_each_vendored_file_is_served_with_its_licence_beside_it(served: Server) -> None:
    listed = json.loads((VENDOR / "assets.json").read_text())["packages"]
    assert listed
    for package in listed:
        assert "LICENSE" in package["files"], package["name"]
        for name in package["files"]:
            local = VENDOR / package["name"] / name
            served_file = served.http.get(f"/static/vendor/{package['name']}/{name}")
            assert served_file.status_code == 200, name
            assert served_file.content == local.read_bytes(), name
            assert "max-age=3600" in served_file.headers["cache-control"]
    # Nothing outside the vendored folder is reachable through /static.
    assert served.http.get("/static/../app.py").status_code == 404
    assert served.http.get("/static/vendor/assets.json/../../../app.py").status_code == 404
