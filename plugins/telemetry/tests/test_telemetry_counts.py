"""Counted usage: per account-day counts, honest bounds, and unknown that is not zero."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import telltales_telemetry
from telltales.errors import InputError
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)


def account(account_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "name": account_id.title(),
        "segment": "smb",
        "seats_purchased": 40,
        "seats_assigned": 30,
        "core_features": ["reporting", "alerts"],
        **fields,
    }


def count(account_id: str, day: date, users: int, feature: str = "", **more: int) -> dict:
    return {
        "account_id": account_id,
        "day": day.isoformat(),
        "feature": feature,
        "active_users": users,
        **more,
    }


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_telemetry, name="telemetry")
    return telltales_env


def test_distinct_users_over_a_window_are_the_busiest_day_and_say_so(
    env: PluginHarness,
) -> None:
    env.add_accounts([account("c1")])
    env.ingest(
        "telemetry.daily_counts",
        [
            count("c1", DAY, 9, logins=9),
            count("c1", DAY - timedelta(days=20), 14, logins=20),  # in 30 days, not in 14
            count("c1", DAY - timedelta(days=40), 30, logins=30),  # outside both windows
            count("c1", DAY, 6, "reporting", events=12),
            count("c1", DAY - timedelta(days=3), 8, "reporting", events=5),
            count("c1", DAY - timedelta(days=20), 10, "reporting", events=10),
            count("c1", DAY - timedelta(days=5), 2, "alerts", events=2),
        ],
    )
    assert env.run(DAY).status == "ok"
    found = env.signals("c1", DAY)
    s = found["telemetry.seat_utilization_30d"]
    assert s.value == round(14 / 40, 4)
    assert s.evidence == (
        "at least 14 of 40 purchased seats active in the 30 days to 2026-11-20 (daily peak: "
        "counts name no users) (at least 35%), the busiest day is below the 50% that "
        "deserves a conversation; distinct users over the window may be more"
    )
    assert found["telemetry.seat_utilization_14d"].value == round(9 / 40, 4)
    s = found["telemetry.feature_adoption_30d.reporting"]
    assert s.value == round(10 / 40, 4)
    assert s.evidence.startswith("at least 10 of 40 seats used core feature reporting")
    assert found["telemetry.core_feature_adoption_30d"].value == round(2 / 40, 4)
    # Busiest day of reporting: 8 in the last 14 days, 10 in the 14 before: -20%.
    s = found["telemetry.feature_drop_14d.reporting"]
    assert s.value == pytest.approx(-0.2)
    assert s.evidence == (
        "busiest day's users of reporting: 8 in the 14 days to 2026-11-20, 10 in the 14 "
        "before, -20%"
    )
    # Logins in 30 days from the account rows: 9 + 20 = 29, over at least 14 users.
    s = found["telemetry.weekly_logins_per_user"]
    assert s.value == round(29 / (30 / 7) / 14, 4)
    assert s.evidence == (
        "29 logins by at least 14 active users (daily peak: counts name no users) in the 30 "
        "days to 2026-11-20: at most 0.5 per user per week"
    )
    # People by name: counts have none, so no teams and no top-two share.
    assert "telemetry.active_teams_30d" not in found
    assert "telemetry.top_two_user_share_30d" not in found


def test_trends_from_counts_equal_trends_from_the_rows_they_count(env: PluginHarness) -> None:
    """Events and logins within a day are exact in counts: the trends agree with rows."""
    env.add_accounts([account("rows"), account("counts")])
    rows, counts = [], []
    for x in range(90):
        day = DAY - timedelta(days=x)
        events, logins = 3 + x % 7, 1 + x % 3
        for user in ("u1", "u2"):
            record = {"account_id": "rows", "user_id": user, "day": day.isoformat()}
            rows.append({**record, "feature": "reporting", "events": events, "logins": logins})
        counts.append(count("counts", day, 2, "reporting", events=2 * events, logins=2 * logins))
    env.ingest("telemetry.usage", rows)
    env.ingest("telemetry.daily_counts", counts)
    env.run(DAY)
    exact, counted = env.signals("rows", DAY), env.signals("counts", DAY)
    for key in (
        "telemetry.core_use_trend_30d",
        "telemetry.core_use_trend_60d",
        "telemetry.core_use_trend_90d",
        "telemetry.logins_flat_core_declining",
    ):
        assert counted[key].value == exact[key].value, key
        assert counted[key].evidence == exact[key].evidence, key
    # Two users a day, every day: the bound is also the exact count here.
    assert (
        counted["telemetry.seat_utilization_30d"].value
        == exact["telemetry.seat_utilization_30d"].value
    )


def test_a_day_counted_whole_is_not_added_to_its_feature_rows(env: PluginHarness) -> None:
    env.add_accounts([account("c1")])
    env.ingest(
        "telemetry.daily_counts",
        [
            count("c1", DAY, 5, events=10, logins=4),
            count("c1", DAY, 3, "reporting", events=7, logins=4),
            count("c1", DAY, 4, "dashboards", events=3),
            count("c1", DAY - timedelta(days=1), 2, "reporting", events=1, logins=2),
            count("c1", DAY - timedelta(days=1), 3, "dashboards", events=1, logins=1),
        ],
    )
    env.run(DAY)
    found = env.signals("c1", DAY)
    # Users: the whole-day row's 5 on DAY, the busiest feature's 3 the day before.
    assert found["telemetry.seat_utilization_14d"].value == round(5 / 40, 4)
    # Logins: 4 from DAY's whole-day row (not 4 + 4), 2 + 1 the day before.
    assert found["telemetry.weekly_logins_per_user"].evidence.startswith(
        "7 logins by at least 5 active users"
    )


def test_rows_of_users_win_over_counts_for_the_same_account(env: PluginHarness) -> None:
    env.add_accounts([account("both")])
    env.ingest("telemetry.daily_counts", [count("both", DAY, 30, "reporting", events=30)])
    usage = {"account_id": "both", "day": DAY.isoformat(), "feature": "reporting", "events": 1}
    env.ingest("telemetry.usage", [{**usage, "user_id": "u1"}, {**usage, "user_id": "u2"}])
    env.run(DAY)
    s = env.signals("both", DAY)["telemetry.seat_utilization_30d"]
    assert s.value == round(2 / 40, 4)
    assert not s.evidence.startswith("at least")


def test_a_resent_day_replaces_its_counts(env: PluginHarness) -> None:
    env.add_accounts([account("c1")])
    first = [count("c1", DAY, 5), count("c1", DAY, 5, "reporting", events=3)]
    assert env.ingest("telemetry.daily_counts", first) == 2
    env.ingest("telemetry.daily_counts", [count("c1", DAY, 7)])
    stored = env.store.db.execute(
        "SELECT feature, active_users FROM telemetry_daily_counts_by_date"
    ).fetchall()
    assert stored == [("", 7)]


def test_events_without_an_active_user_are_refused(env: PluginHarness) -> None:
    env.add_accounts([account("c1")])
    with pytest.raises(InputError, match="events or logins counted on a day with no active user"):
        env.ingest("telemetry.daily_counts", [count("c1", DAY, 0, events=3)])


def test_seats_assigned_unknown_gives_no_deployment_share(env: PluginHarness) -> None:
    """Left out (or null), seats assigned is unknown: no share over it, never 0%."""
    env.add_accounts(
        [
            account("known"),
            account("unknown", seats_assigned=None),
            {k: v for k, v in account("left_out").items() if k != "seats_assigned"},
        ]
    )
    env.ingest(
        "telemetry.daily_counts", [count(a, DAY, 3) for a in ("known", "unknown", "left_out")]
    )
    env.run(DAY)
    assert env.signals("known", DAY)["account.seat_deployment"].value == 0.75
    for account_id in ("unknown", "left_out"):
        found = env.signals(account_id, DAY)
        assert "account.seat_deployment" not in found
        assert "telemetry.seat_deployment_pctl" not in found
        assert "telemetry.seat_utilization_30d" in found
    stored = env.store.db.execute(
        "SELECT account_id, seats_assigned FROM accounts ORDER BY 1"
    ).fetchall()
    assert stored == [("known", 30), ("left_out", None), ("unknown", None)]
