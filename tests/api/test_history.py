"""``POST /v1/history``: the documented example over HTTP, all or nothing, admin keys only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_ACCOUNTS
from support.api import ApiHarness, add_accounts, api_harness

EXAMPLE = Path(__file__).parents[2] / "examples" / "history" / "history.json"
TABLES = ("transitions", "playbook_runs", "tasks", "task_events", "renewals")


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    for harness in api_harness(tmp_path):
        add_accounts(harness, EXAMPLE_ACCOUNTS)
        yield harness


def example() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return loaded


def post(api: ApiHarness, token: str, body: dict[str, Any]) -> Any:
    return api.client.post("/v1/history", json=body, headers=api.headers(token))


def counts(api: ApiHarness) -> dict[str, int]:
    db = api.context.store.db
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def test_the_example_imports_once_and_reads_back(api: ApiHarness) -> None:
    token = api.key("admin", name="migration")
    response = post(api, token, example())
    assert response.status_code == 200
    assert response.json() == {
        "transitions": {"imported": 7, "already_there": 0},
        "playbook_runs": {"imported": 2, "already_there": 0},
        "tasks": {"imported": 4, "already_there": 0},
        "renewals": {"created": 3, "updated": 0, "unchanged": 0},
    }
    after_first = counts(api)
    assert after_first == {
        "transitions": 7,
        "playbook_runs": 2,
        "tasks": 4,
        "task_events": 7,  # four opened, two done, one dismissed
        "renewals": 3,
    }
    again = post(api, token, example())
    assert again.json()["transitions"] == {"imported": 0, "already_there": 7}
    assert counts(api) == after_first

    key_id = token.split("_")[1]
    renewals = api.client.get("/v1/renewals", headers=api.headers(token)).json()["items"]
    assert [(r["account_id"], r["source"], r["recorded_by"]) for r in renewals] == [
        ("ferrum", "import", f"api-key:{key_id} (migration)"),
        ("bluepeak", "import", f"api-key:{key_id} (migration)"),
        ("tidewater", "import", f"api-key:{key_id} (migration)"),
    ]
    # tidewater entered At-Risk at 08:30 New York time: stored as 13:30 UTC.
    (at,) = api.context.store.db.execute(
        "SELECT at FROM transitions WHERE account_id = 'tidewater' AND to_status = 'at_risk'"
    ).fetchone()
    assert at == "2026-01-12T13:30:00+00:00"


def test_invalid_content_is_422_by_section_index_and_field_and_nothing_is_stored(
    api: ApiHarness,
) -> None:
    body = example()
    body["transitions"][2]["from_status"] = "healthy"
    body["renewals"][1]["account_id"] = "ghost"
    response = post(api, api.key("admin"), body)
    assert response.status_code == 422
    assert response.json()["detail"] == "2 invalid record(s); nothing was stored"
    assert response.json()["errors"] == [
        {
            "field": "body.transitions[2].from_status",
            "reason": "transitions[1] left the account 'at_risk', so this one starts from "
            "'at_risk', not 'healthy'",
        },
        {
            "field": "body.renewals[1].account_id",
            "reason": "unknown account 'ghost'; add it with `telltales ingest accounts` first",
        },
    ]
    assert counts(api) == dict.fromkeys(TABLES, 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("transitions", 0, "at", "2025-10-06T06:00:00"), "body.transitions[0].at"),
        (("transitions", 1, "to_status", "red"), "body.transitions[1].to_status"),
        (("playbook_runs", 0, "status", "at-risk"), "body.playbook_runs[0].status"),
        (("renewals", 0, "discount_percent", 120), "body.renewals[0].discount_percent"),
    ],
    ids=["time-without-zone", "unknown-status", "run-status", "discount"],
)
def test_a_malformed_body_is_400_naming_the_field(
    api: ApiHarness, change: tuple[str, int, str, Any], field: str
) -> None:
    section, index, name, value = change
    body = example()
    body[section][index][name] = value
    response = post(api, api.key("admin"), body)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert counts(api) == dict.fromkeys(TABLES, 0)


def test_importing_history_needs_an_admin_key(api: ApiHarness) -> None:
    assert api.client.post("/v1/history", json={}).status_code == 401
    for scopes in (("read",), ("ingest",), ("act",), ("read", "ingest", "act")):
        response = post(api, api.key(*scopes), example())
        assert response.status_code == 403, scopes
    response = post(api, api.key("ingest", groups=["na-smb"]), example())
    assert response.status_code == 403
    assert counts(api) == dict.fromkeys(TABLES, 0)


def test_the_schema_documents_the_route_and_its_errors(api: ApiHarness) -> None:
    schema = api.client.get("/schema/openapi.json").json()
    route = schema["paths"]["/v1/history"]["post"]
    assert set(route["responses"]) >= {"200", "400", "401", "403", "413", "422"}
    body = route["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    sections = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert set(sections) == {"transitions", "playbook_runs", "renewals"}
