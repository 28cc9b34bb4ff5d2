"""Signing in to the pages with an API key, and what a session may and may not do.

In Debian's Chromium (Playwright) against ``telltales serve`` over a demo book, with
every request outside 127.0.0.1 refused: the pages need nothing from elsewhere.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
from playwright.sync_api import Browser
from support.browser import Visit, visit
from support.demo_book import DEMO_CONFIG
from support.pages import make_key, sign_in
from support.routes import PAGE_ROUTES
from support.server import Server, environment, start_server, stop_server, telltales


def _api(server: Server, token: str, path: str) -> httpx.Response:
    return server.http.get(path, headers={"Authorization": f"Bearer {token}"})


def _with_session(value: str) -> dict[str, str]:
    """The session cookie as a header: sent once, never kept by the client."""
    return {"Cookie": f"telltales_session={value}"}


def _client(server: Server) -> httpx.Client:
    """A client of our own, so cookies it is given stay in this test."""
    return httpx.Client(base_url=server.url, trust_env=False, timeout=10)


def test_sign_in_lists_the_at_risk_accounts_the_api_lists_and_sign_out_ends_it(
    page: Visit, served: Server, demo_db: Path, screenshots: Path
) -> None:
    token = make_key(demo_db, "--scope", "read", "--name", "maria")
    sign_in(page, served.url, token)
    assert page.page.url == f"{served.url}/accounts"
    page.screenshot(screenshots, "accounts")
    shown = page.page.locator("table.accounts tbody tr .id").all_inner_texts()
    listed = _api(served, token, "/v1/accounts?status=at_risk&limit=50&sort=score").json()["items"]
    assert shown == [item["account"]["account_id"] for item in listed]
    assert shown, "the demo book has At-Risk accounts"
    total = sum(item["account"]["arr"] for item in listed)
    assert f"{total:,.0f} ARR" in page.page.locator("p.summary").inner_text()
    assert "maria" in page.page.locator(".who").inner_text()

    cookie = next(c for c in page.context.cookies() if c["name"] == "telltales_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert token not in cookie["value"], "the browser holds a session, never the key"
    answer = served.http.get("/accounts", headers=_with_session(cookie["value"]))
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"

    page.page.click("form.sign-out button")
    page.page.wait_for_url(re.compile(r".*/sign-in$"))
    page.page.goto(f"{served.url}/accounts")
    assert "/sign-in?next=%2Faccounts" in page.page.url, "signed out: the session is over"
    again = served.http.get("/accounts", headers=_with_session(cookie["value"]))
    assert again.status_code == 303, "the old cookie opens nothing"
    assert page.refused == []
    assert page.console_errors == [], "no script or style was refused by the CSP"


PUBLIC_PAGES = {"/sign-in", "/"}
"""The sign-in form, and the front door that leads to it."""


def test_every_page_needs_a_session(served: Server) -> None:
    pages = [
        (method, path)
        for method, path, _ in PAGE_ROUTES
        if path not in PUBLIC_PAGES and not path.startswith("/static/") and method != "HEAD"
    ]
    assert ("GET", "/accounts") in pages
    assert ("GET", "/accounts/no-such-thing") in pages
    assert ("POST", "/accounts/no-such-thing/override") in pages
    assert ("POST", "/sign-out") in pages
    with _client(served) as client:
        for method, path in pages:
            answer = client.request(method, path, headers={"Origin": served.url})
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/sign-in?next="), (method, path)
            garbage = client.request(method, path, headers=_with_session("not-a-session"))
            assert garbage.status_code == 303, (method, path)


def test_a_wrong_key_is_refused_and_nothing_is_said_about_it(
    page: Visit, served: Server, screenshots: Path
) -> None:
    sign_in(page, served.url, "tt_nothere_" + "x" * 40)
    assert page.page.url.startswith(f"{served.url}/sign-in")
    alert = page.page.locator("[role=alert]").inner_text()
    assert alert.startswith("This key is unknown or revoked.")
    assert page.context.cookies() == []
    page.screenshot(screenshots, "sign-in-refused")


def test_a_group_limited_session_sees_only_its_groups(
    page: Visit, served: Server, demo_db: Path
) -> None:
    token = make_key(demo_db, "--scope", "read", "--csm-group", "emea-midmarket")
    sign_in(page, served.url, token, then="/accounts?status=all")
    owners = page.page.locator("table.accounts tbody tr td:nth-child(3)").all_inner_texts()
    assert owners, "the group has accounts"
    assert set(owners) == {"emea-midmarket"}
    page.page.goto(f"{served.url}/accounts?status=all&csm_group=na-enterprise")
    assert page.page.locator("h1").inner_text() == "Not allowed"
    assert "na-enterprise" not in page.page.locator("table").all_inner_texts().__str__()


def test_revoking_the_key_ends_its_sessions(page: Visit, served: Server, demo_db: Path) -> None:
    made = telltales(
        "--db", demo_db, "--config", DEMO_CONFIG, "keys", "create", "--scope", "read", "--json"
    )
    key = httpx.Response(200, content=made.stdout).json()
    sign_in(page, served.url, key["token"])
    assert page.page.url.endswith("/accounts")
    revoked = telltales("--db", demo_db, "keys", "revoke", key["key"]["key_id"])
    assert revoked.returncode == 0, revoked.stderr
    page.page.reload()
    assert "/sign-in?next=" in page.page.url


def test_forms_from_elsewhere_or_without_the_token_are_refused(
    served: Server, demo_db: Path
) -> None:
    token = make_key(demo_db, "--scope", "read")
    own = served.url
    with _client(served) as client:
        # Sign-in from another site (or with no origin at all) is refused: login CSRF.
        for origin in ({"Origin": "http://evil.example"}, {}):
            answer = client.post("/sign-in", data={"key": token}, headers=origin)
            assert answer.status_code == 403, origin
            assert "set-cookie" not in answer.headers
        signed = client.post("/sign-in", data={"key": token}, headers={"Origin": own})
        assert signed.status_code == 303
        session = signed.cookies["telltales_session"]
        client.cookies.clear()
        for form in ({}, {"csrf_token": "forged"}):
            refused = client.post(
                "/sign-out", data=form, headers={"Origin": own, **_with_session(session)}
            )
            assert refused.status_code == 403, form
        still = client.get("/accounts", headers=_with_session(session))
        assert still.status_code == 200, "a refused sign-out changed nothing"
        # After signing in, the next address is a path on this server, never another site.
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
            answer = client.post(
                "/sign-in", data={"key": token, "next": target}, headers={"Origin": own}
            )
            assert answer.headers["location"] == "/", target


def test_names_with_markup_are_shown_as_text(
    browser: Browser, demo_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "book.db"
    shutil.copy(demo_db, db)
    name = "<script>alert('x')</script> \"Quote\" & Co"
    records = tmp_path / "accounts.json"
    records.write_text(
        '[{"account_id": "acct-markup", "name": '
        + httpx.Response(200, json=name).text
        + ', "owner": "o", "csm_group": "g", "segment": "smb", "arr": 1000, '
        '"customer_since": "2026-01-01"}]'
    )
    ingested = telltales("--db", db, "--config", DEMO_CONFIG, "ingest", "accounts", records)
    assert ingested.returncode == 0, ingested.stderr
    server = start_server(db, "--workers", "1", env=environment(TELLTALES_CONFIG=str(DEMO_CONFIG)))
    try:
        server.wait_ready()
        token = make_key(db, "--scope", "read")
        page = visit(browser)
        dialogs: list[str] = []
        page.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        sign_in(page, server.url, token, then="/accounts?status=all&csm_group=g")
        assert page.page.locator("table.accounts .name").all_inner_texts() == [name]
        assert dialogs == []
        page.context.close()
    finally:
        stop_server(server)
