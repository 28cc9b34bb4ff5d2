"""The whole flow over HTTP, against a real ``telltales serve`` process on 127.0.0.1.

A key from the CLI; accounts upserted and every example plugin's records ingested;
a pilot for the APAC mid-market group; a run; the At-Risk account's health; its task
completed; renewals recorded; every metric read, by an admin key and by a key limited
to the pilot's group. The example book (examples/data) is the same as the demo's:
ferrum (apac-midmarket) enters At-Risk live under the pilot, bluepeak (another
group) enters At-Risk in shadow mode.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import Server, environment, start_server, stop_server, telltales

ROOT = Path(__file__).parents[2]
DATA = ROOT / "examples" / "data"
CONFIG = ROOT / "examples" / "telltales.toml"
DAY = "2026-11-20"
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}


def records(path: Path) -> list[Any]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    loaded: list[Any] = json.loads(path.read_text())
    return loaded


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    db = tmp_path / "flow.db"
    env = environment(TELLTALES_CONFIG=str(CONFIG))
    assert telltales("--db", db, "init", env=env).returncode == 0
    tokens = {}
    for name, options in {
        "admin": ["--scope", "admin"],
        "apac": ["--scope", "read", "--csm-group", "apac-midmarket"],
    }.items():
        created = telltales("--db", db, "keys", "create", *options, "--name", name, env=env)
        assert created.returncode == 0, created.stderr
        tokens[name] = created.stdout.strip()
    server = start_server(db, "--workers", "1", env=env)
    try:
        server.wait_ready()
        yield server, tokens
    finally:
        stop_server(server)


def test_the_whole_flow_over_http(served: tuple[Server, dict[str, str]]) -> None:
    server, tokens = served
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    apac = {"Authorization": f"Bearer {tokens['apac']}"}
    http = server.http

    def ok(response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    # Accounts, then every plugin's records through its own route.
    accounts = records(DATA / "accounts.json")
    upserted = ok(http.put("/v1/accounts", json={"accounts": accounts}, headers=admin))
    assert upserted == {"received": 6, "created": 6, "updated": 0, "unchanged": 0}
    for path in sorted(DATA.glob("*.json*")):
        source = path.name.removesuffix(path.suffix)
        if source == "accounts":
            continue
        batch = records(path)
        stored = ok(http.post(f"/v1/ingest/{source}", json={"records": batch}, headers=admin))
        expected = {"received": len(batch), "stored": len(batch), "folded": 0}
        assert stored == {"source": source, **expected}

    pilot = {
        "pilot_id": "apac-pilot",
        "csm_groups": ["apac-midmarket"],
        "rules": ["core_feature_drop", "sponsor_left", "score_red"],
        "playbooks": ["at_risk_response"],
        "starts_on": "2026-11-01",
    }
    assert ok(http.post("/v1/pilots", json=pilot, headers=admin), 201)["state"] == "enabled"

    # A run; retried with the same Idempotency-Key, it is answered again, not run again.
    retry_safe = {**admin, "Idempotency-Key": "nightly-2026-11-20"}
    first = http.post("/v1/runs", json={"as_of": DAY}, headers=retry_safe)
    (run,) = ok(first, 201)["runs"]
    assert (run["status"], run["accounts"], run["actions"]["playbooks_live"]) == ("ok", 6, 1)
    again = http.post("/v1/runs", json={"as_of": DAY}, headers=retry_safe)
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    assert ok(http.get(f"/v1/runs/{run['run_id']}", headers=admin))["run_id"] == run["run_id"]

    # Health: At-Risk, why, and the one thing to do.
    health = ok(http.get("/v1/accounts/ferrum/health", headers=apac))
    assert health["status"]["status"] == "at_risk"
    assert health["status"]["transition"]["rules"] == ["core_feature_drop", "sponsor_left"]
    assert "reporting: 10 active users" in health["status"]["transition"]["evidence"]
    action = health["next_action"]
    assert action["kind"] == "task"
    # The limited key does not see the other group's account (404, as if missing).
    assert http.get("/v1/accounts/bluepeak/health", headers=apac).status_code == 404

    # The task the live playbook created, completed by the act of a key.
    (task,) = ok(http.get("/v1/tasks", params={"state": "open"}, headers=admin))["items"]
    assert (task["task_id"], task["account_id"]) == (action["task_id"], "ferrum")
    done = ok(http.post(f"/v1/tasks/{task['task_id']}/complete", headers=admin))
    assert done["state"] == "done"
    after = ok(http.get("/v1/accounts/ferrum/health", headers=admin))
    assert after["tasks"] == []

    # Renewals: ferrum churned, bluepeak renewed with 20% more and a 10% discount.
    renewals = [
        {
            "account_id": "ferrum",
            "renewal_date": "2026-11-25",
            "arr_before": 100_000,
            "arr_after": 0,
            "discount_percent": 0,
            "outcome": "churned",
        },
        {
            "account_id": "bluepeak",
            "renewal_date": "2026-11-26",
            "arr_before": 100_000,
            "arr_after": 120_000,
            "discount_percent": 10,
            "outcome": "renewed",
        },
    ]
    ok(http.put("/v1/renewals", json={"renewals": renewals}, headers=admin))

    def metric(name: str, headers: dict[str, str], **params: Any) -> Any:
        return ok(http.get(f"/v1/metrics/{name}", params={**PERIOD, **params}, headers=headers))

    # GRR = (min(0, 100k) + min(120k, 100k)) / 200k = 0.5; NRR = (0 + 120k) / 200k = 0.6.
    retention = metric("retention", admin)["overall"]
    assert (retention["renewals"], retention["grr"], retention["nrr"]) == (2, 0.5, 0.6)
    # The APAC key sees ferrum only: GRR = NRR = 0 / 100k = 0.
    limited = metric("retention", apac)
    assert (limited["overall"]["renewals"], limited["overall"]["grr"]) == (1, 0.0)

    # The task was completed: one episode acknowledged, none waiting.
    acknowledged = metric("time-to-acknowledge", admin)["overall"]
    assert (acknowledged["episodes"], acknowledged["acknowledged"]) == (1, 1)
    assert acknowledged["unacknowledged_open"] == 0
    assert acknowledged["median_hours"] is not None
    completion = metric("playbook-completion", admin)["overall"]
    assert (completion["runs"], completion["completed"], completion["rate"]) == (1, 1, 1.0)
    # ferrum: At-Risk and a live playbook ran (a); bluepeak: At-Risk in shadow mode (b).
    cohorts = metric("renewal-by-cohort", admin)
    assert [(c["risk_cohort"], c["renewals"], c["renewed"]) for c in cohorts["overall"]] == [
        ("flagged_with_playbook", 1, 0),
        ("flagged_without_playbook", 1, 1),
        ("not_flagged", 0, 0),
    ]
    # Discounts are averaged over renewed renewals: the flagged ones have bluepeak's 10%.
    discounting = metric("discounting", admin)["overall"]
    assert (discounting["flagged"]["renewals"], discounting["churned_left_out"]) == (1, 1)
    assert discounting["flagged"]["mean_discount_percent"] == 10.0
    # Entered on 2026-11-20: too young for a 30-day reversal window today.
    reversal = metric("risk-reversal", admin, window_days=30, as_of="2026-11-23")["overall"]
    assert (reversal["episodes"], reversal["old_enough"], reversal["rate"]) == (2, 0, None)
    load = metric("alert-load", admin)["overall"]
    assert load["fired_live"] + load["fired_shadow"] == run["actions"]["rules_fired"]
    assert load["fired_live"] == run["actions"]["rules_fired_live"]
