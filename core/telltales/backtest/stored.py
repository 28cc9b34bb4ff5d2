"""Backtests as stored: the row of each (running, done or failed) and its observations.

Append-only (migration ``m011_backtests``): the row is written when the backtest
starts and once more when it ends; the observations are written once, with the
values of the measured signals (``m012_backtest_measure_values``). A backtest
left ``running`` by a process that is gone reads as ``failed`` ("interrupted").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

import msgspec

from telltales import clock
from telltales.backtest.observations import Observation
from telltales.backtest.report import Report, Settings
from telltales.store import Store
from telltales.store.processes import process_gone, this_process

State = Literal["running", "done", "failed"]


class Backtest(msgspec.Struct, kw_only=True, frozen=True):
    """A backtest as stored: its settings, state and, once done, its report."""

    backtest_id: int
    state: State
    settings: Settings
    requested_by: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    """Why it failed."""
    report: Report | None


def start(store: Store, settings: Settings, *, by: str) -> int:
    """Record a backtest about to run; its id."""
    with store.transaction() as db:
        cursor = db.execute(
            "INSERT INTO backtests (state, settings, requested_by, started_at, process) "
            "VALUES ('running', ?, ?, ?, ?)",
            [
                msgspec.json.encode(settings).decode(),
                by,
                clock.now().isoformat(),
                this_process(),
            ],
        )
        backtest_id = cursor.lastrowid
    assert isinstance(backtest_id, int)
    return backtest_id


def finish(
    store: Store, backtest_id: int, observations: Sequence[Observation], report: Report
) -> None:
    """Store the observations and the report in one transaction."""
    encode = msgspec.json.encode
    with store.transaction() as db:
        db.conn.executemany(
            "INSERT INTO backtest_observations (backtest_id, account_id, day, owner, csm_group, "
            "segment, outcome, outcome_day, scores, grades, rules, fired, status, measure_values, "
            "days_to_renewal) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    backtest_id,
                    o.account_id,
                    o.day.isoformat(),
                    o.owner,
                    o.csm_group,
                    o.segment,
                    None if o.outcome is None else int(o.outcome),
                    o.outcome_day.isoformat() if o.outcome_day else None,
                    encode(o.scores).decode(),
                    encode(o.grades).decode(),
                    encode(o.rules).decode(),
                    encode(o.fired).decode(),
                    o.status,
                    encode(o.values).decode(),
                    o.days_to_renewal,
                )
                for o in observations
            ),
        )
        db.execute(
            "UPDATE backtests SET state = 'done', finished_at = ?, report = ? "
            "WHERE backtest_id = ?",
            [clock.now().isoformat(), encode(report).decode(), backtest_id],
        )


def fail(store: Store, backtest_id: int, error: str) -> None:
    with store.transaction() as db:
        db.execute(
            "UPDATE backtests SET state = 'failed', finished_at = ?, error = ? "
            "WHERE backtest_id = ? AND state = 'running'",
            [clock.now().isoformat(), error, backtest_id],
        )


def get(store: Store, backtest_id: int) -> Backtest | None:
    row = store.db.execute(
        "SELECT backtest_id, state, settings, requested_by, started_at, finished_at, process, "
        "error, report FROM backtests WHERE backtest_id = ?",
        [backtest_id],
    ).fetchone()
    if row is None:
        return None
    found_id, state, settings, by, started, finished, process, error, report = row
    if state == "running" and process is not None and process_gone(process):
        state, error = "failed", "interrupted: the process that ran it is gone"
    return Backtest(
        backtest_id=found_id,
        state=state,
        settings=msgspec.json.decode(settings, type=Settings),
        requested_by=by,
        started_at=datetime.fromisoformat(started),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        error=error,
        report=msgspec.json.decode(report, type=Report) if report else None,
    )


def observations(store: Store, backtest_id: int) -> list[Observation]:
    """The observations a backtest judged, by account and day."""
    decode = msgspec.json.decode
    return [
        Observation(
            account_id=account_id,
            day=date.fromisoformat(day),
            owner=owner,
            csm_group=csm_group,
            segment=segment,
            outcome=None if outcome is None else bool(outcome),
            outcome_day=date.fromisoformat(outcome_day) if outcome_day else None,
            scores=decode(scores, type=dict[str, float | None]),
            grades=decode(grades, type=dict[str, str]),
            rules=decode(rules, type=list[str]),
            fired=decode(fired, type=list[str]),
            status=status,
            values=decode(values, type=dict[str, float]) if values else {},
            days_to_renewal=days_to_renewal,
        )
        for (
            account_id,
            day,
            owner,
            csm_group,
            segment,
            outcome,
            outcome_day,
            scores,
            grades,
            rules,
            fired,
            status,
            values,
            days_to_renewal,
        ) in store.db.execute(
            "SELECT account_id, day, owner, csm_group, segment, outcome, outcome_day, scores, "
            "grades, rules, fired, status, measure_values, days_to_renewal "
            "FROM backtest_observations "
            "WHERE backtest_id = ? ORDER BY account_id, day",
            [backtest_id],
        )
    ]
