"""Pilots over HTTP: create, list and read with events, enable / disable / end, conflicts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.api import ApiHarness, api_harness
from telltales_api.paging import encode_cursor

APAC = "apac-midmarket"
NA = "na-enterprise"
EMEA = "emea-smb"


GROUPS = "".join(f"[csm_groups.{group}]\n" for group in (APAC, NA, EMEA, "na-smb"))
"""No account is stored here: the groups are known because the configuration declares them."""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    yield from api_harness(tmp_path, GROUPS)


def pilot(pilot_id: str, *groups: str, **fields: Any) -> dict[str, Any]:
    return {
        "pilot_id": pilot_id,
        "csm_groups": list(groups),
        "rules": ["core_feature_drop", "sponsor_left"],
        "playbooks": ["at_risk_response"],
        "starts_on": "2026-11-01",
        **fields,
    }


def create(api: ApiHarness, body: dict[str, Any], token: str | None = None) -> Any:
    headers = api.headers(token or api.key("admin"))
    return api.client.post("/v1/pilots", json=body, headers=headers)


def change(
    api: ApiHarness, pilot_id: str, verb: str, body: Any = None, token: str | None = None
) -> Any:
    headers = api.headers(token or api.key("admin"))
    return api.client.post(f"/v1/pilots/{pilot_id}/{verb}", json=body, headers=headers)


def get(api: ApiHarness, path: str, token: str, **params: Any) -> Any:
    return api.client.get(path, params=params, headers=api.headers(token))


def ids(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["pilot_id"] for item in answer.json()["items"]]


def count(api: ApiHarness, table: str) -> int:
    found: int = api.context.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return found


def test_a_created_pilot_reads_back_with_who_created_it_and_its_events(api: ApiHarness) -> None:
    admin = api.key("admin", name="ops-console")
    key_id = admin.split("_")[1]
    created = create(api, pilot("apac", f" {APAC}", holdout_share=0.2), admin)
    assert created.status_code == 201
    body = created.json()
    by = f"api-key:{key_id} (ops-console)"
    assert {k: v for k, v in body.items() if k != "created_at"} == {
        "pilot_id": "apac",
        "description": "",
        "csm_groups": [APAC],
        "rules": ["core_feature_drop", "sponsor_left"],
        "playbooks": ["at_risk_response"],
        "starts_on": "2026-11-01",
        "holdout_share": 0.2,
        "state": "enabled",
        "created_by": by,
    }
    read = get(api, "/v1/pilots/apac", api.key("read"))
    assert read.status_code == 200
    assert {k: v for k, v in read.json().items() if k != "events"} == body
    assert [(e["event"], e["by"], e["detail"]) for e in read.json()["events"]] == [
        (
            "created",
            by,
            "groups apac-midmarket; rules core_feature_drop, sponsor_left; playbooks "
            "at_risk_response; from 2026-11-01; control 20%",
        ),
        ("enabled", by, ""),
    ]


def test_enable_disable_and_end_are_recorded_and_an_ended_pilot_stays_ended(
    api: ApiHarness,
) -> None:
    create(api, pilot("apac", APAC))
    disabled = change(api, "apac", "disable", {"reason": "holiday freeze"})
    assert (disabled.status_code, disabled.json()["state"]) == (200, "disabled")
    assert change(api, "apac", "enable").json()["state"] == "enabled"
    assert change(api, "apac", "end", {"reason": "rolled out"}).json()["state"] == "ended"
    events = get(api, "/v1/pilots/apac", api.key("read")).json()["events"]
    assert [(e["event"], e["detail"]) for e in events][2:] == [
        ("disabled", "holiday freeze"),
        ("enabled", ""),
        ("ended", "rolled out"),
    ]
    for verb in ("enable", "disable", "end"):
        refused = change(api, "apac", verb)
        assert refused.status_code == 409
        assert refused.json()["detail"] == "pilot 'apac' has ended; create a new pilot instead"
    assert count(api, "pilot_events") == 5


def test_conflicts_with_the_current_state_are_409s_and_change_nothing(api: ApiHarness) -> None:
    create(api, pilot("apac", APAC))
    taken = create(api, pilot("apac", NA))
    assert taken.status_code == 409
    assert taken.json()["detail"] == "a pilot named 'apac' already exists"
    assert taken.json()["errors"] == [{"field": "body.pilot_id", "reason": "taken"}]

    overlapping = create(api, pilot("both", NA, APAC))
    assert overlapping.status_code == 409
    assert overlapping.json()["detail"] == (
        "CSM group 'apac-midmarket' is already in enabled pilot 'apac'; one pilot per CSM "
        "group at a time (disable or end it first)"
    )
    assert overlapping.json()["errors"] == [
        {
            "field": "body.csm_groups",
            "reason": "'apac-midmarket' is already in enabled pilot 'apac'",
        }
    ]
    # Disabled, it may overlap; enabling it waits until apac is disabled.
    assert create(api, pilot("both", NA, APAC, enabled=False)).status_code == 201
    enabling = change(api, "both", "enable")
    assert enabling.status_code == 409
    assert enabling.json()["detail"] == overlapping.json()["detail"]
    again = change(api, "apac", "enable")
    assert (again.status_code, again.json()["detail"]) == (409, "pilot 'apac' is already enabled")
    assert change(api, "apac", "disable").status_code == 200
    assert change(api, "both", "enable").status_code == 200
    assert (count(api, "pilots"), count(api, "pilot_events")) == (2, 5)


@pytest.mark.parametrize(
    ("fields", "status", "field", "reason"),
    [
        (
            {"rules": ["nope"]},
            422,
            "body.rules",
            "no enabled rule named 'nope' (known: core_feature_drop, high_priority_tickets, "
            "low_logins_in_adoption, low_seat_utilization, score_red, sponsor_left)",
        ),
        ({"playbooks": []}, 422, "body.playbooks", "a pilot enables at least one playbook"),
        (
            {"csm_groups": [APAC, "na-enterprize"]},
            422,
            "body.csm_groups",
            "no CSM group named 'na-enterprize' (known: apac-midmarket, emea-smb, na-enterprise, "
            "na-smb)",
        ),
        (
            {"csm_groups": [" "]},
            422,
            "body.csm_groups",
            "a pilot names at least one CSM group (and no empty name)",
        ),
        (
            {"pilot_id": "Big Pilot"},
            422,
            "body.pilot_id",
            "'Big Pilot' must be lowercase letters, digits, - and _ (at most 64, starting with "
            "a letter or digit)",
        ),
        ({"holdout_share": 1}, 400, "body.holdout_share", "expected `float` < 1.0"),
        ({"starts_on": "soon"}, 400, "body.starts_on", "invalid RFC3339 encoded date"),
        ({"colour": "red"}, 400, "body.colour", "unknown field"),
    ],
)
def test_an_invalid_pilot_is_refused_naming_the_field_and_nothing_is_written(
    api: ApiHarness, fields: dict[str, Any], status: int, field: str, reason: str
) -> None:
    answer = create(api, pilot("p1", APAC) | fields)
    assert answer.status_code == status
    assert answer.json()["errors"] == [{"field": field, "reason": reason}]
    assert (count(api, "pilots"), count(api, "pilot_events")) == (0, 0)


def test_pilots_list_by_id_filter_and_page(api: ApiHarness) -> None:
    create(api, pilot("apac", APAC))
    create(api, pilot("na", NA, "na-smb"))
    create(api, pilot("both", EMEA, APAC, enabled=False))
    change(api, "na", "end")
    token = api.key("read")
    assert ids(get(api, "/v1/pilots", token)) == ["apac", "both", "na"]
    assert ids(get(api, "/v1/pilots", token, state="enabled")) == ["apac"]
    assert ids(get(api, "/v1/pilots", token, state="ended")) == ["na"]
    assert ids(get(api, "/v1/pilots", token, csm_group=APAC)) == ["apac", "both"]

    seen: list[str] = []
    cursor = None
    for _ in range(3):
        page = get(api, "/v1/pilots", token, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += ids(page)
        cursor = page.json()["next_cursor"]
    assert (seen, cursor) == (["apac", "both", "na"], None)


def test_a_group_limited_key_sees_the_pilots_covering_its_groups_only(api: ApiHarness) -> None:
    create(api, pilot("apac", APAC))
    create(api, pilot("na", NA))
    create(api, pilot("both", EMEA, APAC, enabled=False))
    token = api.key("read", groups=[EMEA])
    assert ids(get(api, "/v1/pilots", token)) == ["both"]
    other = get(api, "/v1/pilots/na", token)
    missing = get(api, "/v1/pilots/zz", token)
    assert (other.status_code, other.json()["detail"]) == (404, "no pilot 'na'")
    assert (missing.status_code, missing.json()["detail"]) == (404, "no pilot 'zz'")
    refused = get(api, "/v1/pilots", token, csm_group=NA)
    assert refused.status_code == 403
    assert refused.json()["errors"] == [
        {"field": "query.csm_group", "reason": "outside the key's CSM groups"}
    ]


def test_a_missing_pilot_is_a_404_for_every_route(api: ApiHarness) -> None:
    assert get(api, "/v1/pilots/zz", api.key("read")).status_code == 404
    for verb in ("enable", "disable", "end"):
        answer = change(api, "zz", verb)
        assert (answer.status_code, answer.json()["detail"]) == (404, "no pilot 'zz'")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "paused"}, "query.state"),
        ({"limit": 0}, "query.limit"),
        ({"cursor": "%%%"}, "query.cursor"),
        ({"cursor": encode_cursor([7])}, "query.cursor"),
    ],
)
def test_bad_query_parameters_are_a_400_naming_them(
    api: ApiHarness, params: dict[str, Any], field: str
) -> None:
    answer = get(api, "/v1/pilots", api.key("read"), **params)
    assert answer.status_code == 400
    assert [error["field"] for error in answer.json()["errors"]] == [field]


def test_a_too_long_pilot_id_is_a_400(api: ApiHarness) -> None:
    answer = get(api, f"/v1/pilots/{'p' * 65}", api.key("read"))
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "path.pilot_id"


def test_reading_needs_read_and_changing_needs_admin(api: ApiHarness) -> None:
    create(api, pilot("apac", APAC))
    assert api.client.get("/v1/pilots").status_code == 401
    assert api.client.get("/v1/pilots/apac").status_code == 401
    assert api.client.post("/v1/pilots", json=pilot("na", NA)).status_code == 401
    assert get(api, "/v1/pilots", api.key("ingest")).status_code == 403
    for token in (api.key("read", "ingest", "act"), api.key("act", groups=[APAC])):
        assert create(api, pilot("na", NA), token).status_code == 403
        # Refused before the body is read: a misspelled group lists no group to a limited key.
        misspelled = create(api, pilot("na", "na-enterprize"), token)
        assert misspelled.status_code == 403
        assert "na-" not in misspelled.text
        assert "emea" not in misspelled.text
        for verb in ("enable", "disable", "end"):
            assert api.client.post(f"/v1/pilots/apac/{verb}").status_code == 401
            assert change(api, "apac", verb, token=token).status_code == 403
    assert (count(api, "pilots"), count(api, "pilot_events")) == (1, 2)
