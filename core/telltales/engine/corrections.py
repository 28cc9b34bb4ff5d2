"""Undoing runs from a day onward: a mistaken run's derived history removed, on record.

History goes forward only: a run for a day before an account's last evaluated day
leaves the account alone (skipped). So a mistaken run (a day in the future, a day
run on stale data) would stand in the way of every correct run after it. A
correction removes what runs derived from a day onward (signals, scores, rule hits,
the transitions runs recorded and the playbook runs, tasks and deliveries those
transitions started), keeps every raw record, and writes down who did it, when,
from which day, why, and every history row it removed, so the days can be run
again and nothing is lost without a trace.

A person's override and imported history are not derived: they stay. Transitions,
task events and delivery attempts are append-only in the database itself; their
triggers let a row go only while a correction is being applied, inside the
correction's own transaction (migration ``m010_corrections``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime

import msgspec
from sqlite_utils import Database

from telltales import clock
from telltales.errors import InputError
from telltales.store import Store

DERIVED_CAUSES = ("rules", "override_ended", "lifecycle")
"""Transitions a run records (``lifecycle``: a run ended the status of an account no
longer live); ``override`` (a person) and ``imported`` stay. The tasks such an ending
dismissed stay dismissed: running the day again ends the account again."""


class Removed(msgspec.Struct, kw_only=True, frozen=True):
    """How many rows of each kind a correction removes (or would remove)."""

    runs: int = 0
    """Runs from the day on, now marked ``undone``."""
    signals: int = 0
    scores: int = 0
    rule_hits: int = 0
    transitions: int = 0
    playbook_runs: int = 0
    tasks: int = 0
    deliveries: int = 0
    delivered: int = 0
    """Of the deliveries, those already delivered: an email sent is not recalled."""
    last_day: date | None = None
    """The latest day of the runs undone."""


class Correction(msgspec.Struct, kw_only=True, frozen=True):
    """A recorded correction: who removed the derived history from which day, and why."""

    correction_id: int
    from_day: date
    by: str
    reason: str
    at: datetime
    removed: Removed


def preview(store: Store, from_day: date) -> Removed:
    """What undoing from ``from_day`` would remove, without removing anything."""
    return _count(store.db, from_day.isoformat())


def undo_from(store: Store, from_day: date, *, by: str, reason: str = "") -> Correction:
    """Remove the derived history from ``from_day`` on, in one transaction, on record.

    Raises :class:`InputError` when there is nothing to undo, or when a plugin's table
    still refers to a playbook run that would go (nothing is removed then).
    """
    if not by.strip():
        raise InputError("by: say who undoes the runs", field="by")
    day = from_day.isoformat()
    at = clock.now()
    try:
        with store.transaction() as db:
            removed = _count(db, day)
            if removed == Removed():
                raise InputError(f"nothing to undo: no run recorded anything from {day} on")
            correction_id = db.execute(
                "INSERT INTO corrections (from_day, by, reason, at, state, removed) "
                "VALUES (?, ?, ?, ?, 'applying', ?)",
                [day, by, reason, clock.stamp(at), msgspec.json.encode(removed).decode()],
            ).lastrowid
            assert correction_id is not None
            _remove(db, day, correction_id)
            db.execute(
                "UPDATE corrections SET state = 'applied' WHERE correction_id = ?",
                [correction_id],
            )
    except sqlite3.IntegrityError as error:
        if "FOREIGN KEY" not in str(error):
            raise
        raise InputError(
            f"cannot undo from {day}: a plugin's table still refers to a playbook run, task "
            f"or delivery that would be removed ({error}); nothing was removed"
        ) from error
    return Correction(
        correction_id=correction_id, from_day=from_day, by=by, reason=reason, at=at, removed=removed
    )


def list_corrections(store: Store) -> list[Correction]:
    """Every correction applied, newest first."""
    rows = store.db.execute(
        "SELECT correction_id, from_day, by, reason, at, removed FROM corrections "
        "WHERE state = 'applied' ORDER BY correction_id DESC"
    )
    return [
        Correction(
            correction_id=correction_id,
            from_day=date.fromisoformat(from_day),
            by=by,
            reason=reason,
            at=datetime.fromisoformat(at),
            removed=msgspec.json.decode(removed, type=Removed),
        )
        for correction_id, from_day, by, reason, at, removed in rows
    ]


_FINISHED = "('ok', 'stale', 'degraded')"
"""Runs that stored something; a failed or interrupted one stored nothing, and one
still running is another process's to finish."""

_STARTED = (
    "SELECT p.playbook_run_id FROM playbook_runs p JOIN transitions t "
    "ON t.transition_id = p.transition_id WHERE t.as_of >= :day AND t.cause IN "
    f"({', '.join(repr(c) for c in DERIVED_CAUSES)})"
)
"""The playbook runs started by the transitions a correction removes."""

_DELIVERIES = f"SELECT delivery_id FROM deliveries WHERE playbook_run_id IN ({_STARTED})"
_TASKS = (
    f"SELECT task_id FROM tasks WHERE playbook_run_id IN ({_STARTED}) "
    f"OR delivery_id IN ({_DELIVERIES})"
)

_COUNTS = {
    "runs": f"SELECT count(*) FROM runs WHERE as_of >= :day AND status IN {_FINISHED}",
    "signals": "SELECT count(*) FROM signals WHERE as_of >= :day",
    "scores": "SELECT count(*) FROM scores WHERE as_of >= :day",
    "rule_hits": "SELECT count(*) FROM rule_hits WHERE as_of >= :day",
    "transitions": "SELECT count(*) FROM transitions WHERE as_of >= :day AND cause IN "
    f"({', '.join(repr(c) for c in DERIVED_CAUSES)})",
    "playbook_runs": f"SELECT count(*) FROM ({_STARTED})",
    "tasks": f"SELECT count(*) FROM ({_TASKS})",
    "deliveries": f"SELECT count(*) FROM ({_DELIVERIES})",
    "delivered": "SELECT count(*) FROM deliveries WHERE status = 'delivered' "
    f"AND delivery_id IN ({_DELIVERIES})",
}


def _count(db: Database, day: str) -> Removed:
    counts = {name: db.execute(sql, {"day": day}).fetchone()[0] for name, sql in _COUNTS.items()}
    (last,) = db.execute(
        f"SELECT max(as_of) FROM runs WHERE as_of >= ? AND status IN {_FINISHED}", [day]
    ).fetchone()
    return Removed(**counts, last_day=date.fromisoformat(last) if last else None)


_ARCHIVED: Sequence[tuple[str, str]] = (
    ("task_events", f"task_id IN ({_TASKS})"),
    ("delivery_attempts", f"delivery_id IN ({_DELIVERIES})"),
    ("renewal_flags", f"playbook_run_id IN ({_STARTED})"),
    ("tasks", f"task_id IN ({_TASKS})"),
    ("deliveries", f"delivery_id IN ({_DELIVERIES})"),
    ("playbook_runs", f"playbook_run_id IN ({_STARTED})"),
    (
        "transitions",
        f"as_of >= :day AND cause IN ({', '.join(repr(c) for c in DERIVED_CAUSES)})",
    ),
)
"""History rows kept word for word in ``correction_rows`` before they go, children
before the rows they refer to."""


def _remove(db: Database, day: str, correction_id: int) -> None:
    params = {"day": day, "correction": correction_id}
    for table, where in _ARCHIVED:
        db.execute(
            "INSERT INTO correction_rows (correction_id, table_name, row) "
            f"SELECT :correction, '{table}', {_row_json(db, table)} FROM {table} WHERE {where}",
            params,
        )
        db.execute(f"DELETE FROM {table} WHERE {where}", params)
    for table in ("signals", "scores", "rule_hits"):
        db.execute(f"DELETE FROM {table} WHERE as_of >= :day", params)
    db.execute(
        f"UPDATE runs SET status = 'undone' WHERE as_of >= :day AND status IN {_FINISHED}",
        params,
    )
    _rewind_evaluated_days(db, day)


def _row_json(db: Database, table: str) -> str:
    """``json_object('a', a, 'b', b, ...)`` over every column the table has now."""
    columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    return "json_object(" + ", ".join(f"'{c}', \"{c}\"" for c in columns) + ")"


def _rewind_evaluated_days(db: Database, day: str) -> None:
    """Each account's last evaluated day goes back before ``day``.

    When only the last day was undone, the day before it is known exactly
    (``previous_day``); otherwise the account's latest scored day before ``day``
    stands in for it (a day its rules ran), and the one before that for
    ``previous_day``. An account with no day left starts afresh.
    """
    db.execute("CREATE TEMP TABLE IF NOT EXISTS rewound (account_id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM temp.rewound")
    db.execute(
        "INSERT INTO temp.rewound SELECT account_id FROM rule_accounts WHERE last_day >= ?", [day]
    )
    db.execute(
        """
        DELETE FROM rule_accounts
        WHERE account_id IN (SELECT account_id FROM temp.rewound)
        AND (previous_day IS NULL OR previous_day >= :day)
        AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.account_id = rule_accounts.account_id)
        """,
        {"day": day},
    )
    db.execute(
        """
        UPDATE rule_accounts SET
            last_day = CASE WHEN previous_day < :day THEN previous_day ELSE (
                SELECT max(s.as_of) FROM scores s WHERE s.account_id = rule_accounts.account_id
            ) END,
            previous_day = NULL
        WHERE account_id IN (SELECT account_id FROM temp.rewound)
        """,
        {"day": day},
    )
    db.execute(
        """
        UPDATE rule_accounts SET previous_day = (
            SELECT max(s.as_of) FROM scores s
            WHERE s.account_id = rule_accounts.account_id AND s.as_of < rule_accounts.last_day
        )
        WHERE account_id IN (SELECT account_id FROM temp.rewound)
        """
    )
    db.execute("DELETE FROM temp.rewound")
