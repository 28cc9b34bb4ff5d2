"""``PUT /v1/renewals`` and ``GET /v1/renewals``: checked, all or nothing, limited by group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_ACCOUNTS
from support.api import ApiHarness, add_accounts, api_harness

# The example accounts' groups: ferrum apac-midmarket, tidewater na-smb, bluepeak and
# solstice na-enterprise, northwind emea-midmarket, quillworks emea-smb.


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    for harness in api_harness(tmp_path):
        add_accounts(harness, EXAMPLE_ACCOUNTS)
        yield harness


def renewal(account_id: str, renewal_date: str = "2026-01-31", **fields: Any) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "renewal_date": renewal_date,
        "arr_before": 100000,
        "arr_after": 90000,
        "discount_percent": 10,
        "outcome": "renewed",
        **fields,
    }


def put(api: ApiHarness, token: str, *renewals: dict[str, Any]) -> Any:
    return api.client.put(
        "/v1/renewals", json={"renewals": list(renewals)}, headers=api.headers(token)
    )


def get(api: ApiHarness, token: str, **params: Any) -> Any:
    return api.client.get("/v1/renewals", params=params, headers=api.headers(token))


def stored(api: ApiHarness) -> int:
    (count,) = api.context.store.db.execute("SELECT count(*) FROM renewals").fetchone()
    return int(count)


def test_put_records_renewals_and_says_what_changed(api: ApiHarness) -> None:
    token = api.key("ingest", "read", name="crm-sync")
    response = put(api, token, renewal("ferrum"), renewal("tidewater"))
    assert response.status_code == 200
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    corrected = renewal("tidewater", arr_after=18000, discount_percent=0)
    assert put(api, token, renewal("ferrum"), corrected).json() == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
    }
    items = get(api, token).json()["items"]
    key_id = token.split("_")[1]
    assert [
        (i["account_id"], i["arr_after"], i["source"], i["recorded_by"], i["csm_group"])
        for i in items
    ] == [
        ("ferrum", 90000, "api", f"api-key:{key_id} (crm-sync)", "apac-midmarket"),
        ("tidewater", 18000, "api", f"api-key:{key_id} (crm-sync)", "na-smb"),
    ]
    (revisions,) = api.context.store.db.execute("SELECT count(*) FROM renewal_revisions").fetchone()
    assert revisions == 3


def test_invalid_content_is_422_by_index_and_field_and_nothing_is_stored(api: ApiHarness) -> None:
    response = put(
        api,
        api.key("ingest"),
        renewal("ferrum"),
        renewal("tidewater", outcome="churned"),
        renewal("ghost", arr_after=0),
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["detail"] == "3 invalid record(s); nothing was stored"
    assert problem["errors"] == [
        {
            "field": "body.renewals[1].arr_after",
            "reason": "a churned renewal keeps no ARR: arr_after must be 0, not 90000",
        },
        {
            "field": "body.renewals[2].account_id",
            "reason": "unknown account 'ghost'; add it with `telltales ingest accounts` first",
        },
        {
            "field": "body.renewals[2].arr_after",
            "reason": "a renewal with outcome 'renewed' keeps some ARR: arr_after must be "
            "more than 0 (say outcome 'churned' if the customer left)",
        },
    ]
    assert stored(api) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"renewals": [renewal("ferrum"), renewal("ferrum", discount_percent=101)]},
            "body.renewals[1].discount_percent",
        ),
        ({"renewals": [renewal("ferrum", arr_before=0)]}, "body.renewals[0].arr_before"),
        ({"renewals": [renewal("ferrum", outcome="expanded")]}, "body.renewals[0].outcome"),
        (
            {"renewals": [renewal("ferrum", renewal_date="31/01/2026")]},
            "body.renewals[0].renewal_date",
        ),
        ({"renewals": [{**renewal("ferrum"), "arr": 1}]}, "body.renewals[0].arr"),
        ({"renewal": []}, "body.renewal"),
    ],
    ids=["discount", "arr-before", "outcome", "date", "unknown-field", "no-list"],
)
def test_a_malformed_body_is_400_naming_the_field(
    api: ApiHarness, body: dict[str, Any], field: str
) -> None:
    response = api.client.put("/v1/renewals", json=body, headers=api.headers(api.key("ingest")))
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert stored(api) == 0


def test_a_limited_key_records_its_groups_only_and_learns_nothing_of_others(
    api: ApiHarness,
) -> None:
    token = api.key("ingest", groups=["na-smb"])
    response = put(api, token, renewal("tidewater"), renewal("ferrum"), renewal("ghost"))
    assert response.status_code == 422
    reasons = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert reasons == {
        "body.renewals[1].account_id": "unknown account 'ferrum'; add it with "
        "`telltales ingest accounts` first",
        "body.renewals[2].account_id": "unknown account 'ghost'; add it with "
        "`telltales ingest accounts` first",
    }
    assert stored(api) == 0
    assert put(api, token, renewal("tidewater")).json()["created"] == 1


def record_four(api: ApiHarness) -> None:
    response = put(
        api,
        api.key("ingest"),
        renewal("ferrum", "2026-01-31"),
        renewal("tidewater", "2026-02-28"),
        renewal("bluepeak", "2026-02-28"),
        renewal("solstice", "2026-03-31"),
    )
    assert response.status_code == 200


def keys(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.text
    return [(i["account_id"], i["renewal_date"]) for i in response.json()["items"]]


def test_get_filters_by_group_segment_account_and_renewal_date(api: ApiHarness) -> None:
    record_four(api)
    token = api.key("read")
    assert keys(get(api, token)) == [
        ("ferrum", "2026-01-31"),
        ("bluepeak", "2026-02-28"),
        ("tidewater", "2026-02-28"),
        ("solstice", "2026-03-31"),
    ]
    assert keys(get(api, token, csm_group="na-enterprise")) == [
        ("bluepeak", "2026-02-28"),
        ("solstice", "2026-03-31"),
    ]
    assert keys(get(api, token, segment="smb")) == [("tidewater", "2026-02-28")]
    assert keys(get(api, token, account_id="ferrum")) == [("ferrum", "2026-01-31")]
    assert keys(get(api, token, **{"from": "2026-02-01", "to": "2026-02-28"})) == [
        ("bluepeak", "2026-02-28"),
        ("tidewater", "2026-02-28"),
    ]


def test_get_pages_with_a_cursor(api: ApiHarness) -> None:
    record_four(api)
    token = api.key("read")
    first = get(api, token, limit=3)
    assert keys(first) == [
        ("ferrum", "2026-01-31"),
        ("bluepeak", "2026-02-28"),
        ("tidewater", "2026-02-28"),
    ]
    cursor = first.json()["next_cursor"]
    second = get(api, token, limit=3, cursor=cursor)
    assert keys(second) == [("solstice", "2026-03-31")]
    assert second.json()["next_cursor"] is None
    assert get(api, token, limit=4).json()["next_cursor"] is None


def test_a_limited_key_reads_its_groups_renewals_only(api: ApiHarness) -> None:
    record_four(api)
    token = api.key("read", groups=["na-smb", "apac-midmarket"])
    assert keys(get(api, token)) == [("ferrum", "2026-01-31"), ("tidewater", "2026-02-28")]
    assert keys(get(api, token, account_id="bluepeak")) == []
    response = get(api, token, csm_group="na-enterprise")
    assert response.status_code == 403
    assert response.json()["errors"] == [
        {"field": "query.csm_group", "reason": "outside the key's CSM groups"}
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-01", "to": "2026-02-01"}, "query.to"),
        ({"from": "March"}, "query.from"),
        ({"limit": 0}, "query.limit"),
        ({"cursor": "bm9wZQ"}, "query.cursor"),
        ({"cursor": "WzEsMl0"}, "query.cursor"),  # [1, 2]: two values, not a date and an id
    ],
    ids=["to-before-from", "bad-date", "limit", "not-a-cursor", "cursor-of-numbers"],
)
def test_bad_query_parameters_are_400(api: ApiHarness, params: dict[str, Any], field: str) -> None:
    response = get(api, api.key("read"), **params)
    assert response.status_code == 400
    assert field in [error["field"] for error in response.json()["errors"]]


def test_every_renewals_route_needs_a_key_with_its_scope(api: ApiHarness) -> None:
    assert api.client.get("/v1/renewals").status_code == 401
    assert api.client.put("/v1/renewals", json={"renewals": []}).status_code == 401
    read = api.headers(api.key("read"))
    act = api.headers(api.key("act"))
    assert api.client.put("/v1/renewals", json={"renewals": []}, headers=read).status_code == 403
    assert api.client.get("/v1/renewals", headers=act).status_code == 403


def test_the_schema_documents_both_routes_and_their_errors(api: ApiHarness) -> None:
    path = api.client.get("/schema/openapi.json").json()["paths"]["/v1/renewals"]
    assert set(path["put"]["responses"]) >= {"200", "400", "401", "403", "413", "422"}
    assert set(path["get"]["responses"]) >= {"200", "400", "401", "403"}
    assert {p["name"] for p in path["get"]["parameters"]} >= {
        "csm_group",
        "segment",
        "account_id",
        "from",
        "to",
        "limit",
        "cursor",
    }
