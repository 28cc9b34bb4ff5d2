"""Score past days honestly, without writing to the user's database.

A backtest needs each account's score and rule hits as of each past day, computed
from what was known that day. The simplest honest way is the engine itself: copy
the database (SQLite's backup API, into a temporary file), empty what runs and
people derived in the copy (runs, signals, scores, rule hits, statuses, playbooks,
tasks, keys, earlier backtests), keep every raw record with its valid time, and run
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

import msgspec

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
"""What runs, people and the API wrote: emptied in the copy, children first. Every
other table holds records as they were ingested (with their valid time), which the
replay reads as of each day."""


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
            store.reader.conn.backup(target)
            _clear_derived(target)
        finally:
            target.close()
        scratch = Store(path)
        try:
            yield scratch
        finally:
            scratch.close()


def _clear_derived(conn: sqlite3.Connection) -> None:
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    tables = [t for t in DERIVED_TABLES if t in present]
    conn.execute("BEGIN")
    # The append-only triggers guard history in the user's database; the copy's
    # history is being rebuilt from nothing.
    for (trigger,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' "
        "AND tbl_name IN (SELECT value FROM json_each(?))",
        [msgspec.json.encode(tables).decode()],
    ).fetchall():
        conn.execute(f'DROP TRIGGER "{trigger}"')
    for table in tables:
        conn.execute(f'DELETE FROM "{table}"')
    conn.execute("COMMIT")
