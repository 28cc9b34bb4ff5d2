"""Many past days in one pass: the replay a backtest runs.

A backtest needs, for each account live on each replayed day, its score, the
values of the measured signals, the rules' states and its status, all as known
that day. Running ``telltales run`` once per day gives them, and pays for what
the backtest never reads: every signal row with its evidence, every score with
its breakdown, playbooks. This replay does the same days with the same engine
(:func:`telltales.engine.pipeline.run`, so statuses evolve day by day exactly as
a run's: hold days, minimum stays, hysteresis, cooldowns), and differs in two
ways:

- sources with a ``compute_days`` method (plugin API 1.5) compute a batch of
  days at once, in set-based queries over a table of the days
  (``DAYS_TABLE``); the others are computed day by day, as in a run;
- each day keeps, in memory, its health scores and the measured values
  (:class:`DayReadings`) instead of storing its signals and scores; the rules'
  hits and the transitions are recorded as in a run, because the next day's
  statuses grow from them.

A batch holds every signal of its days in memory, so its size is bounded by
account-days (:data:`ACCOUNT_DAYS_PER_BATCH`): a large book gets fewer days per
batch, one at the least. The next batch is computed in a thread of its own while the
days of this one run: SQLite's work releases the GIL, so on two cores the sources'
queries and the rules overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time
from functools import partial
from typing import Any, NamedTuple

import msgspec

from telltales.contracts import DaysBatch
from telltales.engine import pipeline
from telltales.models import RunFailure, Score, Signal, stale_among
from telltales.playbooks.plan import Plan
from telltales.plugins import Entry, Registry, call_with_time_limit
from telltales.signals.freshness import SourceLimit, default_limits, source_days
from telltales.signals.scorecards import HEALTH_SCORER
from telltales.store import Store
from telltales.store.history import drop_days, fill_days, live_ids

RUN_TIME = time(23, 59)
"""When each replayed run happens: the end of its day, as the demo's weekly runs."""

ACCOUNT_DAYS_PER_BATCH = 10_000
"""Account-days one batch of ``compute_days`` may hold: about 5 days of a 2,000-account
book (some 50 signals an account-day), one day of a 50,000-account one. Small batches
keep memory low and let the next batch be computed while this one's days run."""


class DayReadings(msgspec.Struct, kw_only=True, frozen=True):
    """What a backtest reads of one replayed day, by account."""

    scores: dict[str, tuple[float | None, str]]
    """The health score (``[scoring]``) and grade of each account scored that day."""
    values: dict[str, dict[str, float]]
    """The value of each measured signal each account had that day."""


def replay(
    store: Store,
    registry: Registry,
    days: Sequence[date],
    *,
    plan: Plan,
    source_settings: Mapping[str, Any],
    scorer_settings: Mapping[str, Any],
    measured: Collection[str],
    progress: Callable[[date], None] | None = None,
) -> dict[date, DayReadings]:
    """Run the engine as of each of ``days`` (oldest first) on ``store``, a scratch copy;
    each day's readings. ``measured`` are the signal keys whose values are kept."""
    batched = {
        name: entry
        for name, entry in registry.sources.items()
        if callable(getattr(entry.obj, "compute_days", None))
    }
    keys = frozenset(measured)
    freshness = plan.freshness or default_limits(registry)
    prepare = partial(_prepare, store, batched, freshness, source_settings, plan)
    readings: dict[date, DayReadings] = {}
    # The next batch's sources are computed in a thread of their own (their own
    # read-only connection) while this one's days run: SQLite works outside the GIL,
    # so a second core computes signals while the first evaluates rules.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="telltales-replay") as ahead:
        pending = ahead.submit(prepare, days) if days else None
        position = 0
        while pending is not None:
            batch = pending.result()
            position += len(batch.days)
            pending = ahead.submit(prepare, days[position:]) if position < len(days) else None
            for day in batch.days:
                replaying = pipeline.Replaying(
                    precomputed=batch.computed.pop(day, {}),
                    failures=batch.failed.get(day, ()),
                    keep=partial(_keep, readings, day, keys),
                )
                _run(store, registry, day, plan, source_settings, scorer_settings, replaying)
                if progress is not None:
                    progress(day)
    return readings


def run_each_day(
    store: Store,
    registry: Registry,
    days: Sequence[date],
    *,
    plan: Plan,
    source_settings: Mapping[str, Any],
    scorer_settings: Mapping[str, Any],
) -> None:
    """A whole run as of each of ``days``, every signal, score and playbook stored: what
    :func:`replay` saves, and the reference its tests and benchmark judge it by."""
    for day in days:
        _run(store, registry, day, plan, source_settings, scorer_settings, None)


def _run(
    store: Store,
    registry: Registry,
    day: date,
    plan: Plan,
    source_settings: Mapping[str, Any],
    scorer_settings: Mapping[str, Any],
    replaying: pipeline.Replaying | None,
) -> None:
    pipeline.run(
        store,
        registry,
        day,
        settings=dict(source_settings),
        scorer_settings=dict(scorer_settings),
        plan=plan,
        now=datetime.combine(day, RUN_TIME, tzinfo=UTC),
        replaying=replaying,
    )


class _Batch(NamedTuple):
    """The first days of those left, with their batch-capable sources' signals and failures."""

    days: Sequence[date]
    computed: dict[date, dict[str, list[Signal]]]
    failed: dict[date, list[RunFailure]]


def _prepare(
    store: Store,
    batched: Mapping[str, Entry[Any]],
    freshness: Mapping[str, SourceLimit],
    settings: Mapping[str, Any],
    plan: Plan,
    left: Sequence[date],
) -> _Batch:
    """The next batch of ``left``: as many days as :data:`ACCOUNT_DAYS_PER_BATCH` allows for
    the accounts live on the first, computed by every batch-capable source. Reads only
    records (``store.reader``, this thread's), never what the replay writes."""
    reader = store.reader
    first = tuple(live_ids(reader, left[0]))
    part = left[: max(1, ACCOUNT_DAYS_PER_BATCH // max(1, len(first)))]
    accounts = {part[0]: first, **{day: tuple(live_ids(reader, day)) for day in part[1:]}}
    stale = {day: _stale(store, freshness, day) for day in part}
    computed, failed = _compute_batched(store, batched, accounts, stale, settings, plan)
    return _Batch(part, computed, failed)


def _stale(store: Store, freshness: Mapping[str, SourceLimit], day: date) -> frozenset[str]:
    """The sources a run as of ``day`` leaves out as stale (as :func:`pipeline.run` finds)."""
    return frozenset(s.source for s in stale_among(source_days(store.reader, freshness, day), day))


def _keep(
    readings: dict[date, DayReadings],
    day: date,
    keys: frozenset[str],
    by_account: Mapping[str, Sequence[Signal]],
    scores: Sequence[Score],
) -> None:
    readings[day] = DayReadings(
        scores={s.account_id: (s.value, s.grade) for s in scores if s.scorer == HEALTH_SCORER},
        values={
            account_id: found
            for account_id, signals in by_account.items()
            if (found := {s.key: s.value for s in signals if s.key in keys})
        },
    )


def _compute_batched(
    store: Store,
    batched: Mapping[str, Entry[Any]],
    accounts: Mapping[date, tuple[str, ...]],
    stale: Mapping[date, frozenset[str]],
    settings: Mapping[str, Any],
    plan: Plan,
) -> tuple[dict[date, dict[str, list[Signal]]], dict[date, list[RunFailure]]]:
    """The checked signals of each batch-capable source for the days it is not stale on,
    by day and source; and the failures, by day (a failing source fails every day of
    the batch, as it would have failed each day's run)."""
    computed: dict[date, dict[str, list[Signal]]] = {day: {} for day in accounts}
    failed: dict[date, list[RunFailure]] = {}
    if not batched:
        return computed, failed
    reader = store.reader
    reader.conn.execute("BEGIN")
    filled: tuple[date, ...] | None = None
    try:
        for name, entry in batched.items():
            days = tuple(day for day in accounts if name not in stale[day])
            if not days:
                continue
            if days != filled:
                fill_days(reader, days)
                filled = days
            batch = DaysBatch(
                days=days,
                account_ids={day: accounts[day] for day in days},
                db=reader,
                settings=pipeline.settings_for(entry.obj, settings.get(name)),
            )
            failures: list[RunFailure] = []
            seconds, setting = plan.engine.source_limit(name)
            where = f"replay of {days[0]} .. {days[-1]}"
            with pipeline.guard(entry.plugin, f"source:{name}", failures, where):
                found = call_with_time_limit(
                    partial(pipeline.days_output, entry.obj, name, batch),
                    seconds * len(days),
                    setting,
                )
                for day in days:
                    computed[day][name] = found.get(day, [])
            for day in days if failures else ():
                failed.setdefault(day, []).extend(failures)
    finally:
        dropped = drop_days(reader)
        reader.conn.execute("COMMIT")
        if not dropped:
            # A source past its time limit still reads through it (as in a run's snapshot).
            store.discard_reader()
    return computed, failed
