"""PUT and GET /v1/accounts, and GET /v1/accounts/{id}, on the example book after two runs.

Statuses and grades are those test_health_report reads off the example by hand,
under the shipped calm statuses (a rule holds its hold days before it sets a status):
- ferrum is At-Risk from the 13th: its sponsor left, a live rule with no hold days;
- tidewater turns At-Risk on the 20th: score_red (under 40: 32.6, then 32.5) was pending
  on the 13th and fired on the 20th;
- bluepeak turns Concern on the 20th: low_seat_utilization (50 of 150 seats active) was
  pending on the 13th; its score 36.5 is graded red while score_red is still pending;
- northwind, quillworks and solstice stay Healthy.
Grades: ferrum 10.2, tidewater 32.5 and bluepeak 36.5 red (under 40); northwind 86.6,
quillworks 94.1 and solstice 91.6 green.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support.api import ApiHarness, api_harness
from support.health_example import ingested_example, run_example
from telltales.store.queries import ACCOUNT_SORTS

ALL = ["bluepeak", "ferrum", "northwind", "quillworks", "solstice", "tidewater"]


@pytest.fixture(scope="module")
def example_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested_example(tmp_path_factory)


@pytest.fixture
def api(example_template: Path, tmp_path: Path) -> Iterator[ApiHarness]:
    """The API over a copy of the example, run for both Fridays through its context."""
    shutil.copy(example_template, tmp_path / "api.db")
    for harness in api_harness(tmp_path):
        context = harness.context
        run_example(context.store, context.registry, context.config)
        yield harness


def ids(page: dict[str, Any]) -> list[str]:
    return [item["account"]["account_id"] for item in page["items"]]


def account(account_id: str, **fields: Any) -> dict[str, Any]:
    return {"account_id": account_id, "name": account_id.title(), **fields}


def stored(api: ApiHarness, account_id: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = api.context.store.db.execute(
        "SELECT name, owner, csm_group, seats_purchased, updated_at FROM accounts "
        "WHERE account_id = ?",
        [account_id],
    ).fetchone()
    return row


# PUT /v1/accounts


def test_upsert_counts_created_updated_and_unchanged_and_leaves_unchanged_rows_alone(
    api: ApiHarness,
) -> None:
    headers = api.headers(api.key("ingest"))
    first = [
        account("acme", csm_group="emea-smb", seats_purchased=20),
        account("zenith", csm_group="na-smb"),
    ]
    response = api.client.put("/v1/accounts", json={"accounts": first}, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"received": 2, "created": 2, "updated": 0, "unchanged": 0}
    before = stored(api, "zenith")

    again = [account("acme", csm_group="emea-smb", seats_purchased=25), first[1]]
    response = api.client.put("/v1/accounts", json={"accounts": again}, headers=headers)

    assert response.json() == {"received": 2, "created": 0, "updated": 1, "unchanged": 1}
    assert stored(api, "acme")[:4] == ("Acme", "", "emea-smb", 25)  # type: ignore[index]
    assert stored(api, "zenith") == before  # not rewritten: same updated_at


def test_an_invalid_account_stores_nothing_and_is_named_by_index_and_field(
    api: ApiHarness,
) -> None:
    batch = [account("acme"), account("bad", seats_purchased=-3)]

    response = api.client.put(
        "/v1/accounts", json={"accounts": batch}, headers=api.headers(api.key("ingest"))
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body.accounts[1].seats_purchased"
    assert stored(api, "acme") is None


def test_an_account_twice_in_a_batch_is_refused(api: ApiHarness) -> None:
    batch = [account("acme"), account("other"), account("acme", owner="x")]

    response = api.client.put(
        "/v1/accounts", json={"accounts": batch}, headers=api.headers(api.key("ingest"))
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "body.accounts[2].account_id",
            "reason": "repeats accounts[0]; send each version once",
        }
    ]
    assert stored(api, "acme") is None


def test_two_versions_of_an_account_in_a_batch_are_two_facts(api: ApiHarness) -> None:
    batch = [
        account("acme", as_of="2026-01-01", renewal_date="2026-12-01"),
        account("acme", as_of="2026-06-01", renewal_date="2027-12-01"),
    ]
    headers = api.headers(api.key("ingest"))

    first = api.client.put("/v1/accounts", json={"accounts": batch}, headers=headers)
    again = api.client.put("/v1/accounts", json={"accounts": batch}, headers=headers)

    assert first.json() == {"received": 2, "created": 1, "updated": 1, "unchanged": 0}
    assert again.json() == {"received": 2, "created": 0, "updated": 0, "unchanged": 2}
    read = api.headers(api.key("read"))
    for day, renewal in (("2026-05-31", "2026-12-01"), ("2026-06-01", "2027-12-01")):
        found = api.client.get(f"/v1/accounts/acme?as_of={day}", headers=read)
        assert found.json()["account"]["renewal_date"] == renewal


def test_a_group_limited_key_updates_its_groups_accounts_only(api: ApiHarness) -> None:
    headers = api.headers(api.key("ingest", groups=["emea-smb"]))

    # Its own group's account: fine.
    ok = [account("quillworks", csm_group="emea-smb", owner="new.owner@vendor.example")]
    response = api.client.put("/v1/accounts", json={"accounts": ok}, headers=headers)
    assert response.json() == {"received": 1, "created": 0, "updated": 1, "unchanged": 0}

    # Moving it to another group.
    batch = [account("quillworks", csm_group="na-smb")]
    response = api.client.put("/v1/accounts", json={"accounts": batch}, headers=headers)
    assert response.status_code == 403
    assert response.json()["errors"] == [
        {"field": "body.accounts[0].csm_group", "reason": "outside the key's CSM groups"}
    ]
    assert stored(api, "quillworks")[2] == "emea-smb"  # type: ignore[index]


def test_an_unknown_id_and_another_groups_account_answer_alike(api: ApiHarness) -> None:
    """Found by outside testers: a limited key's PUT of another group's account answered
    403 "may not write account 'acct-00000'" while an unknown id was created (200), so
    the key could tell which ids exist elsewhere. A limited key now creates no account,
    and both are refused in the same words."""
    headers = api.headers(api.key("ingest", groups=["emea-smb"]))
    answers = {}
    for account_id in ("ferrum", "nobody"):  # ferrum is apac-midmarket's
        batch = [account("quillworks", csm_group="emea-smb"), account(account_id)]
        batch[1]["csm_group"] = "emea-smb"
        answers[account_id] = api.client.put(
            "/v1/accounts", json={"accounts": batch}, headers=headers
        )
    hidden, missing = answers["ferrum"], answers["nobody"]
    assert hidden.status_code == missing.status_code == 422
    assert (
        hidden.json()["detail"]
        == missing.json()["detail"]
        == (
            "1 account(s) unknown (or of a CSM group this key may not write to); nothing was "
            "stored: a key limited to CSM groups updates its groups' accounts, and a key for "
            "every group creates them"
        )
    )
    assert hidden.json()["errors"] == [
        {
            "field": "body.accounts[1].account_id",
            "reason": "no account 'ferrum' that this key may write to",
        }
    ]
    assert missing.json()["errors"][0]["reason"] == "no account 'nobody' that this key may write to"
    assert stored(api, "nobody") is None
    assert stored(api, "ferrum")[2] == "apac-midmarket"  # type: ignore[index]
    # A key for every group creates it.
    created = api.client.put(
        "/v1/accounts",
        json={"accounts": [account("nobody", csm_group="emea-smb")]},
        headers=api.headers(api.key("ingest")),
    )
    assert created.json()["created"] == 1


def test_upsert_needs_the_ingest_scope(api: ApiHarness) -> None:
    body = {"accounts": [account("acme")]}
    assert api.client.put("/v1/accounts", json=body).status_code == 401
    response = api.client.put("/v1/accounts", json=body, headers=api.headers(api.key("read")))
    assert response.status_code == 403
    assert stored(api, "acme") is None


# GET /v1/accounts


def test_the_list_gives_each_account_its_status_and_latest_grade(api: ApiHarness) -> None:
    response = api.client.get("/v1/accounts", headers=api.headers(api.key("read")))

    assert response.status_code == 200
    page = response.json()
    assert page["next_cursor"] is None
    assert [
        (
            i["account"]["account_id"],
            i["status"],
            i["status_label"],
            i["status_since"],
            i["score"],
            i["grade"],
            i["grade_label"],
            i["scored_on"],
        )
        for i in page["items"]
    ] == [
        ("bluepeak", "concern", "Concern", "2026-11-20", 36.5, "red", "At-Risk", "2026-11-20"),
        ("ferrum", "at_risk", "At-Risk", "2026-11-13", 10.2, "red", "At-Risk", "2026-11-20"),
        ("northwind", "healthy", "Healthy", "2026-11-13", 86.6, "green", "Healthy", "2026-11-20"),
        ("quillworks", "healthy", "Healthy", "2026-11-13", 94.1, "green", "Healthy", "2026-11-20"),
        ("solstice", "healthy", "Healthy", "2026-11-13", 91.6, "green", "Healthy", "2026-11-20"),
        ("tidewater", "at_risk", "At-Risk", "2026-11-20", 32.5, "red", "At-Risk", "2026-11-20"),
    ]
    assert page["items"][1]["account"]["renewal_date"] == "2026-12-20"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"grade": "red"}, ["bluepeak", "ferrum", "tidewater"]),
        ({"status": "at_risk"}, ["ferrum", "tidewater"]),
        ({"status": "concern"}, ["bluepeak"]),
        ({"status": "healthy", "segment": "enterprise"}, ["solstice"]),
        ({"csm_group": "na-enterprise"}, ["bluepeak", "solstice"]),
        # ferrum renews 2026-12-20 (30 days after the 20th), bluepeak 2027-01-15 (56).
        ({"renewal_within_days": 30, "as_of": "2026-11-20"}, ["ferrum"]),
        ({"renewal_within_days": 56, "as_of": "2026-11-20"}, ["bluepeak", "ferrum"]),
        ({"renewal_within_days": 29, "as_of": "2026-11-20"}, []),
        ({"grade": "amber", "status": "healthy"}, []),
    ],
)
def test_filters(api: ApiHarness, params: dict[str, Any], expected: list[str]) -> None:
    response = api.client.get("/v1/accounts", params=params, headers=api.headers(api.key("read")))
    assert response.status_code == 200
    assert ids(response.json()) == expected


@pytest.mark.parametrize(("limit", "params"), [(1, {}), (2, {}), (4, {}), (1, {"grade": "red"})])
def test_pages_serve_every_account_once_in_order(
    api: ApiHarness, limit: int, params: dict[str, Any]
) -> None:
    headers = api.headers(api.key("read"))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/v1/accounts", params=query, headers=headers).json()
        assert len(page["items"]) <= limit
        seen += ids(page)
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = ["bluepeak", "ferrum", "tidewater"] if params else ALL
    assert seen == expected
    assert pages == -(-len(expected) // limit)


def _expected_order(items: list[dict[str, Any]], sort: str) -> list[str]:
    """The order ``sort`` promises, worked out here from the unsorted items: the field
    ascending (``-``: descending), accounts without a value last, ties by id."""
    field = sort.removeprefix("-")

    def value(item: dict[str, Any]) -> Any:
        if field == "account_id":
            return 0
        if field == "score":
            return item["score"]
        if field == "days_at_risk":
            return (
                (date(2026, 12, 7) - date.fromisoformat(item["status_since"])).days
                if item["status"] == "at_risk"
                else None
            )
        return item["account"][field]

    present = [item for item in items if value(item) is not None]
    absent = sorted(item["account"]["account_id"] for item in items if value(item) is None)
    by_id = sorted(present, key=lambda item: item["account"]["account_id"])
    # sorted() is stable, reversed or not: equal values stay in id order.
    ordered = sorted(by_id, key=value, reverse=sort.startswith("-"))
    return [item["account"]["account_id"] for item in ordered] + absent


@pytest.mark.parametrize("sort", ACCOUNT_SORTS)
def test_every_sort_pages_through_every_account_once_in_its_order(
    api: ApiHarness, sort: str
) -> None:
    headers = api.headers(api.key("read"))
    everything = api.client.get("/v1/accounts", headers=headers).json()
    seen: list[str] = []
    cursor = None
    while True:
        query = {"sort": sort, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/v1/accounts", params=query, headers=headers).json()
        assert page["matched"] == len(ALL), "every page counts the whole list"
        assert page["arr"] == pytest.approx(sum(i["account"]["arr"] for i in everything["items"]))
        seen += ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == _expected_order(everything["items"], sort)


def test_the_totals_and_the_owner_filter(api: ApiHarness) -> None:
    headers = api.headers(api.key("read"))
    at_risk = api.client.get("/v1/accounts", params={"status": "at_risk"}, headers=headers).json()
    assert at_risk["matched"] == 2
    assert at_risk["arr"] == pytest.approx(sum(i["account"]["arr"] for i in at_risk["items"]))
    owner = at_risk["items"][0]["account"]["owner"]
    mine = api.client.get("/v1/accounts", params={"owner": owner}, headers=headers).json()
    assert mine["items"]
    assert {i["account"]["owner"] for i in mine["items"]} == {owner}
    assert mine["matched"] == len(mine["items"])
    nobody = api.client.get("/v1/accounts", params={"owner": "nobody"}, headers=headers).json()
    assert (nobody["items"], nobody["matched"], nobody["arr"]) == ([], 0, 0.0)


def test_a_cursor_of_another_sort_is_refused(api: ApiHarness) -> None:
    headers = api.headers(api.key("read"))
    first = api.client.get(
        "/v1/accounts", params={"sort": "-arr", "limit": 1}, headers=headers
    ).json()
    mixed = api.client.get(
        "/v1/accounts", params={"sort": "score", "cursor": first["next_cursor"]}, headers=headers
    )
    assert mixed.status_code == 400
    assert mixed.json()["errors"] == [
        {"field": "query.cursor", "reason": "a cursor of sort=-arr, not of sort=score"}
    ]


def test_a_group_limited_key_lists_its_groups_only(api: ApiHarness) -> None:
    headers = api.headers(api.key("read", groups=["na-enterprise", "na-smb"]))

    assert ids(api.client.get("/v1/accounts", headers=headers).json()) == [
        "bluepeak",
        "solstice",
        "tidewater",
    ]
    red = api.client.get("/v1/accounts", params={"grade": "red"}, headers=headers).json()
    assert ids(red) == ["bluepeak", "tidewater"]
    response = api.client.get("/v1/accounts", params={"csm_group": "emea-smb"}, headers=headers)
    assert response.status_code == 403
    assert response.json()["errors"] == [
        {"field": "query.csm_group", "reason": "outside the key's CSM groups"}
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 501}, "query.limit"),
        ({"grade": "purple"}, "query.grade"),
        ({"status": "fine"}, "query.status"),
        ({"renewal_within_days": -1}, "query.renewal_within_days"),
        ({"as_of": "2026-02-30"}, "query.as_of"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"cursor": "WzFd"}, "query.cursor"),  # [1]: a list, but not an account id
        ({"sort": "health"}, "query.sort"),  # an unknown sort is refused, never ignored
        ({"sort": "-"}, "query.sort"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(
    api: ApiHarness, params: dict[str, Any], field: str
) -> None:
    response = api.client.get("/v1/accounts", params=params, headers=api.headers(api.key("read")))
    assert response.status_code == 400
    assert field in [error["field"] for error in response.json()["errors"]]


def test_reading_accounts_needs_the_read_scope(api: ApiHarness) -> None:
    for path in ("/v1/accounts", "/v1/accounts/ferrum"):
        assert api.client.get(path).status_code == 401
        response = api.client.get(path, headers=api.headers(api.key("ingest")))
        assert response.status_code == 403


# GET /v1/accounts/{account_id}


def test_one_account_with_its_status_and_grade(api: ApiHarness) -> None:
    response = api.client.get("/v1/accounts/ferrum", headers=api.headers(api.key("read")))

    assert response.status_code == 200
    body = response.json()
    assert body["account"]["name"] == "Ferrum Manufacturing"
    assert (body["status"], body["grade"], body["score"]) == ("at_risk", "red", 10.2)


def test_an_account_of_another_group_is_as_missing_as_an_unknown_one(api: ApiHarness) -> None:
    headers = api.headers(api.key("read", groups=["emea-smb"]))

    hidden = api.client.get("/v1/accounts/ferrum", headers=headers)
    missing = api.client.get("/v1/accounts/nobody", headers=headers)

    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json()["detail"] == "unknown account 'ferrum'"
    assert missing.json()["detail"] == "unknown account 'nobody'"
    assert api.client.get("/v1/accounts/quillworks", headers=headers).status_code == 200
