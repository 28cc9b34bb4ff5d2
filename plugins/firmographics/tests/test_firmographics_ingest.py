"""Ingesting snapshots: validation, idempotency and the append-only history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from telltales.errors import InputError
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)
SnapshotFactory = Callable[..., dict[str, Any]]


def stored(env: PluginHarness) -> int:
    (count,) = env.store.db.execute("SELECT count(*) FROM firmographics_snapshots").fetchone()
    return int(count)


def test_different_days_accumulate_history(env: PluginHarness, snapshot: SnapshotFactory) -> None:
    env.ingest(
        "firmographics.snapshots",
        [snapshot(as_of="2026-05-04"), snapshot(as_of="2026-11-02"), snapshot(account_id="a2")],
    )
    assert stored(env) == 3


def test_resending_a_day_replaces_that_snapshot_only(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.ingest(
        "firmographics.snapshots",
        [snapshot(as_of="2026-05-04", employee_count=1750), snapshot(employee_count=1800)],
    )
    env.ingest("firmographics.snapshots", [snapshot(employee_count=1900, source="clearbit")])
    assert stored(env) == 2
    rows = env.store.db.execute(
        "SELECT as_of, employee_count, source FROM firmographics_snapshots ORDER BY as_of"
    ).fetchall()
    assert rows == [("2026-05-04", 1750, None), ("2026-11-02", 1900, "clearbit")]


def test_reingesting_changes_no_count_and_no_signal(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    batch = [
        snapshot(as_of="2026-05-04", employee_count=3650),
        snapshot(employee_count=3100),
        snapshot(account_id="a2", products=[]),
    ]
    env.ingest("firmographics.snapshots", batch)
    env.run(DAY)
    first = {a: env.signals(a, DAY) for a in ("a1", "a2")}
    env.ingest("firmographics.snapshots", batch)
    env.run(DAY)
    assert stored(env) == 3
    assert {a: env.signals(a, DAY) for a in ("a1", "a2")} == first
    assert len(first["a1"]) == 3


def test_a_bad_record_is_refused_by_index_and_field_and_nothing_is_stored(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    with pytest.raises(InputError, match=r"record 2, field 'employee_count': .*>= 0"):
        env.ingest("firmographics.snapshots", [snapshot(), snapshot(employee_count=-5)])
    assert stored(env) == 0


def test_a_missing_required_field_is_refused(env: PluginHarness, snapshot: SnapshotFactory) -> None:
    record = snapshot()
    del record["products"]
    with pytest.raises(InputError, match=r"record 1, field 'products': required field is missing"):
        env.ingest("firmographics.snapshots", [record])
    assert stored(env) == 0


def test_an_unknown_field_is_refused(env: PluginHarness, snapshot: SnapshotFactory) -> None:
    with pytest.raises(InputError, match=r"record 1, field 'headcount': unknown field"):
        env.ingest("firmographics.snapshots", [snapshot(headcount=10)])


def test_an_unknown_account_is_refused(env: PluginHarness, snapshot: SnapshotFactory) -> None:
    with pytest.raises(InputError, match=r"record 2, field 'account_id': unknown account 'nope'"):
        env.ingest("firmographics.snapshots", [snapshot(), snapshot(account_id="nope")])
    assert stored(env) == 0


def test_a_product_listed_twice_is_stored_once(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.ingest("firmographics.snapshots", [snapshot(products=["core", "API", "core", "api"])])
    (products,) = env.store.db.execute("SELECT products FROM firmographics_snapshots").fetchone()
    assert products == '["core","API"]'
