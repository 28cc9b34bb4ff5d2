"""Score past days honestly, without writing to the user's database.

A backtest needs each account's score and rule hits as of each past day, computed
from what was known that day. The simplest honest way is the engine itself: copy
the database into a temporary file without what runs and people derived (runs,
signals, scores, rule hits, statuses, playbooks, tasks, keys, earlier backtests),
keeping every raw record with its valid time, and run
the engine as of each day of the span, oldest first, with the configured sources,
scorecards and rules (:mod:`telltales.engine.replay`: sources that can compute many
days in one pass do, and a day keeps its scores and measured values in memory
instead of storing every signal). Every read as of a day goes through the store's
valid time (docs/time.md), so a record learned later is never read early; and the
user's database gets no run, transition or task. The copy is deleted when the
backtest is done.

Stored runs are not read instead: they were made with whatever configuration was
in force on each day, by a schedule a backtest cannot choose, and people's
overrides and playbooks were acting on them. A replay judges today's configuration
on the days asked for.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from telltales.store import Store

DERIVED_TABLES = (
    "backtest_observations",
    "backtests",
    "correction_rows",
    "corrections",
    "api_requests",
    "page_sessions",
    "api_keys",
    "renewal_flags",
    "task_events",
    "tasks",
    "delivery_attempts",
    "deliveries",
    "playbook_runs",
    "transitions",
    "overrides",
    "rule_hits",
    "rule_accounts",
    "scores",
    "signals",
    "runs",
)
"""What runs, people and the API wrote: empty in the copy. Every other table holds
records as they were ingested (with their valid time), which the replay reads as of
each day."""


def replay_days(first: date, last: date, every: int) -> list[date]:
    """``first``, then every ``every`` days up to ``last``."""
    return [first + timedelta(days=n) for n in range(0, (last - first).days + 1, every)]


@contextmanager
def scratch_copy(store: Store) -> Iterator[Store]:
    """A copy of ``store`` in a temporary file, without what runs derived; deleted after."""
    with tempfile.TemporaryDirectory(prefix="telltales-backtest-") as folder:
        path = Path(folder) / "scratch.db"
        target = sqlite3.connect(path, isolation_level=None)
        try:
            _copy_records(store.path, target)
        finally:
            target.close()
        scratch = Store(path)
        try:
            yield scratch
        finally:
            scratch.close()


def _copy_records(source: Path, target: sqlite3.Connection) -> None:
    """Every table, index and view of ``source`` into ``target`` (empty), and the rows of
    every table but the derived ones, from one snapshot of ``source``.

    Copying the whole file and deleting what runs derived cost twice as long as the
    records alone: on the 2,000-account demo book, most of the file is signals and
    scores. The append-only triggers of the derived tables are left out: they guard
    history in the user's database, and the copy's history is rebuilt from nothing.
    """
    # WAL, as the store's own file: the replay's next batch is read while its days are
    # written, and a reader must not block a writer's commit.
    target.execute("PRAGMA journal_mode = WAL")
    target.execute("ATTACH DATABASE ? AS source", [str(source)])
    target.execute("BEGIN")
    objects = target.execute(
        "SELECT type, name, tbl_name, sql FROM source.sqlite_master "
        "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type != 'table', rowid"
    ).fetchall()
    for kind, _, _, sql in objects:
        if kind == "table":
            target.execute(sql)
    for kind, name, _, _ in objects:
        if kind == "table" and name not in DERIVED_TABLES:
            target.execute(f'INSERT INTO main."{name}" SELECT * FROM source."{name}"')
    for kind, _, table, sql in objects:
        if kind != "table" and not (kind == "trigger" and table in DERIVED_TABLES):
            target.execute(sql)
    target.execute("COMMIT")
    target.execute("DETACH DATABASE source")
