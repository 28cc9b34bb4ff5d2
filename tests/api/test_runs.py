"""``POST /v1/runs`` and ``GET /v1/runs/{run_id}``: the engine over HTTP, checked input."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support.api import ApiHarness, api_harness, api_settings
from support.api_example import FRIDAY, build_example
from support.book import ONE_DAY_DROP
from telltales import Signal, SignalBatch, hookimpl
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.plugins import load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.testing import ApiClient
from telltales_api import create_app


@pytest.fixture(scope="module")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("example") / "api.db"
    build_example(path)
    return path


@pytest.fixture
def api(example_db: Path, tmp_path: Path) -> Iterator[ApiHarness]:
    """The API over a copy of the example database, with the apac-midmarket pilot."""
    shutil.copy(example_db, tmp_path / "api.db")
    for harness in api_harness(tmp_path, ONE_DAY_DROP):
        context = harness.context
        pilot = NewPilot(
            pilot_id="apac",
            csm_groups=["apac-midmarket"],
            rules=["core_feature_drop", "sponsor_left"],
            playbooks=["at_risk_response"],
            starts_on=date(2026, 11, 1),
        )
        create_pilot(context.store, context.plan, pilot, by="ops@vendor.example")
        yield harness


def start(api: ApiHarness, body: dict[str, Any], token: str | None = None) -> Any:
    headers = api.headers(token or api.key("admin"))
    return api.client.post("/v1/runs", json=body, headers=headers)


def count(api: ApiHarness, sql: str, *params: object) -> int:
    found: int = api.context.store.db.execute(sql, params).fetchone()[0]
    return found


def test_a_run_computes_scores_rules_and_playbooks_and_is_stored(api: ApiHarness) -> None:
    answer = start(api, {"as_of": FRIDAY})
    assert answer.status_code == 201
    (run,) = answer.json()["runs"]
    # As tests/playbooks/test_playbooks.py works out on the same data: ferrum (in the pilot) enters
    # At-Risk on two rules and gets the live playbook (a task and a renewal flag);
    # bluepeak (in no pilot) enters At-Risk in shadow; the other four are Healthy.
    assert (run["as_of"], run["status"], run["accounts"], run["scores"]) == (FRIDAY, "ok", 6, 6)
    assert run["failures"] == []
    assert run["actions"] == {
        "evaluated": 6,
        "skipped": 0,
        "ended": 0,
        "rules_fired": 4,
        "rules_fired_live": 2,
        "transitions": 6,
        "overrides_ended": 0,
        "playbooks_live": 1,
        "playbooks_shadow": 1,
        "playbooks_held_back": 0,
        "playbooks_already_open": 0,
        "tasks": 1,
        "deliveries": 2,
    }
    assert run["signals"] == count(api, "SELECT count(*) FROM signals WHERE run_id = ?", 1)
    assert run["signals"] > 0
    assert count(api, "SELECT count(*) FROM tasks WHERE account_id = 'ferrum'") == 1

    stored = api.client.get(f"/v1/runs/{run['run_id']}", headers=api.headers(api.key("read")))
    assert stored.status_code == 200
    assert stored.json() == run


def test_a_range_replays_each_day_in_order_and_accounts_narrow_it(api: ApiHarness) -> None:
    answer = start(api, {"as_of": "2026-11-18", "through": FRIDAY, "accounts": ["ferrum"]})
    assert answer.status_code == 201
    runs = answer.json()["runs"]
    assert [(r["run_id"], r["as_of"], r["accounts"]) for r in runs] == [
        (1, "2026-11-18", 1),
        (2, "2026-11-19", 1),
        (3, FRIDAY, 1),
    ]
    assert count(api, "SELECT count(DISTINCT account_id) FROM signals") == 1


@pytest.mark.parametrize(
    ("body", "status", "field", "reason"),
    [
        ({"as_of": "2026-13-01"}, 400, "body.as_of", "invalid RFC3339 encoded date"),
        ({"as_of": FRIDAY, "colour": 1}, 400, "body.colour", "unknown field"),
        ({}, 400, "body.as_of", "required field"),
        (
            {"as_of": FRIDAY, "accounts": []},
            400,
            "body.accounts",
            "expected `array` of length >= 1",
        ),
        (
            {"as_of": "2100-01-01"},
            422,
            "body.as_of",
            "2100-01-01 is in the future: a run computes a day whose data has arrived",
        ),
        (
            {"as_of": FRIDAY, "through": "2026-11-19"},
            422,
            "body.through",
            "2026-11-19 is before as_of 2026-11-20",
        ),
        (
            {"as_of": "2026-08-01", "through": FRIDAY},
            422,
            "body.through",
            "112 days from 2026-08-01 to 2026-11-20: at most 92 per request; split a longer replay",
        ),
        (
            {"as_of": FRIDAY, "accounts": ["ferrum", "nobody"]},
            422,
            "body.accounts[1]",
            "no account 'nobody'",
        ),
    ],
)
def test_a_bad_request_runs_nothing_and_names_the_field(
    api: ApiHarness, body: dict[str, Any], status: int, field: str, reason: str
) -> None:
    answer = start(api, body)
    assert answer.status_code == status
    (error,) = answer.json()["errors"]
    assert error["field"] == field
    assert error["reason"].startswith(reason)
    assert count(api, "SELECT count(*) FROM runs") == 0


def test_a_missing_run_is_a_404_and_a_bad_id_a_400(api: ApiHarness) -> None:
    headers = api.headers(api.key("read"))
    missing = api.client.get("/v1/runs/7", headers=headers)
    assert (missing.status_code, missing.json()["detail"]) == (404, "no run 7")
    for run_id in (0, 2**63):
        bad = api.client.get(f"/v1/runs/{run_id}", headers=headers)
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["field"] == "path.run_id"


def test_a_group_limited_key_reads_no_run_not_even_whether_one_exists(api: ApiHarness) -> None:
    start(api, {"as_of": FRIDAY})
    token = api.key("read", groups=["apac-midmarket"])
    existing = api.client.get("/v1/runs/1", headers=api.headers(token))
    missing = api.client.get("/v1/runs/99", headers=api.headers(token))
    assert existing.status_code == missing.status_code == 403
    assert (
        existing.json()["detail"]
        == missing.json()["detail"]
        == (
            "a run covers every CSM group and its counts are totals over all of them; this key "
            "is limited to apac-midmarket: read its accounts' health instead"
        )
    )


def test_starting_a_run_needs_an_admin_key(api: ApiHarness) -> None:
    assert api.client.post("/v1/runs", json={"as_of": FRIDAY}).status_code == 401
    for scopes in (["read"], ["ingest", "act"]):
        answer = start(api, {"as_of": FRIDAY}, api.key(*scopes))
        assert answer.status_code == 403
    assert api.client.get("/v1/runs/1").status_code == 401
    assert count(api, "SELECT count(*) FROM runs") == 0


class Broken:
    """A source that always fails."""

    name = "broken"

    def compute(self, batch: SignalBatch) -> Iterable[Signal]:
        raise RuntimeError("feed unreachable")


class BrokenPlugin:
    @hookimpl
    def register_signal_sources(self, register: Any) -> None:
        register(Broken())


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[ApiClient]:
    registry = load_registry(extra=[("broken", BrokenPlugin())])
    with ApiClient(lambda: create_app(api_settings(tmp_path), registry=registry)) as api:
        context = api.context
        accounts = [{"account_id": "a1", "name": "A", "seats_purchased": 10, "seats_assigned": 4}]
        ingest(
            context.store,
            context.registry,
            "accounts",
            convert_records(context.registry, "accounts", accounts),
        )
        yield api


def test_without_strict_a_failing_source_degrades_the_run(broken: ApiClient) -> None:
    (run,) = start(broken, {"as_of": FRIDAY}).json()["runs"]
    assert run["status"] == "degraded"
    assert run["failures"] == [
        {
            "plugin": "broken",
            "component": "source:broken",
            "error": "RuntimeError: feed unreachable",
        }
    ]
    assert count(broken, "SELECT count(*) FROM signals WHERE run_id = ?", run["run_id"]) > 0


def test_strict_stores_nothing_for_the_failed_day_and_stops_there(broken: ApiClient) -> None:
    answer = start(broken, {"as_of": "2026-11-19", "through": FRIDAY, "strict": True})
    assert answer.status_code == 201
    (run,) = answer.json()["runs"]
    assert (run["run_id"], run["as_of"], run["status"]) == (1, "2026-11-19", "failed")
    assert run["failures"] == [
        {
            "plugin": "broken",
            "component": "source:broken",
            "error": "RuntimeError: feed unreachable",
        }
    ]
    assert count(broken, "SELECT count(*) FROM signals") == 0
    assert count(broken, "SELECT count(*) FROM runs") == 1
    stored = broken.client.get("/v1/runs/1", headers=broken.headers(broken.key("read")))
    assert stored.json() == run
