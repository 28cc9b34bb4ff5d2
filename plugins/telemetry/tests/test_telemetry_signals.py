"""Every telemetry signal against values computed by hand from small usage sets."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import telltales_telemetry
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)


def row(user: str, feature: str, day: str, events: int, logins: int = 0, team: str = "") -> dict:
    return {
        "account_id": "a1",
        "user_id": user,
        "feature": feature,
        "day": day,
        "events": events,
        "logins": logins,
        "team": team,
    }


def active_users(users_by_account: dict[str, int]) -> list[dict]:
    """Each account's given number of users, each using reporting once on 2026-11-19."""
    return [
        {**row(f"u{n}", "reporting", "2026-11-19", 3, 1), "account_id": account_id}
        for account_id, users in users_by_account.items()
        for n in range(users)
    ]


def account(account_id: str = "a1", **fields: Any) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "name": account_id.title(),
        "segment": "smb",
        "seats_purchased": 10,
        "seats_assigned": 8,
        "core_features": ["reporting", "alerts"],
        **fields,
    }


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_telemetry, name="telemetry")
    return telltales_env


# Windows as of 2026-11-20: last 14 days 11-07..11-20, the 14 before 10-24..11-06,
# last 30 days 10-22..11-20, last 90 days 08-23..11-20.
USAGE = [
    row("u1", "reporting", "2026-11-20", 10, 1, "ops"),
    row("u1", "reporting", "2026-11-01", 10, 1, "ops"),
    row("u2", "reporting", "2026-11-01", 5, 1, "ops"),
    row("u3", "reporting", "2026-10-28", 5, 1, "finance"),
    row("u2", "alerts", "2026-11-15", 4, 0, "ops"),
    row("u4", "dashboards", "2026-11-10", 1, 1),
    row("u3", "alerts", "2026-10-01", 2, 1, "finance"),
    # After the run day: never read as of 2026-11-20.
    row("u5", "reporting", "2026-11-21", 100, 1, "sales"),
]


def test_utilisation_adoption_drops_coverage_and_logins(env: PluginHarness) -> None:
    env.add_accounts([account()])
    env.ingest("telemetry.usage", USAGE)
    result = env.run(DAY)
    assert result.status == "ok", result.failures

    # Active in the last 14 days: u1 (11-20), u2 (11-15), u4 (11-10) -> 3 of 10 seats.
    assert env.observed("a1", "telemetry.seat_utilization_14d", DAY) == (
        0.3,
        "3 of 10 purchased seats active in the 14 days to 2026-11-20 (30%), "
        "below the 50% that deserves a conversation",
    )
    assert env.signal("a1", "telemetry.seat_utilization_14d", DAY).dimension == "adoption"
    # Last 30 days add u3 (10-28) -> 4 of 10; u5 is in the future.
    assert env.signal("a1", "telemetry.seat_utilization_30d", DAY).value == 0.4

    # Reporting in 30 days: u1, u2, u3 -> 3/10; alerts: u2 only (u3's use is 10-01) -> 1/10.
    assert env.observed("a1", "telemetry.feature_adoption_30d.reporting", DAY) == (
        0.3,
        "3 of 10 seats used core feature reporting in the 30 days to 2026-11-20 "
        "(30%; below 30% would be weak)",
    )
    assert env.signal("a1", "telemetry.feature_adoption_30d.alerts", DAY).value == 0.1
    assert env.observed("a1", "telemetry.core_feature_adoption_30d", DAY) == (
        0.1,
        "weakest core feature is alerts: 1 of 10 seats used it in the 30 days to 2026-11-20 "
        "(10%, weak is below 30%)",
    )
    # Reporting: last 14 days {u1}, the 14 before {u1, u2, u3}: (1 - 3) / 3 = -66.67%.
    # Alerts had no users in the 14 before, so it has no drop signal.
    s = env.signal("a1", "telemetry.feature_drop_14d.reporting", DAY)
    assert s.evidence == (
        "active users of reporting: 1 in the 14 days to 2026-11-20, 3 in the 14 before, "
        "-67%, a drop of more than 30%"
    )
    assert s.value == pytest.approx(-0.6667)
    assert "telemetry.feature_drop_14d.alerts" not in env.signals("a1", DAY)
    # Reporting had 3 users before, under drop_min_users (5): too few for its change to
    # be the account's core-feature drop.
    assert "telemetry.core_feature_drop_14d" not in env.signals("a1", DAY)
    # Teams of users active in 30 days: ops (u1, u2), finance (u3); u4 has none -> 2.
    assert env.observed("a1", "telemetry.active_teams_30d", DAY) == (
        2,
        "2 teams with active users in the 30 days to 2026-11-20: finance, ops",
    )
    # Events in 30 days: u1 10 + 10 = 20, u2 5 + 4 = 9, u3 5, u4 1 -> 35; top two 29/35.
    assert env.observed("a1", "telemetry.top_two_user_share_30d", DAY) == (
        round(29 / 35, 4),
        "the two most active users (u1, u2) made 29 of 35 events in the 30 days to "
        "2026-11-20 (83%) across 4 active users",
    )
    # Logins in 30 days: 1 + 1 + 1 + 1 + 0 + 1 = 5; 5 / (30 / 7) / 4 users = 0.2917 a week.
    assert env.observed("a1", "telemetry.weekly_logins_per_user", DAY) == (
        round(5 * 7 / 30 / 4, 4),
        "5 logins by 4 active users in the 30 days to 2026-11-20: 0.3 per user per week",
    )


def test_alerts_adoption_is_called_weak(env: PluginHarness) -> None:
    env.add_accounts([account()])
    env.ingest("telemetry.usage", USAGE)
    env.run(DAY)
    assert env.signal("a1", "telemetry.feature_adoption_30d.alerts", DAY).evidence == (
        "1 of 10 seats used core feature alerts in the 30 days to 2026-11-20 (10%, weak: below 30%)"
    )


def linear_usage(start: date, days: int) -> list[dict]:
    """Core events 40, 39, ... 11 over 30 days; one login a day, every day."""
    return [
        row("u1", "reporting", (start + timedelta(days=x)).isoformat(), 40 - x, 1, "ops")
        for x in range(days)
    ]


def test_trend_and_the_flat_logins_warning(env: PluginHarness) -> None:
    env.configure_toml("[plugins.telemetry]\nwarning_window_days = 30\n")
    env.add_accounts([account()])
    env.ingest("telemetry.usage", linear_usage(DAY - timedelta(days=29), 30))
    env.run(DAY)
    # y = 40 - x over x = 0..29: slope -1, mean 25.5, -1 x 30 / 25.5 = -1.1765 per 30 days.
    assert env.observed("a1", "telemetry.core_use_trend_30d", DAY) == (
        round(-30 / 25.5, 4),
        "core-feature events averaged 25.5 a day over the 30 days to 2026-11-20; the fitted "
        "trend changes by -30.0 a day every 30 days (-118% of that average)",
    )
    # Over 60 days the first 30 are zeros: Σy = 765, Σxy = Σ(40 - k)(30 + k), k = 0..29
    # = 30 x 40 x 30 + Σk(40 - 30) - Σk² = 36000 + 10 x 435 - 8555 = 31795.
    # slope = (60 x 31795 - 1770 x 765) / (60 x 70210 - 1770²) = 553650 / 1079700,
    # mean 765 / 60 = 12.75, change = slope x 30 / 12.75.
    slope = (60 * 31795 - 1770 * 765) / (60 * 70210 - 1770**2)
    assert env.signal("a1", "telemetry.core_use_trend_60d", DAY).value == round(
        slope * 30 / 12.75, 4
    )
    # Logins: 1 a day, a flat line (0% per 30 days) while core use falls 118%: warning.
    assert env.observed("a1", "telemetry.logins_flat_core_declining", DAY) == (
        1,
        "logins +0% per 30 days while core-feature events -118% per 30 days over the 30 "
        "days to 2026-11-20; warning: logins hold up (within 10% or rising) while "
        "core-feature use declines faster than 10%",
    )


def test_no_warning_when_logins_fall_with_use(env: PluginHarness) -> None:
    env.configure_toml("[plugins.telemetry]\nwarning_window_days = 30\n")
    env.add_accounts([account()])
    rows = linear_usage(DAY - timedelta(days=29), 30)
    for x, record in enumerate(rows):
        record["logins"] = 30 - x  # logins fall as fast as use
    env.ingest("telemetry.usage", rows)
    env.run(DAY)
    s = env.signal("a1", "telemetry.logins_flat_core_declining", DAY)
    assert s.value == 0
    assert s.evidence.endswith("no warning: logins are falling too")


def test_percentiles_rank_within_the_segment(env: PluginHarness) -> None:
    env.configure_toml("[plugins.telemetry]\nmin_segment_peers = 2\n")
    # smb accounts active users: s1 1, s2 2, s3 2, s4 4 (of 10 seats); e1 is enterprise.
    env.add_accounts(
        [account(f"s{n}") for n in range(1, 5)]
        + [account("e1", segment="enterprise"), account("lone", segment="mid-market")]
    )
    usage = active_users({"s1": 1, "s2": 2, "s3": 2, "s4": 4, "e1": 9, "lone": 1})
    env.ingest("telemetry.usage", usage)
    env.run(DAY)
    # s2 at 0.2: one lower (s1), two equal (s2, s3): (1 + 2/2) / 4 = 50.
    assert env.observed("s2", "telemetry.seat_utilization_30d_pctl", DAY) == (
        50,
        "seat utilisation (30 days) 20% ranks at percentile 50 of 4 smb accounts "
        "(segment median 20%)",
    )
    # s4 at 0.4: (3 + 1/2) / 4 = 87.5; s1 at 0.1: (0 + 1/2) / 4 = 12.5.
    assert env.signal("s4", "telemetry.seat_utilization_30d_pctl", DAY).value == 87.5
    assert env.signal("s1", "telemetry.seat_utilization_30d_pctl", DAY).value == 12.5
    # e1 is alone in enterprise, "lone" alone in mid-market: below 2 peers, no percentile.
    assert "telemetry.seat_utilization_30d_pctl" not in env.signals("e1", DAY)
    # Seat deployment 8/10 for all four smb accounts: all equal -> (0 + 4/2) / 4 = 50.
    assert env.signal("s1", "telemetry.seat_deployment_pctl", DAY).value == 50
    # A run of one account still ranks it among every account of its segment.
    env.run(DAY, account_ids=["s4"])
    assert env.signal("s4", "telemetry.seat_utilization_30d_pctl", DAY).value == 87.5


def test_the_segment_median_of_an_even_count_is_the_mean_of_the_middle_two(
    env: PluginHarness,
) -> None:
    env.configure_toml("[plugins.telemetry]\nmin_segment_peers = 2\n")
    # smb accounts active users: s1 1, s2 2, s3 4, s4 4 (of 10 seats).
    env.add_accounts([account(f"s{n}") for n in range(1, 5)])
    env.ingest("telemetry.usage", active_users({"s1": 1, "s2": 2, "s3": 4, "s4": 4}))
    env.run(DAY)
    # Sorted 0.1, 0.2, 0.4, 0.4: the median is (0.2 + 0.4) / 2 = 0.3, as statistics.median
    # (and the support plugin's median resolution) has it, not the upper middle 0.4.
    # s4 at 0.4: (2 lower + 2/2 equal) / 4 = 75.
    assert env.observed("s4", "telemetry.seat_utilization_30d_pctl", DAY) == (
        75,
        "seat utilisation (30 days) 40% ranks at percentile 75 of 4 smb accounts "
        "(segment median 30%)",
    )


def test_accounts_without_usage(env: PluginHarness) -> None:
    env.add_accounts([account("never"), account("lapsed"), account("noseats", seats_purchased=0)])
    old = row("u1", "reporting", "2026-06-01", 5, 1)
    old["account_id"] = "lapsed"
    recent = row("u1", "reporting", "2026-11-19", 5, 1)
    recent["account_id"] = "noseats"
    env.ingest("telemetry.usage", [old, recent])
    env.run(DAY)
    # Never any usage: not connected, so no telemetry signal at all (missing, not zero).
    assert env.signals("never", DAY, source="telemetry") == {}
    # Usage long ago: a true zero for utilisation and adoption, no trend (no use in 90 days).
    assert env.signal("lapsed", "telemetry.seat_utilization_30d", DAY).value == 0
    assert env.signal("lapsed", "telemetry.core_feature_adoption_30d", DAY).value == 0
    lapsed = env.signals("lapsed", DAY)
    assert "telemetry.core_use_trend_90d" not in lapsed
    assert "telemetry.weekly_logins_per_user" not in lapsed
    # No purchased seats: nothing to divide by, but coverage and logins still speak.
    assert "telemetry.seat_utilization_30d" not in env.signals("noseats", DAY)
    assert env.signal("noseats", "telemetry.weekly_logins_per_user", DAY).value == round(7 / 30, 4)


def test_settings_change_the_verdict(env: PluginHarness) -> None:
    env.configure_toml("[plugins.telemetry]\nlow_utilization = 0.25\ndrop_alert = 0.7\n")
    env.add_accounts([account()])
    env.ingest("telemetry.usage", USAGE)
    env.run(DAY)
    utilisation = env.signal("a1", "telemetry.seat_utilization_14d", DAY)
    assert utilisation.evidence.endswith("(30%), at or above the 25% threshold")
    drop = env.signal("a1", "telemetry.feature_drop_14d.reporting", DAY)
    assert drop.evidence.endswith("3 in the 14 before, -67%")


def test_core_feature_drop_needs_a_base_of_users(env: PluginHarness) -> None:
    # With drop_min_users = 3, reporting's 3 users before are enough: 3 -> 1 is -67%.
    env.configure_toml("[plugins.telemetry]\ndrop_min_users = 3\n")
    env.add_accounts([account()])
    env.ingest("telemetry.usage", USAGE)
    env.run(DAY)
    s = env.signal("a1", "telemetry.core_feature_drop_14d", DAY)
    assert s.value == pytest.approx(-0.6667)
    assert s.evidence.startswith("largest fall among core features is reporting: 1 active users")


def test_core_features_that_share_a_key_are_counted_once(env: PluginHarness) -> None:
    # "Reporting" and "reporting" would both be feature_adoption_30d.reporting: one key
    # emitted twice makes the engine drop every telemetry signal of the run.
    env.add_accounts([account(core_features=["reporting", "Reporting", "alerts"])])
    env.ingest("telemetry.usage", USAGE)
    result = env.run(DAY)
    assert result.status == "ok", result.failures
    assert env.signal("a1", "telemetry.feature_adoption_30d.reporting", DAY).value == 0.3


def test_an_account_without_usage_gets_no_percentile_either(env: PluginHarness) -> None:
    env.configure_toml("[plugins.telemetry]\nmin_segment_peers = 1\n")
    env.add_accounts([account(), account("idle")])
    env.ingest("telemetry.usage", USAGE)
    env.run(DAY)
    assert "telemetry.seat_deployment_pctl" in env.signals("a1", DAY)
    assert env.signals("idle", DAY, source="telemetry") == {}


def test_evidence_never_rounds_across_its_own_threshold(env: PluginHarness) -> None:
    # 149 of 300 seats is 49.67%: shown as 49.7%, not "50%, below the 50%".
    env.add_accounts([account(seats_purchased=300)])
    env.ingest(
        "telemetry.usage",
        [row(f"u{n}", "reporting", "2026-11-19", 1, 1, "ops") for n in range(149)],
    )
    env.run(DAY)
    assert env.signal("a1", "telemetry.seat_utilization_30d", DAY).evidence == (
        "149 of 300 purchased seats active in the 30 days to 2026-11-20 (49.7%), "
        "below the 50% that deserves a conversation"
    )
    teams = env.signal("a1", "telemetry.active_teams_30d", DAY)
    assert teams.evidence == "1 team with active users in the 30 days to 2026-11-20: ops"
