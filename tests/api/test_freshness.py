"""Freshness over the API: a stale run says so, and so do /readyz and the health document.

The example data ends on 2026-11-20 (usage) and 2026-11-19 (tickets); the tests run
it on a later day, as the issue's quickstart did, and on its own last day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from support.api import ApiHarness, api_over_copy
from support.health_example import ingested_example
from telltales import clock

LAST_USAGE = date(2026, 11, 20)


@pytest.fixture(scope="module")
def example_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested_example(tmp_path_factory)


@pytest.fixture
def api(example_template: Path, tmp_path: Path) -> Iterator[ApiHarness]:
    yield from api_over_copy(example_template, tmp_path)


def start(api: ApiHarness, day: date) -> dict:
    answer = api.client.post(
        "/v1/runs", json={"as_of": day.isoformat()}, headers=api.headers(api.key("admin"))
    )
    assert answer.status_code == 201, answer.text
    run: dict = answer.json()["runs"][0]
    return run


def test_a_stale_run_names_its_sources_when_started_and_when_read(api: ApiHarness) -> None:
    day = LAST_USAGE + timedelta(days=17)
    run = start(api, day)
    assert run["status"] == "stale"
    stale = {s["source"]: s for s in run["stale"]}
    assert stale["telemetry"] == {
        "source": "telemetry",
        "last_day": "2026-11-20",
        "days_old": 17,
        "limit_days": 3,
    }
    read = api.client.get(f"/v1/runs/{run['run_id']}", headers=api.headers(api.key("read")))
    assert read.json() == run


def test_the_health_document_carries_what_the_run_knew(api: ApiHarness) -> None:
    token = api.key("read")
    stale_day = LAST_USAGE + timedelta(days=17)
    start(api, LAST_USAGE)
    start(api, stale_day)
    for day, stale in ((LAST_USAGE, False), (stale_day, True)):
        body = api.client.get(
            f"/v1/accounts/northwind/health?as_of={day}", headers=api.headers(token)
        ).json()
        telemetry = next(f for f in body["freshness"] if f["source"] == "telemetry")
        assert telemetry == {
            "source": "telemetry",
            "last_day": "2026-11-20",
            "account_last_day": "2026-11-20",
            "days_old": (day - LAST_USAGE).days,
            "limit_days": 3,
            "stale": stale,
        }
        measures = {m["signal_key"]: m for m in body["score"]["breakdown"]}
        assert (measures["telemetry.seat_utilization_30d"]["value"] is None) == stale


@pytest.mark.skipif(
    clock.today() <= LAST_USAGE + timedelta(days=14), reason="needs the example data stale"
)
def test_readyz_lists_the_sources_stale_today(api: ApiHarness) -> None:
    body = api.client.get("/readyz").json()
    assert body["status"] == "ok"
    today = clock.today()
    stale = {s["source"]: s for s in body["stale"]}
    assert stale["telemetry"]["days_old"] == (today - LAST_USAGE).days
    assert set(stale) == {"support", "telemetry"}
