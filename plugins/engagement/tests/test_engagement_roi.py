"""ROI signals from success-plan outcomes: verified share of the due ones, and the plan's size."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import telltales_engagement
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)


def outcome(
    outcome_id: str,
    title: str,
    planned_on: str,
    due: str,
    status: str,
    verified_on: str | None = None,
    account_id: str = "a1",
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "outcome_id": outcome_id,
        "account_id": account_id,
        "title": title,
        "planned_on": planned_on,
        "due": due,
        "status": status,
    }
    if verified_on:
        record["verified_on"] = verified_on
    return record


OUTCOMES = [
    outcome("o1", "Dashboards for all teams", "2026-01-10", "2026-05-31", "verified", "2026-05-20"),
    outcome("o2", "Cut report build time by half", "2026-01-10", "2026-06-30", "missed"),
    # Verified five days after its due date.
    outcome("o3", "Audit trail accepted", "2026-03-01", "2026-09-30", "verified", "2026-10-05"),
    outcome("o4", "Alerts on every line", "2026-03-01", "2026-10-31", "planned"),
    outcome("o5", "Pilot kiosks", "2026-03-01", "2026-08-31", "dropped"),
    outcome("o6", "Finance on reporting", "2026-06-01", "2027-01-31", "planned"),
    # Agreed after the run day: it does not exist yet on 2026-11-20.
    outcome("o7", "API integration", "2026-11-25", "2027-03-01", "planned"),
    # Verified ahead of its due date.
    outcome("o8", "Templates shared", "2026-05-01", "2026-12-31", "verified", "2026-11-10"),
]


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_engagement, name="engagement")
    telltales_env.add_accounts(
        [
            {"account_id": "a1", "name": "Alpha", "segment": "mid-market"},
            {"account_id": "a2", "name": "Beta", "segment": "smb"},
            {"account_id": "a3", "name": "Gamma", "segment": "smb"},
        ]
    )
    return telltales_env


def test_verified_share_of_due_outcomes(env: PluginHarness) -> None:
    env.ingest("engagement.outcomes", OUTCOMES)
    assert env.run(DAY).status == "ok"
    s = env.signals("a1", DAY, source="engagement")
    # Outcomes alone give the two ROI signals, not the activity ones.
    assert set(s) == {"engagement.roi_verified_share", "engagement.outcomes_planned"}
    # Due by 11-20: o1, o2, o3, o4, plus o8 verified early = 5 (o5 dropped, o6 not
    # due, o7 not agreed yet). Verified: o1, o3, o8 = 3. 3 / 5 = 0.6.
    assert env.observed("a1", "engagement.roi_verified_share", DAY) == (
        0.6,
        "3 of 5 success-plan outcomes due by 2026-11-20 verified (60%), counting 1 verified "
        "ahead of its due date; missed: 'Cut report build time by half'; "
        "past due and not verified: 'Alerts on every line'",
    )
    assert env.signal("a1", "engagement.roi_verified_share", DAY).dimension == "roi"
    # Planned and not dropped by 11-20: o1, o2, o3, o4, o6, o8 = 6; verified o1, o3, o8;
    # missed o2; open o4, o6.
    assert env.observed("a1", "engagement.outcomes_planned", DAY) == (
        6,
        "6 success-plan outcomes planned by 2026-11-20: 3 verified, 1 missed, 2 open; "
        "1 dropped, not counted",
    )
    assert env.signal("a1", "engagement.outcomes_planned", DAY).dimension == "roi"


def test_an_earlier_day_sees_neither_later_verifications_nor_later_plans(
    env: PluginHarness,
) -> None:
    env.ingest("engagement.outcomes", OUTCOMES)
    day = date(2026, 10, 1)
    env.run(day)
    # Due by 10-01: o1, o2, o3 (o8 is verified only on 11-10). Verified by 10-01: o1
    # (o3 only on 10-05). 1 / 3 = 0.3333.
    assert env.observed("a1", "engagement.roi_verified_share", day) == (
        0.3333,
        "1 of 3 success-plan outcomes due by 2026-10-01 verified (33%); "
        "missed: 'Cut report build time by half'; past due and not verified: "
        "'Audit trail accepted'",
    )
    # Planned by 10-01 and not dropped: o1, o2, o3, o4, o6, o8 = 6 (o7 comes on 11-25).
    assert env.observed("a1", "engagement.outcomes_planned", day) == (
        6,
        "6 success-plan outcomes planned by 2026-10-01: 1 verified, 1 missed, 4 open; "
        "1 dropped, not counted",
    )


def test_no_share_until_an_outcome_is_due(env: PluginHarness) -> None:
    env.ingest("engagement.outcomes", OUTCOMES)
    day = date(2026, 2, 1)
    env.run(day)
    s = env.signals("a1", day, source="engagement")
    # Only o1 and o2 exist yet, both still ahead of their due dates.
    assert "engagement.roi_verified_share" not in s
    assert env.observed("a1", "engagement.outcomes_planned", day) == (
        2,
        "2 success-plan outcomes planned by 2026-02-01: 0 verified, 0 missed, 2 open",
    )
    # Before anything was agreed, no signal at all.
    env.run(date(2026, 1, 9))
    assert env.signals("a1", date(2026, 1, 9), source="engagement") == {}


def test_only_dropped_outcomes_count_zero_planned(env: PluginHarness) -> None:
    env.ingest(
        "engagement.outcomes",
        [outcome("d1", "Pilot kiosks", "2026-03-01", "2026-08-31", "dropped", account_id="a2")],
    )
    env.run(DAY)
    s = env.signals("a2", DAY, source="engagement")
    assert "engagement.roi_verified_share" not in s
    assert env.observed("a2", "engagement.outcomes_planned", DAY) == (
        0,
        "0 success-plan outcomes planned by 2026-11-20: 0 verified, 0 missed, 0 open; "
        "1 dropped, not counted",
    )


def test_long_lists_of_titles_are_cut_short(env: PluginHarness) -> None:
    missed = [
        outcome(f"m{n}", f"Goal {n}", "2026-01-01", f"2026-0{n}-01", "missed", account_id="a2")
        for n in range(1, 6)
    ]
    env.ingest("engagement.outcomes", missed)
    env.run(DAY)
    # 0 of 5 verified.
    assert env.observed("a2", "engagement.roi_verified_share", DAY) == (
        0,
        "0 of 5 success-plan outcomes due by 2026-11-20 verified (0%); "
        "missed: 'Goal 1', 'Goal 2', 'Goal 3' and 2 more",
    )


def test_an_account_without_outcomes_gets_no_roi_signal(env: PluginHarness) -> None:
    env.ingest("engagement.outcomes", OUTCOMES)
    env.ingest(
        "engagement.activities",
        [{"activity_id": "x", "account_id": "a3", "day": "2026-11-01", "kind": "call"}],
    )
    env.run(DAY)
    s = env.signals("a3", DAY, source="engagement")
    assert "engagement.roi_verified_share" not in s
    assert "engagement.outcomes_planned" not in s
    assert env.signal("a3", "engagement.days_since_last_touch", DAY).value == 19
