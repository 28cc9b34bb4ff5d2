"""Ingesting activities and outcomes: validation, refusal of unknown accounts, upserts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import telltales_engagement
from telltales.errors import InputError
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_engagement, name="engagement")
    telltales_env.add_accounts([{"account_id": "a1", "name": "Alpha", "segment": "mid-market"}])
    return telltales_env


def activity(activity_id: str, day: str, kind: str = "call", **extra: Any) -> dict[str, Any]:
    return {"activity_id": activity_id, "account_id": "a1", "day": day, "kind": kind, **extra}


def outcome(outcome_id: str, status: str = "planned", **extra: Any) -> dict[str, Any]:
    return {
        "outcome_id": outcome_id,
        "account_id": "a1",
        "title": f"Outcome {outcome_id}",
        "planned_on": "2026-03-01",
        "due": "2026-09-30",
        "status": status,
        **extra,
    }


def count(env: PluginHarness, table: str) -> int:
    (n,) = env.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(n)


def test_activities_upsert_on_their_id(env: PluginHarness) -> None:
    batch = [
        activity("x1", "2026-10-10", by="csm@vendor.example", summary="check-in"),
        activity("x2", "2026-11-01", "email"),
    ]
    assert env.ingest("engagement.activities", batch) == 2
    assert env.ingest("engagement.activities", batch) == 2
    assert count(env, "engagement_activities") == 2
    # A corrected activity replaces the old one rather than adding a second.
    env.ingest("engagement.activities", [activity("x2", "2026-11-02", "meeting")])
    rows = env.store.db.execute(
        'SELECT activity_id, day, kind, "by", summary FROM engagement_activities ORDER BY 1'
    ).fetchall()
    assert rows == [
        ("x1", "2026-10-10", "call", "csm@vendor.example", "check-in"),
        ("x2", "2026-11-02", "meeting", None, None),
    ]


def test_an_outcome_resent_with_a_new_status_replaces_the_old(env: PluginHarness) -> None:
    env.ingest("engagement.outcomes", [outcome("o1"), outcome("o2")])
    env.ingest(
        "engagement.outcomes", [outcome("o1", "verified", verified_on="2026-09-20", metric="hours")]
    )
    assert count(env, "engagement_outcomes") == 2
    row = env.store.db.execute(
        "SELECT status, verified_on, metric FROM engagement_outcomes WHERE outcome_id = 'o1'"
    ).fetchone()
    assert row == ("verified", "2026-09-20", "hours")


def test_reingesting_the_same_files_changes_no_count_and_no_signal(env: PluginHarness) -> None:
    # x1 within engagement's 30-day freshness limit of DAY: the log is live.
    activities = [activity("x1", "2026-11-10"), activity("x2", "2026-07-01", "value_review")]
    outcomes = [outcome("o1", "verified", verified_on="2026-09-01"), outcome("o2", "missed")]
    env.ingest("engagement.activities", activities)
    env.ingest("engagement.outcomes", outcomes)
    env.run(DAY)
    before = {k: (s.value, s.evidence) for k, s in env.signals("a1", DAY).items()}
    env.ingest("engagement.activities", activities)
    env.ingest("engagement.outcomes", outcomes)
    result = env.run(DAY)
    assert result.status == "ok"
    assert count(env, "engagement_activities") == 2
    assert count(env, "engagement_outcomes") == 2
    assert {k: (s.value, s.evidence) for k, s in env.signals("a1", DAY).items()} == before
    assert len(before) == 7


def test_a_bad_kind_is_refused_with_its_index_and_field_and_nothing_is_stored(
    env: PluginHarness,
) -> None:
    with pytest.raises(InputError, match=r"record 2, field 'kind': invalid enum value 'lunch'"):
        env.ingest(
            "engagement.activities",
            [activity("x1", "2026-10-10"), activity("x2", "2026-10-11", "lunch")],
        )
    assert count(env, "engagement_activities") == 0


def test_an_unknown_field_is_refused(env: PluginHarness) -> None:
    with pytest.raises(InputError, match="record 1, field 'duration': unknown field"):
        env.ingest("engagement.activities", [activity("x1", "2026-10-10", duration=30)])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "verified"}, "record 2, field 'verified_on': required when status is"),
        (
            {"status": "verified", "verified_on": "2026-02-28"},
            "record 2, field 'verified_on': 2026-02-28 is before planned_on 2026-03-01",
        ),
        (
            {"status": "missed", "verified_on": "2026-09-01"},
            "record 2, field 'verified_on': only allowed when status is 'verified'",
        ),
        ({"due": "2026-02-01"}, "record 2, field 'due': 2026-02-01 is before planned_on"),
        (
            {"planned_on": "9999-03-01"},
            "record 2, field 'planned_on': 9999-03-01 is outside 1900-01-01..2999-12-31",
        ),
        ({"status": "done"}, "record 2, field 'status': invalid enum value 'done'"),
        ({"title": ""}, "record 2, field 'title': expected `str` of length >= 1"),
        ({"due": "soon"}, "record 2, field 'due': invalid RFC3339 encoded date"),
    ],
)
def test_an_inconsistent_outcome_is_refused_at_its_index(
    env: PluginHarness, fields: dict[str, Any], message: str
) -> None:
    # The struct's own checks (verified_on, due) name the field in their message.
    with pytest.raises(InputError, match=message):
        env.ingest("engagement.outcomes", [outcome("o1"), outcome("o2", **fields)])
    assert count(env, "engagement_outcomes") == 0


def test_an_unknown_account_is_refused(env: PluginHarness) -> None:
    with pytest.raises(InputError, match=r"record 2, field 'account_id': unknown account 'zz'"):
        env.ingest(
            "engagement.activities",
            [activity("x1", "2026-10-10"), {**activity("x2", "2026-10-10"), "account_id": "zz"}],
        )
    with pytest.raises(InputError, match=r"record 1, field 'account_id': unknown account 'zz'"):
        env.ingest("engagement.outcomes", [{**outcome("o1"), "account_id": "zz"}])
    assert count(env, "engagement_activities") == 0
    assert count(env, "engagement_outcomes") == 0
