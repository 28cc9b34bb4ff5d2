"""Write a small history straight into the tables the metrics read.

The metrics are tested against numbers worked out by hand, so the history behind them
is written row by row, exactly as a test states it, without a run of the engine or a
configuration in between. Days are ISO strings; snapshot columns (owner, CSM group,
segment) come from the account unless a call gives them.

docs/metrics.md shows each metric's worked example as the JSON it reports; the tests
compute the same example and compare (:func:`documented_example`), so the doc cannot
drift from the code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from telltales.store import Store

DOCS = Path(__file__).parents[2] / "docs" / "metrics.md"

NOW = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
UNSET = "<from the last transition>"


@dataclass
class _Account:
    owner: str
    csm_group: str
    segment: str
    status: str | None = None


@dataclass
class MetricHistory:
    store: Store
    accounts: dict[str, _Account] = field(default_factory=dict)
    _run_id: int | None = None
    _tasks: int = 0

    def account(
        self, account_id: str, *, owner: str = "ann", csm_group: str = "emea", segment: str = "smb"
    ) -> str:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO accounts (account_id, name, owner, csm_group, segment, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [account_id, account_id.title(), owner, csm_group, segment, NOW],
            )
        self.accounts[account_id] = _Account(owner, csm_group, segment)
        return account_id

    def transition(
        self,
        account_id: str,
        as_of: str,
        to: str,
        *,
        from_status: str | None = UNSET,
        at: str | None = None,
        cohort: str = "none",
        cause: str = "rules",
    ) -> int:
        """Record a transition; ``from_status`` defaults to the account's last status here."""
        account = self.accounts[account_id]
        before = account.status if from_status == UNSET else from_status
        with self.store.transaction() as db:
            cursor = db.execute(
                "INSERT INTO transitions (account_id, as_of, at, from_status, to_status, cause, "
                "evidence, cohort, owner, csm_group, segment, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'written by the test', ?, ?, ?, ?, ?)",
                [
                    account_id,
                    as_of,
                    at or f"{as_of}T09:00:00+00:00",
                    before,
                    to,
                    cause,
                    cohort,
                    account.owner,
                    account.csm_group,
                    account.segment,
                    NOW,
                ],
            )
        account.status = to
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def playbook_run(
        self,
        transition_id: int,
        *,
        tasks: Sequence[tuple[str, str]] = (),
        mode: str = "live",
        playbook: str = "save-the-account",
    ) -> int:
        """A run started by the transition, with tasks given as (state, when it got there).

        The run's state and acknowledgement follow the tasks as the core's ``refresh_run``
        sets them: acknowledged when the first task is done; open while a task is open,
        completed when all are done (or there is none), else closed.
        """
        states = [state for state, _ in tasks]
        acknowledged_at = tasks[0][1] if mode == "live" and states[:1] == ["done"] else None
        if mode != "live":
            state = mode
        elif "open" in states:
            state = "open"
        else:
            state = "completed" if all(s == "done" for s in states) else "closed"
        with self.store.transaction() as db:
            account_id, as_of, at, status, cohort = db.execute(
                "SELECT account_id, as_of, at, to_status, cohort FROM transitions "
                "WHERE transition_id = ?",
                [transition_id],
            ).fetchone()
            account = self.accounts[account_id]
            cursor = db.execute(
                "INSERT INTO playbook_runs (account_id, playbook, transition_id, as_of, "
                "started_at, mode, state, cohort, owner, csm_group, segment, status, rules, "
                "acknowledged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?)",
                [
                    account_id,
                    playbook,
                    transition_id,
                    as_of,
                    at,
                    mode,
                    state,
                    cohort,
                    account.owner,
                    account.csm_group,
                    account.segment,
                    status,
                    acknowledged_at,
                ],
            )
            run_id = cursor.lastrowid
            assert run_id is not None
            for step, (task_state, when) in enumerate(tasks, start=1):
                self._tasks += 1
                task = db.execute(
                    "INSERT INTO tasks (account_id, playbook_run_id, step, kind, title, body, "
                    "assignee, due_on, state, created_at, updated_at, idempotency_key) "
                    "VALUES (?, ?, ?, 'work', 'Call them', '', ?, ?, ?, ?, ?, ?)",
                    [
                        account_id,
                        run_id,
                        step,
                        account.owner,
                        as_of,
                        task_state,
                        at,
                        when,
                        f"test-{self._tasks}",
                    ],
                ).lastrowid
                db.execute(
                    "INSERT INTO task_events (task_id, state, by, at) VALUES (?, ?, 'test', ?)",
                    [task, task_state, when],
                )
        return run_id

    def renewal(
        self,
        account_id: str,
        renewal_date: str,
        arr_before: float,
        arr_after: float,
        *,
        discount_percent: float = 0.0,
        cohort: str = "none",
    ) -> None:
        account = self.accounts[account_id]
        outcome = "renewed" if arr_after > 0 else "churned"
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO renewals (account_id, renewal_date, arr_before, arr_after, "
                "discount_percent, outcome, owner, csm_group, segment, cohort, source, "
                "recorded_at, recorded_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'test', ?, 'test')",
                [
                    account_id,
                    renewal_date,
                    arr_before,
                    arr_after,
                    discount_percent,
                    outcome,
                    account.owner,
                    account.csm_group,
                    account.segment,
                    cohort,
                    NOW,
                ],
            )

    def rule_hit(
        self,
        account_id: str,
        as_of: str,
        rule: str = "usage-drop",
        *,
        state: str = "fired",
        mode: str = "live",
        owner: str | None = None,
        cohort: str = "none",
    ) -> None:
        account = self.accounts[account_id]
        with self.store.transaction() as db:
            if self._run_id is None:
                self._run_id = db.execute(
                    "INSERT INTO runs (as_of, status, started_at) VALUES (?, 'ok', ?)",
                    [as_of, NOW],
                ).lastrowid
            db.execute(
                "INSERT INTO rule_hits (as_of, account_id, rule, state, held_since, status, "
                "severity, mode, cohort, owner, csm_group, segment, matches, run_id) "
                "VALUES (?, ?, ?, ?, ?, 'at_risk', 'high', ?, ?, ?, ?, ?, '[]', ?)",
                [
                    as_of,
                    account_id,
                    rule,
                    state,
                    as_of,
                    mode,
                    cohort,
                    account.owner if owner is None else owner,
                    account.csm_group,
                    account.segment,
                    self._run_id,
                ],
            )


def documented_example(metric: str) -> object:
    """The JSON block after ``<!-- example: METRIC -->`` in docs/metrics.md."""
    marker = f"<!-- example: {metric} -->"
    _, found, rest = DOCS.read_text().partition(marker)
    assert found, f"docs/metrics.md has no {marker}"
    block = rest.split("```json\n", 1)[1].split("```", 1)[0]
    return json.loads(block)


def rounded(value: object, digits: int = 4) -> object:
    """``value`` as JSON builtins with every float rounded, as the doc shows numbers."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, list):
        return [rounded(item, digits) for item in value]
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, msgspec.Struct):
        return rounded(msgspec.to_builtins(value), digits)
    return value
