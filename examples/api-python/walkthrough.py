"""Call a running telltales API the way an internal tool would, from Python with httpx.

Upsert the example accounts, ingest every example plugin's records, set up a pilot for
the APAC mid-market group, run 2026-11-20, read ferrum's health, complete the task the
pilot's playbook opened, record two renewals and read two metrics for November.

    TELLTALES_URL=http://127.0.0.1:8000 TELLTALES_TOKEN=tt_... python walkthrough.py

The token must be an admin key (pilots and runs need it). Any HTTP error stops the
walkthrough with exit status 1 and the problem detail the API answered.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

DATA = Path(__file__).resolve().parent.parent / "data"
DAY = "2026-11-20"
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}
PILOT = {
    "pilot_id": "apac-pilot",
    "csm_groups": ["apac-midmarket"],
    "rules": ["core_feature_drop", "sponsor_left", "score_red"],
    "playbooks": ["at_risk_response"],
    "starts_on": "2026-11-01",
}
RENEWALS = [
    {
        "account_id": "ferrum",
        "renewal_date": "2026-11-25",
        "arr_before": 150_000,
        "arr_after": 0,
        "discount_percent": 0,
        "outcome": "churned",
    },
    {
        "account_id": "bluepeak",
        "renewal_date": "2026-11-26",
        "arr_before": 420_000,
        "arr_after": 462_000,
        "discount_percent": 5,
        "outcome": "renewed",
    },
]


class ApiError(Exception):
    """An answer of 400 or more: the walkthrough stops and shows the problem detail."""


# [docs:client]
def client() -> httpx.Client:
    """A client for TELLTALES_URL that sends TELLTALES_TOKEN as a bearer token."""
    try:
        url, token = os.environ["TELLTALES_URL"], os.environ["TELLTALES_TOKEN"]
    except KeyError as missing:
        sys.exit(f"set {missing.args[0]} (see README.md)")
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def call(http: httpx.Client, method: str, path: str, **options: Any) -> Any:
    """Send one request and return its JSON body; raise ApiError with the problem detail."""
    response = http.request(method, path, **options)
    if response.is_error:
        raise ApiError(f"{method} {path} -> {response.status_code}\n{response.text}")
    return response.json()
    # [/docs:client]


def records(path: Path) -> list[Any]:
    """The records of an example file: a JSON array, or one JSON object a line (.jsonl)."""
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    loaded: list[Any] = json.loads(path.read_text())
    return loaded


# [docs:ingest]
def load_data(http: httpx.Client) -> None:
    """Accounts first (every record names one), then each source's file, named for it."""
    accounts = records(DATA / "accounts.json")
    upserted = call(http, "PUT", "/v1/accounts", json={"accounts": accounts})
    print(f"accounts: {upserted['created']} created, {upserted['updated']} updated")
    for path in sorted(DATA.glob("*.json*")):
        source = path.name.removesuffix(path.suffix)
        if source == "accounts":
            continue
        stored = call(http, "POST", f"/v1/ingest/{source}", json={"records": records(path)})
        print(f"ingested {source}: {stored['stored']} of {stored['received']} records stored")
        # [/docs:ingest]


def start_pilot(http: httpx.Client) -> None:
    """The rules and the playbook go live for the APAC mid-market group only."""
    pilot = call(http, "POST", "/v1/pilots", json=PILOT)
    print(f"pilot {pilot['pilot_id']}: {pilot['state']} for {', '.join(pilot['csm_groups'])}")


# [docs:run]
def run_day(http: httpx.Client) -> None:
    """Run the day; the Idempotency-Key makes a retry answer the same run, not a second."""
    answer = call(
        http,
        "POST",
        "/v1/runs",
        json={"as_of": DAY},
        headers={"Idempotency-Key": f"walkthrough-run-{DAY}"},
    )
    for run in answer["runs"]:
        actions = run["actions"]
        print(
            f"run {run['run_id']} of {run['as_of']}: {run['status']}, accounts: {run['accounts']},"
            f" rules fired: {actions['rules_fired']},"
            f" playbooks started: {actions['playbooks_live']}"
        )
        # [/docs:run]


# [docs:health]
def show_health(http: httpx.Client, account_id: str) -> None:
    """The status, the strongest reason behind it and the one thing to do next."""
    health = call(http, "GET", f"/v1/accounts/{account_id}/health")
    status = health["status"]
    # The first rule holding now (fired or still active); a pending one holds nothing yet.
    holding = [r for r in health["rules"] if r["state"] in ("fired", "active")]
    reason = holding[0]["evidence"] if holding else status["transition"]["evidence"]
    print(f"\n{health['account']['name']} ({account_id})")
    print(f"  status:      {status['label']} since {status['since']}")
    print(f"  top reason:  {reason}")
    print(f"  next action: {health['next_action']['action']}")
    print(f"  why:         {health['next_action']['why']}\n")
    # [/docs:health]


# [docs:tasks]
def every_item(http: httpx.Client, path: str, params: dict[str, str]) -> Iterator[Any]:
    """Every item of a list, page after page: ``next_cursor`` is null on the last."""
    query = dict(params)
    while True:
        page = call(http, "GET", path, params=query)
        yield from page["items"]
        if page["next_cursor"] is None:
            return
        query["cursor"] = page["next_cursor"]


def complete_open_tasks(http: httpx.Client) -> None:
    """Complete every open task, as a CSM would once the account has been reviewed."""
    # Read every page first: completing a task takes it out of the open ones.
    for task in list(every_item(http, "/v1/tasks", {"state": "open"})):
        done = call(http, "POST", f"/v1/tasks/{task['task_id']}/complete")
        print(f"task {done['task_id']} for {done['account_id']}: {done['state']}")
        # [/docs:tasks]


def record_renewals(http: httpx.Client) -> None:
    """The outcomes that retention is computed from: ferrum churned, bluepeak expanded."""
    call(http, "PUT", "/v1/renewals", json={"renewals": RENEWALS})
    print(f"renewals recorded: {len(RENEWALS)}")


def show_metrics(http: httpx.Client) -> None:
    """Time to acknowledge risk and dollar retention for November."""
    period = f"{PERIOD['from']} to {PERIOD['to']}"
    ack = call(http, "GET", "/v1/metrics/time-to-acknowledge", params=PERIOD)["overall"]
    print(f"\ntime to acknowledge, {period}:")
    print(
        f"  At-Risk episodes: {ack['episodes']}, acknowledged: {ack['acknowledged']},"
        f" still waiting: {ack['unacknowledged_open']}"
    )
    print(f"  median {hours(ack['median_hours'])}, p90 {hours(ack['p90_hours'])}")
    kept = call(http, "GET", "/v1/metrics/retention", params=PERIOD)["overall"]
    print(f"retention, {period}:")
    print(
        f"  {kept['renewals']} renewals ({kept['renewed']} renewed, {kept['churned']} churned),"
        f" ARR before {kept['arr_before']:,.0f}, after {kept['arr_after']:,.0f}"
    )
    print(f"  GRR {percent(kept['grr'])}, NRR {percent(kept['nrr'])}")


def hours(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} h"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def main() -> int:
    with client() as http:
        try:
            load_data(http)
            start_pilot(http)
            run_day(http)
            show_health(http, "ferrum")
            complete_open_tasks(http)
            record_renewals(http)
            show_metrics(http)
        except ApiError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except httpx.TransportError as error:
            print(f"error: cannot reach {http.base_url}: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
