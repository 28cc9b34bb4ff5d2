"""The backtest's replay gives the observations one engine run per day gives.

The fast replay (telltales.engine.replay) computes sources with ``compute_days`` a
batch of days at once and keeps scores in memory instead of storing every signal.
Judged against the plain way, ``telltales run`` once per replayed day on a scratch
copy with every signal and score stored and read back, on the small demo book (every
built-in source has data in it, and accounts renew, churn and join during the span):
the same scores, grades, measured values, rules flagging and firing, and statuses,
for every account and day. The values compared are those of every signal
the runs stored, of every source. A probe source without ``compute_days`` is computed
day by day beside the batched ones.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from support.demo_book import DEMO_CONFIG
from telltales import DaysBatch, Signal, SignalBatch, SignalSource, hookimpl
from telltales.backtest import replay
from telltales.backtest.observations import Observation, collect, stored_readings
from telltales.config import load_config
from telltales.engine import replay as engine_replay
from telltales.errors import PluginError
from telltales.playbooks.plan import Plan, load_plan
from telltales.plugins import Registry, load_registry
from telltales.signals.scorecards import Scoring
from telltales.signals.settings import scorer_settings, source_settings
from telltales.store import open_store

DAYS = replay.replay_days(date(2026, 5, 29), date(2026, 9, 18), 7)
PROBE_KEY = "probe.renewal_in_days"


class RenewalProbe:
    """A plugin's source with no ``compute_days``: the days to each account's renewal date,
    read from ``accounts`` as of the run's day (a renewal moved later must not show)."""

    name = "probe"

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        for account_id, renewal in batch.db.execute(
            "SELECT account_id, renewal_date FROM accounts WHERE renewal_date IS NOT NULL"
        ):
            yield Signal(
                account_id=account_id,
                key=PROBE_KEY,
                value=(date.fromisoformat(renewal) - batch.as_of).days,
                dimension="current_state",
                evidence=f"renewal on {renewal}",
            )


class ProbePlugin:
    @hookimpl
    def register_signal_sources(self, register: Callable[[SignalSource], None]) -> None:
        register(RenewalProbe())


def _engine() -> tuple[Registry, Plan, dict[str, Any], dict[str, Any], Scoring]:
    registry = load_registry(extra=[("probe", ProbePlugin())])
    assert not registry.failures, registry.failures
    config = load_config(DEMO_CONFIG)
    scorers = scorer_settings(config, registry)
    return (
        registry,
        load_plan(config, registry),
        source_settings(config, registry),
        scorers,
        scorers["health"],
    )


def _observations(
    book: Path, tmp_path: Path, keys: list[str] | None = None
) -> tuple[list[Observation], list[str]]:
    """The observations of ``DAYS`` with the values of ``keys``: by the fast replay, or
    without ``keys`` by a run per day, with the values of every signal it stored."""
    fast = keys is not None
    db = tmp_path / ("fast.db" if fast else "per_day.db")
    shutil.copy(book, db)
    registry, plan, sources, scorers, scoring = _engine()
    cards = {name: scoring.cards[name] for name in sorted(scoring.cards)}
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(db, migrations) as store, replay.scratch_copy(store) as scratch:
        engine = {"plan": plan, "source_settings": sources, "scorer_settings": scorers}
        if keys is not None:
            readings = engine_replay.replay(scratch, registry, DAYS, **engine, measured=keys)
        else:
            engine_replay.run_each_day(scratch, registry, DAYS, **engine)
            keys = [key for (key,) in scratch.db.execute("SELECT DISTINCT key FROM signals")]
            readings = stored_readings(scratch.db, DAYS, keys)
        observations = collect(
            scratch.db, readings, cards, horizon=60, kind="churn", known_through=date(2026, 11, 20)
        )
    return observations, keys


def test_the_fast_replay_observes_what_a_run_per_day_stores(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    per_day, keys = _observations(book, tmp_path)
    # Every key every source emitted: the values of all of them are compared.
    assert {key.split(".", 1)[0] for key in keys} >= {
        "account",
        "telemetry",
        "contacts",
        "engagement",
        "support",
        "firmographics",
        "news",
        "probe",
    }
    # Batches of five days (80 accounts a day), so that days of one batch and of the next
    # must agree with their own runs too.
    monkeypatch.setattr(engine_replay, "ACCOUNT_DAYS_PER_BATCH", 5 * 80)
    batched: list[DaysBatch] = []
    original = _telemetry_compute_days()
    monkeypatch.setattr(
        type(_telemetry()), "compute_days", _recording(original, batched), raising=True
    )
    fast, _ = _observations(book, tmp_path, keys)
    assert len(batched) > 1
    assert sum(len(b.days) for b in batched) == len(DAYS)
    assert len(fast) == len(per_day) > 1000
    assert {o.status for o in per_day} >= {"healthy", "concern", "at_risk"}
    assert any(o.rules for o in per_day)
    assert any(o.fired for o in per_day)
    assert all(PROBE_KEY in o.values for o in per_day if o.days_to_renewal is not None)
    for ours, theirs in zip(fast, per_day, strict=True):
        assert ours == theirs, (ours.account_id, ours.day)


def _telemetry() -> Any:
    registry = load_registry()
    return registry.sources["telemetry"].obj


def _telemetry_compute_days() -> Callable[[Any, DaysBatch], Iterable[tuple[date, Any]]]:
    method: Callable[[Any, DaysBatch], Iterable[tuple[date, Any]]] = type(_telemetry()).compute_days
    return method


def _recording(
    method: Callable[[Any, DaysBatch], Iterable[tuple[date, Any]]], seen: list[DaysBatch]
) -> Callable[[Any, DaysBatch], Iterable[tuple[date, Any]]]:
    def compute_days(self: Any, batch: DaysBatch) -> Iterable[tuple[date, Any]]:
        seen.append(batch)
        return method(self, batch)

    return compute_days


class AheadOfTime:
    """A batch method that answers for a day it was not asked: a plugin's bug."""

    name = "ahead"

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        return iter(())

    def compute_days(self, batch: DaysBatch) -> Iterator[tuple[date, list[Signal]]]:
        yield batch.days[-1] + timedelta(days=1), []


class AheadPlugin:
    @hookimpl
    def register_signal_sources(self, register: Callable[[SignalSource], None]) -> None:
        register(AheadOfTime())


@pytest.mark.parametrize("strict", [False, True])
def test_a_batch_method_that_fails_fails_its_days_as_a_run_would(
    book: Path, tmp_path: Path, strict: bool
) -> None:
    db = tmp_path / "demo.db"
    shutil.copy(book, db)
    registry = load_registry(extra=[("ahead", AheadPlugin())], strict=strict)
    config = load_config(DEMO_CONFIG)
    days = DAYS[:2]
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(db, migrations) as store, replay.scratch_copy(store) as scratch:
        replayed = partial(
            engine_replay.replay,
            scratch,
            registry,
            days,
            plan=load_plan(config, registry),
            source_settings=source_settings(config, registry),
            scorer_settings=scorer_settings(config, registry),
            measured=(),
        )
        if strict:
            with pytest.raises(PluginError, match="not a day of the batch"):
                replayed()
            return
        readings = replayed()
        runs = scratch.db.execute("SELECT as_of, status, failures FROM runs").fetchall()
    assert list(readings) == days
    assert [(day, status) for day, status, _ in runs] == [(d.isoformat(), "degraded") for d in days]
    for _, _, failures in runs:
        (failure,) = json.loads(failures)
        assert failure["component"] == "source:ahead"
        assert f"compute_days returned {days[-1] + timedelta(days=1)!r}" in failure["error"]


def test_the_scratch_copy_holds_the_records_in_a_wal_file(book: Path, tmp_path: Path) -> None:
    """The records without what runs derived; in WAL mode, so that the replay's thread
    reading the next batch never blocks a day's commit (a rollback journal would)."""
    db = tmp_path / "demo.db"
    shutil.copy(book, db)
    with open_store(db, []) as store, replay.scratch_copy(store) as scratch:
        assert scratch.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        for table in ("telemetry_usage", "account_versions", "support_tickets", "renewals"):
            count = f"SELECT count(*) FROM {table}"
            assert scratch.db.execute(count).fetchone() == store.db.execute(count).fetchone()
            assert scratch.db.execute(count).fetchone()[0] > 0
        for table in ("signals", "scores", "rule_hits", "transitions", "runs"):
            assert scratch.db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
            assert store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0
        # The append-only guards of the derived tables are not copied.
        triggers = {
            name
            for (name,) in scratch.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            )
        }
        assert not any("transitions" in name or "rule_hits" in name for name in triggers)
