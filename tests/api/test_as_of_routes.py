"""No route that takes a day answers with a record from after that day.

The API over two databases that agree on everything known by ``CUT``, one of which
learned newer account versions and records later (tests/support/history_world.py):
runs as of ``CUT`` and the month before through ``POST /v1/runs``, then every route
that takes a day, asked about those days, answers both the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telltales.metrics import DEFINITIONS
from telltales.testing import ApiClient
from telltales_api import create_app
from telltales_api.context import ApiSettings

from tests.support.history_world import CUT, build_known, build_learned

BEFORE = CUT - timedelta(days=30)
DAYS = {"cut": CUT.isoformat(), "before": BEFORE.isoformat()}
ACCOUNTS = ("northwind", "bluepeak", "ferrum", "tidewater")

ROUTES = [
    *(f"/v1/accounts?as_of={day}" for day in DAYS.values()),
    *(f"/v1/accounts?as_of={day}&renewal_within_days=150" for day in DAYS.values()),
    *(f"/v1/accounts?as_of={day}&status=healthy" for day in DAYS.values()),
    *(f"/v1/accounts/{a}/health?as_of={day}" for a in ACCOUNTS for day in DAYS.values()),
    *(f"/v1/accounts/{a}/signals?as_of={day}" for a in ACCOUNTS for day in DAYS.values()),
    *(f"/v1/accounts/{a}?as_of={day}" for a in ACCOUNTS for day in DAYS.values()),
    f"/v1/accounts/northwind/transitions?as_of={CUT}",
    *(f"/v1/metrics/{metric}?from={BEFORE}&to={CUT}" for metric in DEFINITIONS),
    f"/v1/metrics/risk-reversal?from={BEFORE}&to={CUT}&as_of={CUT}",
    f"/v1/renewals?to={CUT}",
    f"/v1/tasks?due_before={CUT}",
]


class World:
    def __init__(self, folder: Path, build: Any) -> None:
        folder.mkdir()
        store, _ = build(folder / "api.db")
        store.close()
        config = folder / "telltales.toml"
        config.write_text("")
        settings = ApiSettings(db=folder / "api.db", config=config)
        self.api = ApiClient(lambda: create_app(settings))
        self.headers = self.api.headers(self.api.key("admin"))
        ran = self.api.client.post(
            "/v1/runs",
            json={"as_of": BEFORE.isoformat(), "through": CUT.isoformat()},
            headers=self.headers,
        )
        assert ran.status_code == 201, ran.text

    def get(self, path: str) -> tuple[int, Any]:
        response = self.api.client.get(path, headers=self.headers)
        return response.status_code, response.json()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, World]]:
    folder = tmp_path_factory.mktemp("routes")
    known, learned = World(folder / "known", build_known), World(folder / "learned", build_learned)
    yield known, learned
    known.api.__exit__()
    learned.api.__exit__()


@pytest.mark.parametrize("path", ROUTES)
def test_a_route_asked_about_a_day_answers_as_that_day(
    worlds: tuple[World, World], path: str
) -> None:
    known, learned = worlds
    status, expected = known.get(path)
    assert status == 200, expected
    assert learned.get(path) == (status, expected)


def test_the_runs_of_both_computed_the_same_days_and_accounts(worlds: tuple[World, World]) -> None:
    known, learned = worlds
    for run_id in (1, 31):
        status, found = learned.get(f"/v1/runs/{run_id}")
        assert status == 200
        expected = known.get(f"/v1/runs/{run_id}")[1]
        volatile = ("started_at", "finished_at")
        assert {k: v for k, v in found.items() if k not in volatile} == {
            k: v for k, v in expected.items() if k not in volatile
        }


def test_the_account_read_as_of_a_day_is_its_version_then(worlds: tuple[World, World]) -> None:
    _, learned = worlds
    before = learned.get(f"/v1/accounts/northwind/health?as_of={CUT}")[1]
    after = learned.get("/v1/accounts/northwind/health?as_of=2026-11-20")[1]
    assert before["account"]["renewal_date"] == "2027-03-31"
    assert after["account"]["renewal_date"] == "2028-03-31"
