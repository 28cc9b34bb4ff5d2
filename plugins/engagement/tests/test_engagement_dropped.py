"""A dropped outcome counts as dropped from the day it was dropped, never before."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import telltales_engagement
from telltales.errors import InputError
from telltales.testing import PluginHarness

PLANNED: dict[str, Any] = {
    "outcome_id": "o1",
    "account_id": "a1",
    "title": "Dashboards everywhere",
    "planned_on": "2026-03-01",
    "due": "2026-06-30",
    "status": "planned",
}


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_engagement, name="engagement")
    telltales_env.add_accounts([{"account_id": "a1", "name": "A"}])
    return telltales_env


def _planned(env: PluginHarness, day: date) -> str:
    env.run(day)
    return env.signals("a1", day)["engagement.outcomes_planned"].evidence


def test_a_drop_counts_from_its_day(env: PluginHarness) -> None:
    env.ingest("engagement.outcomes", [PLANNED])
    env.ingest(
        "engagement.outcomes", [{**PLANNED, "status": "dropped", "dropped_on": "2026-08-01"}]
    )
    before = _planned(env, date(2026, 7, 31))
    assert before == "1 success-plan outcome planned by 2026-07-31: 0 verified, 0 missed, 1 open"
    after = _planned(env, date(2026, 8, 1))
    assert after.endswith("1 dropped, not counted")


def test_a_drop_sent_without_its_day_is_true_from_the_day_it_is_stored(
    env: PluginHarness,
) -> None:
    today = datetime.now(UTC).date()
    env.ingest("engagement.outcomes", [PLANNED])
    env.ingest("engagement.outcomes", [{**PLANNED, "status": "dropped"}])
    # Sent again the next day, it keeps the day it was first stored.
    env.ingest("engagement.outcomes", [{**PLANNED, "status": "dropped"}])
    assert _planned(env, today - timedelta(days=1)).endswith("0 verified, 0 missed, 1 open")
    assert _planned(env, today).endswith("1 dropped, not counted")


def test_an_outcome_first_sent_dropped_never_counted(env: PluginHarness) -> None:
    env.ingest("engagement.outcomes", [{**PLANNED, "status": "dropped"}])
    assert _planned(env, date(2026, 3, 1)).endswith("1 dropped, not counted")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "planned", "dropped_on": "2026-08-01"}, "field 'dropped_on' is only allowed"),
        (
            {"status": "dropped", "dropped_on": "2026-02-01"},
            "field 'dropped_on' \\(2026-02-01\\) is before planned_on",
        ),
    ],
)
def test_the_drop_day_is_checked(env: PluginHarness, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        env.ingest("engagement.outcomes", [{**PLANNED, **fields}])
