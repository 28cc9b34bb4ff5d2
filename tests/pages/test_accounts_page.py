"""The at-risk list page: sorts, filters, totals and its CSV, against the API's figures."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from support.browser import Visit
from support.pages import make_key, sign_in
from support.server import Server


def _all(served: Server, token: str, **params: Any) -> dict[str, Any]:
    answer = served.http.get(
        "/v1/accounts",
        params={"limit": 500, **params},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_sorting_by_arr_shows_the_apis_order_and_totals(
    page: Visit, served: Server, demo_db: Path, screenshots: Path
) -> None:
    token = make_key(demo_db, "--scope", "read")
    sign_in(page, served.url, token)
    page.page.select_option("select[name=status]", "all")
    page.page.select_option("select[name=sort]", "-arr")
    with page.page.expect_navigation():
        page.page.click("form.filters button")
    assert re.search(r"/accounts\?status=all&.*sort=-arr", page.page.url), page.page.url
    listed = _all(served, token, sort="-arr")
    shown = page.page.locator("table.accounts tbody tr .id").all_inner_texts()
    assert shown == [item["account"]["account_id"] for item in listed["items"]][:50]
    summary = page.page.locator("p.summary").inner_text()
    assert f"{listed['matched']:,} accounts, {listed['arr']:,.0f} ARR" in summary
    assert "this page shows 50" in summary, "the demo book has more than a page"
    page.screenshot(screenshots, "accounts-by-arr")
    page.page.click("a.next")
    second = page.page.locator("table.accounts tbody tr .id").all_inner_texts()
    assert second == [item["account"]["account_id"] for item in listed["items"]][50:100]
    assert page.refused == []


def test_the_csv_is_the_whole_filtered_list_in_the_pages_order(
    page: Visit, served: Server, demo_db: Path
) -> None:
    token = make_key(demo_db, "--scope", "read")
    sign_in(page, served.url, token, then="/accounts?status=all&sort=renewal_date")
    link = page.page.locator("a.download").get_attribute("href")
    assert link == "/accounts.csv?status=all&sort=renewal_date"
    cookie = next(c for c in page.context.cookies() if c["name"] == "telltales_session")
    answer = served.http.get(link, headers={"Cookie": f"telltales_session={cookie['value']}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    listed = _all(served, token, sort="renewal_date")
    assert [row["account_id"] for row in rows] == [
        i["account"]["account_id"] for i in listed["items"]
    ]
    first = listed["items"][0]
    assert rows[0]["arr"] == f"{first['account']['arr']:g}"
    assert rows[0]["status"] == (first["status"] or "")


def test_an_unknown_sort_or_filter_is_refused_on_the_page(
    page: Visit, served: Server, demo_db: Path
) -> None:
    token = make_key(demo_db, "--scope", "read")
    sign_in(page, served.url, token)
    page.page.goto(f"{served.url}/accounts?sort=health")
    assert page.page.locator("h1").inner_text() == "Not shown"
    assert "not one it knows" in page.page.locator("[role=alert]").inner_text()
    page.page.goto(f"{served.url}/accounts?renewal_within_days=soon")
    assert "renewal within: give a number of days" in page.page.locator("[role=alert]").inner_text()
    page.page.goto(f"{served.url}/accounts?renewal_within_days=&owner=&segment=")
    assert page.page.locator("h1").inner_text() == "Accounts: At-Risk", (
        "empty fields filter nothing"
    )
