"""Undoing runs from a day onward: derived history removed on record, the days run again.

A mistaken run (a day in the future, a day run on stale data) writes status history
that every later correct run must skip. A correction removes what runs derived from
a day on, keeps raw records and people's overrides, and records who, when, from which
day and every history row it removed; running the days again then gives exactly what
a database that never saw the mistake gives.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from support.book import ANN, Book, d
from telltales.engine.corrections import Removed, list_corrections, preview, undo_from
from telltales.errors import InputError
from telltales.playbooks.plan import Plan
from telltales.playbooks.statuses import override_status
from telltales.store.history import store_versions
from telltales.store.queries import get_account, get_run


def history(book: Book) -> dict[str, list[tuple[object, ...]]]:
    """Everything runs derive, as a database without the mistake must also hold it."""
    return {
        "transitions": book.rows(
            "SELECT account_id, as_of, from_status, to_status, cause, rules, evidence "
            "FROM transitions ORDER BY account_id, as_of, transition_id"
        ),
        "rule_hits": book.rows(
            "SELECT as_of, account_id, rule, state, held_since, mode FROM rule_hits "
            "ORDER BY 1, 2, 3"
        ),
        "playbook_runs": book.rows(
            "SELECT account_id, playbook, as_of, mode, state FROM playbook_runs ORDER BY 1, 3"
        ),
        "tasks": book.rows("SELECT account_id, title, state FROM tasks ORDER BY 1, 2"),
        "signals": book.rows("SELECT as_of, account_id, key, value FROM signals ORDER BY 1, 2, 3"),
        "rule_accounts": book.rows("SELECT * FROM rule_accounts ORDER BY 1"),
    }


def start(book: Book) -> Plan:
    plan = book.plan()
    book.pilot(plan)  # group g1 live: the at-risk playbook makes tasks
    book.signal("a1", drop=-0.5)
    book.run(plan, d(13))
    book.signal("a1", drop=-0.1)
    book.signal("a2", tickets=9)
    book.run(plan, d(20))
    return plan


def the_right_days(book: Book, plan: Plan) -> None:
    book.signal("a1", drop=-0.1)
    book.signal("a2", tickets=2)
    book.signal("a3")
    book.run(plan, d(21))
    book.run(plan, d(22))


def test_undoing_a_mistaken_run_lets_the_days_run_as_if_it_never_happened(
    tmp_path: Path,
) -> None:
    (tmp_path / "never").mkdir()
    (tmp_path / "mistaken").mkdir()
    never, mistaken = Book(tmp_path / "never"), Book(tmp_path / "mistaken")
    plan = start(never)
    the_right_days(never, plan)

    wrong = start(mistaken)
    mistaken.signal("a1", drop=-0.9)  # a collapse read from silence
    mistaken.signal("a3", gone=1)
    mistaken.run(wrong, d(30))
    before_day = history(mistaken)
    the_right_days(mistaken, wrong)
    assert mistaken.run(wrong, d(22)).actions.skipped == 5  # type: ignore[union-attr]
    assert history(mistaken)["transitions"] == before_day["transitions"]

    correction = undo_from(mistaken.store, d(21), by=ANN, reason="day 30 ran early")
    assert correction.removed.runs == 4  # day 30, and the three skipped runs after it
    the_right_days(mistaken, wrong)
    assert history(mistaken) == history(never)


def test_a_correction_records_who_when_why_and_every_row_it_removed(tmp_path: Path) -> None:
    book = Book(tmp_path)
    plan = start(book)
    book.signal("a2", drop=-0.8)
    book.run(plan, d(25))
    doomed = book.rows("SELECT * FROM transitions WHERE as_of >= '2026-11-21'")
    tasks = book.count("tasks")
    expected = preview(book.store, d(21))
    assert expected == Removed(
        runs=1,
        signals=book.rows("SELECT count(*) FROM signals WHERE as_of = '2026-11-25'")[0][0],
        scores=5,
        rule_hits=1,
        transitions=1,
        playbook_runs=1,
        tasks=1,
        deliveries=1,  # the task step's delivery, recorded as delivered when it was made
        delivered=1,
        last_day=d(25),
    )
    done = undo_from(book.store, d(21), by=ANN, reason="probe misread")
    assert (done.by, done.reason, done.from_day, done.removed) == (
        ANN,
        "probe misread",
        d(21),
        expected,
    )
    assert list_corrections(book.store) == [done]
    assert book.count("tasks") == tasks - 1
    assert book.rows("SELECT * FROM transitions WHERE as_of >= '2026-11-21'") == []
    archived = book.rows(
        "SELECT table_name, row FROM correction_rows WHERE correction_id = ?", done.correction_id
    )
    assert sorted({t for t, _ in archived}) == [
        "deliveries",
        "playbook_runs",
        "task_events",
        "tasks",
        "transitions",
    ]
    kept = [json.loads(row) for table, row in archived if table == "transitions"]
    assert [tuple(row.values()) for row in kept] == doomed
    run = book.rows("SELECT run_id FROM runs WHERE as_of = '2026-11-25'")[0][0]
    assert get_run(book.store, run).status == "undone"  # type: ignore[union-attr]
    # Earlier days stand, and raw records are not derived history.
    assert book.rows("SELECT count(*) FROM signals WHERE as_of = '2026-11-20'") == [(5,)]


def test_a_persons_override_is_not_derived_history(tmp_path: Path) -> None:
    book = Book(tmp_path)
    plan = start(book)
    now = datetime.now(UTC)
    account = get_account(book.store, "b1")
    override_status(
        book.store,
        account,
        "concern",
        reason="call went badly",
        until=now + timedelta(days=3),
        by=ANN,
        now=now,
    )
    undo_from(book.store, d(1), by=ANN)
    assert book.rows("SELECT account_id, cause FROM transitions") == [("b1", "override")]
    assert book.count("rule_accounts") == 0
    assert plan is not None


def test_history_stays_append_only_outside_a_correction(tmp_path: Path) -> None:
    book = Book(tmp_path)
    start(book)
    for table in ("transitions", "task_events"):
        with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only history"):
            book.store.db.execute(f"DELETE FROM {table}")


def test_nothing_to_undo_is_an_error_and_records_nothing(tmp_path: Path) -> None:
    book = Book(tmp_path)
    start(book)
    with pytest.raises(InputError, match="nothing to undo: no run recorded anything from "):
        undo_from(book.store, d(21), by=ANN)
    with pytest.raises(InputError, match="by: say who undoes the runs"):
        undo_from(book.store, d(1), by=" ")
    assert list_corrections(book.store) == []


def churn(book: Book, account_id: str, day: date) -> None:
    """A version of the account, churned from ``day``."""
    account = get_account(book.store, account_id)
    ended = msgspec.structs.replace(account, as_of=day, lifecycle="churned")
    with book.store.transaction() as db:
        store_versions(db, [ended])


def test_the_end_of_an_account_a_run_recorded_is_undone_with_it(tmp_path: Path) -> None:
    """A churned account's status ends (cause ``lifecycle``) in the first run after its
    churn: a mistaken later run ended it on the wrong day, and the correction lets the
    right day end it, as if the mistake never happened."""
    (tmp_path / "never").mkdir()
    (tmp_path / "mistaken").mkdir()
    never, mistaken = Book(tmp_path / "never"), Book(tmp_path / "mistaken")
    plans = {}
    for book in (never, mistaken):
        plans[book] = start(book)
        churn(book, "a2", d(21))
    mistaken.run(plans[mistaken], d(30))
    undo_from(mistaken.store, d(21), by=ANN, reason="day 30 ran early")
    for book in (never, mistaken):
        book.run(plans[book], d(21))
    ended = "SELECT as_of, to_status FROM transitions WHERE cause = 'lifecycle'"
    assert never.rows(ended) == [("2026-11-21", "inactive")]
    assert history(mistaken) == history(never)
