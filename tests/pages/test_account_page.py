"""The account page, in Debian's Chromium against a real ``telltales serve``.

Opened from the list, it shows the figures ``GET /v1/accounts/{id}/health`` gives for
the same account; an override set on it moves the status on the page and in the API;
a forged form, a read-only key and another group's session are refused. The module
serves its own copy of the demo book (overrides change it), with an account whose
name is markup.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import Visit
from support.demo_book import DEMO_CONFIG
from support.pages import make_key, serve, sign_in
from support.server import Server, telltales

MARKUP = "<script>alert('x')</script> \"Quote\" & Co"
MARKUP_ID = "acct-markup"


@pytest.fixture(scope="module")
def book(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo book, with one more account named with markup."""
    db = tmp_path_factory.mktemp("account-page") / "book.db"
    shutil.copy(demo_db, db)
    records = db.parent / "accounts.json"
    records.write_text(
        httpx.Response(
            200,
            json=[
                {
                    "account_id": MARKUP_ID,
                    "name": MARKUP,
                    "owner": "o",
                    "csm_group": "g",
                    "segment": "smb",
                    "arr": 1000,
                    "customer_since": "2026-01-01",
                }
            ],
        ).text
    )
    ingested = telltales("--db", db, "--config", DEMO_CONFIG, "ingest", "accounts", records)
    assert ingested.returncode == 0, ingested.stderr
    return db


@pytest.fixture(scope="module")
def served(book: Path) -> Iterator[Server]:
    """The server over this module's own book."""
    yield from serve(book)


def _api(served: Server, token: str, path: str) -> Any:
    answer = served.http.get(path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _session(page: Visit) -> dict[str, str]:
    """The browser's session cookie, to post as the browser would (but with our form)."""
    cookie = next(c for c in page.context.cookies() if c["name"] == "telltales_session")
    return {"Cookie": f"telltales_session={cookie['value']}"}


def _csrf(page: Visit) -> str:
    token = page.page.locator("form.sign-out input[name=csrf_token]").get_attribute("value")
    assert token
    return token


def _words(text: str, count: int = 16) -> str:
    words = text.split()
    return " ".join(words) if len(words) <= count else " ".join(words[:count]) + " …"


def test_an_account_opened_from_the_list_shows_the_apis_figures(
    page: Visit, served: Server, book: Path, screenshots: Path
) -> None:
    token = make_key(book, "--scope", "read")
    sign_in(page, served.url, token)
    row = page.page.locator("table.accounts tbody tr").first
    account_id = row.locator(".id").inner_text()
    health = _api(served, token, f"/v1/accounts/{account_id}/health")
    action = health["next_action"]
    assert row.locator(".why-words").inner_text() == _words(action["why"])
    assert row.locator(".why-words").get_attribute("title") == action["why"]
    assert row.locator(".next-words").inner_text() == _words(action["action"])

    with page.page.expect_navigation():
        row.locator("a.name").click()
    assert page.page.url == f"{served.url}/accounts/{account_id}"
    shown = page.page.locator
    assert shown("h1 .name").inner_text() == health["account"]["name"]
    assert shown(".headline .status").inner_text() == health["status"]["label"]
    assert shown(".headline .grade").inner_text() == health["score"]["label"]
    assert shown(".headline .score").inner_text() == f"{health['score']['value']:.1f}"
    assert shown(".next-action").inner_text() == action["action"]
    assert shown(".why").inner_text() == action["why"]
    breakdown = health["score"]["breakdown"]
    assert shown("table.evidence tbody tr").count() == len(breakdown)
    for line in breakdown:
        measure = shown(f'table.evidence tr[data-measure="{line["measure"]}"]')
        value = "none" if line["value"] is None else f"{line['value']:.4g}"
        assert measure.locator(".value").inner_text() == value, line["measure"]
        points = "none" if line["points"] is None else f"{line['points']:g}"
        assert measure.locator(".points").inner_text() == points, line["measure"]
        assert measure.locator(".evidence-text").inner_text() == line["evidence"].strip()
    components = list(dict.fromkeys(line["component"] for line in breakdown))
    assert [
        h.split(" ")[0] for h in shown("#evidence-heading ~ h3.dimension").all_inner_texts()
    ] == components
    account = health["account"]
    assert shown(".renewal-date").inner_text() == (account["renewal_date"] or "unknown")
    assert shown("dd.arr").inner_text() == f"{account['arr']:,.0f}"

    # The chart: the score's line and a mark for each status change in its period.
    assert shown("svg.chart path.line.score").count() == 1
    transitions = _api(served, token, f"/v1/accounts/{account_id}/transitions")["items"]
    assert shown("ol.timeline li").count() == len(transitions)
    assert shown("ol.timeline li").first.locator(".day").inner_text() == transitions[-1]["as_of"]
    assert shown("svg.chart line.mark").count() >= 1, "an At-Risk account changed status"
    signals = _api(served, token, f"/v1/accounts/{account_id}/signals")["signals"]
    assert shown("table.signals tbody tr").count() == len(signals)
    assert shown("table.signals svg.spark").count() == len(signals)
    assert shown("form.override").count() == 0, "a read key sees no override form"
    page.screenshot(screenshots, "account")

    answer = served.http.get(f"/accounts/{account_id}", headers=_session(page))
    assert answer.headers["cache-control"] == "no-store"
    assert "style-src 'self'" in answer.headers["content-security-policy"]
    assert page.refused == []
    assert page.console_errors == [], "nothing was refused by the CSP"

    # A read-only key may not post an override, even with its session's own token.
    refused = served.http.post(
        f"/accounts/{account_id}/override",
        data={"csrf_token": _csrf(page), "status": "healthy", "reason": "r", "until": "2030-01-01"},
        headers={**_session(page), "Origin": served.url},
    )
    assert refused.status_code == 403
    assert "lacks the &#39;act&#39; scope" in refused.text
    again = _api(served, token, f"/v1/accounts/{account_id}/health")
    assert again["status"] == health["status"], "nothing was recorded"


def test_an_override_set_on_the_page_moves_the_status_here_and_in_the_api(
    page: Visit, served: Server, book: Path, screenshots: Path
) -> None:
    token = make_key(book, "--scope", "read", "--scope", "act", "--name", "maria")
    listed = _api(served, token, "/v1/accounts?status=at_risk&sort=score&limit=1")["items"]
    account_id = listed[0]["account"]["account_id"]
    sign_in(page, served.url, token, then=f"/accounts/{account_id}")
    assert page.page.locator(".headline .status").get_attribute("data-status") == "at_risk"
    action = f"/accounts/{account_id}/override"
    last_day = (date.today() + timedelta(days=30)).isoformat()

    # Refused: no token, a forged one, then each required field missing or wrong.
    good = {"csrf_token": _csrf(page), "status": "healthy", "reason": "renewal signed"}
    headers = {**_session(page), "Origin": served.url}
    for form in ({**good, "csrf_token": ""}, {**good, "csrf_token": "forged"}):
        answer = served.http.post(action, data={**form, "until": last_day}, headers=headers)
        assert answer.status_code == 403, form
    for form, field in (
        ({**good, "reason": "  "}, "reason:"),
        ({**good, "until": ""}, "until:"),
        ({**good, "until": "soon"}, "until:"),
        ({**good, "until": "2020-01-01"}, "until:"),
        ({**good, "status": "fine"}, "status:"),
    ):
        answer = served.http.post(action, data={"until": last_day, **form}, headers=headers)
        assert answer.status_code == 422, form
        assert re.search(rf'role="alert">{field}', answer.text), (form, answer.text[-800:])
    health = _api(served, token, f"/v1/accounts/{account_id}/health")
    assert health["status"]["status"] == "at_risk", "nothing refused was recorded"

    page.page.select_option("form.override select[name=status]", "healthy")
    page.page.fill("form.override input[name=reason]", "renewal signed, usage is seasonal")
    page.page.fill("form.override input[name=until]", last_day)
    with page.page.expect_navigation():
        page.page.click("form.override button")
    assert page.page.url == f"{served.url}/accounts/{account_id}"
    assert page.page.locator(".headline .status").get_attribute("data-status") == "healthy"
    assert "renewal signed, usage is seasonal" in page.page.locator("table.overrides").inner_text()
    assert page.page.locator("ol.timeline li").first.locator(".cause").inner_text() == "override"
    health = _api(served, token, f"/v1/accounts/{account_id}/health")
    assert health["status"]["status"] == "healthy"
    assert health["status"]["transition"]["cause"] == "override"
    assert "maria" in health["status"]["transition"]["evidence"]
    assert page.page.locator(".headline .status").inner_text() == health["status"]["label"]
    page.screenshot(screenshots, "account-override")
    assert page.console_errors == []


def test_a_group_limited_session_gets_404_for_another_groups_account(
    page: Visit, served: Server, book: Path
) -> None:
    admin = make_key(book, "--scope", "read")
    other = _api(served, admin, "/v1/accounts?csm_group=na-enterprise&limit=1")["items"]
    hidden = other[0]["account"]["account_id"]
    token = make_key(book, "--scope", "read", "--scope", "act", "--csm-group", "emea-midmarket")
    sign_in(page, served.url, token, then=f"/accounts/{hidden}")
    shown = page.page.locator("[role=alert]").inner_text()
    assert page.page.locator("h1").inner_text() == "Not found"
    assert shown == f"unknown account {hidden!r}"
    missing = served.http.get("/accounts/no-such-account", headers=_session(page))
    assert missing.status_code == 404
    assert "unknown account &#39;no-such-account&#39;" in missing.text
    page.page.goto(f"{served.url}/accounts")  # a page with the session's token
    posted = served.http.post(
        f"/accounts/{hidden}/override",
        data={"csrf_token": _csrf(page), "status": "healthy", "reason": "r", "until": "2030-01-01"},
        headers={**_session(page), "Origin": served.url},
    )
    assert posted.status_code == 404
    assert f"unknown account &#39;{hidden}&#39;" in posted.text
    assert other[0]["account"]["name"] not in posted.text
    api = served.http.get(
        f"/v1/accounts/{hidden}/health", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 404, "the API answers the same"


def test_a_name_with_markup_is_shown_as_text(page: Visit, served: Server, book: Path) -> None:
    token = make_key(book, "--scope", "read")
    dialogs: list[str] = []
    page.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, served.url, token, then=f"/accounts/{MARKUP_ID}")
    assert page.page.locator("h1 .name").inner_text() == MARKUP
    assert page.page.title().startswith(MARKUP)
    assert page.page.locator("svg.chart").count() == 0, "no score yet: no chart"
    assert dialogs == []
    raw = served.http.get(f"/accounts/{MARKUP_ID}", headers=_session(page)).text
    assert "<script>" not in raw
