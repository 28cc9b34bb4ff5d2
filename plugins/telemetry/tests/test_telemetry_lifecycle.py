"""Young and ended accounts: no window reads days before a customer existed, and an
account no longer live is nobody's peer."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import telltales_telemetry
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)
SINCE = DAY - timedelta(days=18)
"""A customer for 19 days on DAY, the day itself counted."""


def account(account_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "name": account_id.title(),
        "segment": "smb",
        "seats_purchased": 10,
        "seats_assigned": 10,
        "core_features": ["reporting"],
        **fields,
    }


def growing(account_id: str, first: date) -> list[dict[str, Any]]:
    """One more user each day from ``first``: usage that only exists since then."""
    rows = []
    for n in range((DAY - first).days + 1):
        for user in range(n // 2 + 1):
            rows.append(
                {
                    "account_id": account_id,
                    "user_id": f"u{user}",
                    "feature": "reporting",
                    "day": (first + timedelta(days=n)).isoformat(),
                    "events": 3,
                    "logins": 1,
                }
            )
    return rows


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_telemetry, name="telemetry")
    return telltales_env


TRENDS = {
    "telemetry.core_use_trend_30d",
    "telemetry.core_use_trend_60d",
    "telemetry.core_use_trend_90d",
    "telemetry.logins_flat_core_declining",
    "telemetry.core_feature_drop_14d",
    "telemetry.feature_drop_14d.reporting",
}


def test_a_young_account_gets_no_trend_from_the_days_before_it_existed(
    env: PluginHarness,
) -> None:
    # A handful of users: every core feature counts for the drop, however few use it.
    env.configure_toml("[plugins.telemetry]\ndrop_min_users = 1\n")
    env.add_accounts([account("young", customer_since=SINCE.isoformat()), account("unknown")])
    env.ingest("telemetry.usage", growing("young", SINCE) + growing("unknown", SINCE))
    assert env.run(DAY).status == "ok"
    young, unknown = env.signals("young", DAY), env.signals("unknown", DAY)
    # Without a customer-since day the same usage reads as fast growth.
    assert set(unknown) >= TRENDS
    assert unknown["telemetry.core_use_trend_30d"].value > 1
    assert not TRENDS & set(young)
    assert young["account.customer_days"].evidence == (
        f"customer for 19 days (since {SINCE}): trend not yet meaningful; usage windows "
        "start at the customer-since day, not 90 days back"
    )
    # What the young account did in its 19 days still counts.
    assert young["telemetry.seat_utilization_30d"].value == 1.0


def test_an_account_no_longer_live_is_nobodys_peer(env: PluginHarness) -> None:
    ids = [f"a{n}" for n in range(5)]
    env.add_accounts([account(a) for a in ids])
    env.add_accounts([account("a4", as_of="2026-11-10", lifecycle="churned")])
    env.ingest("telemetry.usage", [r for a in ids for r in growing(a, DAY - timedelta(days=60))])
    result = env.run(DAY)
    assert result.status == "ok", result.failures
    assert result.not_live == 1
    # Four live smb accounts are fewer than the five a percentile needs.
    assert "telemetry.seat_utilization_30d_pctl" not in env.signals("a0", DAY)
    assert env.signals("a4", DAY) == {}
    earlier = DAY - timedelta(days=11)
    env.run(earlier)
    assert (
        "of 5 smb accounts"
        in env.signals("a0", earlier)["telemetry.seat_utilization_30d_pctl"].evidence
    )
