"""Tasks: work for a person, open until done or dismissed, with every change recorded.

Tasks come from playbook runs: a ``task`` step creates work for the account's
owner, and a step whose action reaches the customer creates an *approval* task,
whose delivery waits until a CSM approves it. Each change of state is an event in
``task_events`` (who, when, why); completing the first task of a run acknowledges
the risk that started it, and a run whose tasks are all closed is closed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import msgspec
from sqlite_utils import Database

from telltales.errors import InputError
from telltales.models import is_blank
from telltales.store import Store

TaskState = Literal["open", "done", "dismissed"]
TaskKind = Literal["work", "approval"]
SYSTEM = "telltales"
"""Who created a task: the system, on behalf of a playbook."""
RECORD_FAILED = "record failed: "
"""How the detail of a step whose local effect (a task, a flag) could not be written starts."""


class Task(msgspec.Struct, kw_only=True, frozen=True):
    task_id: int
    account_id: str
    playbook_run_id: int | None
    delivery_id: int | None
    step: int
    kind: TaskKind
    title: str
    body: str
    assignee: str
    due_on: date
    state: TaskState
    created_at: datetime
    updated_at: datetime


class TaskEvent(msgspec.Struct, kw_only=True, frozen=True):
    task_id: int
    state: TaskState
    by: str
    at: datetime
    reason: str


_COLUMNS = (
    "task_id, account_id, playbook_run_id, delivery_id, step, kind, title, body, assignee, "
    "due_on, state, created_at, updated_at"
)


def add_business_days(day: date, days: int) -> date:
    """``days`` working days (Monday to Friday) after ``day``; holidays are not known."""
    current = day
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def create_task(
    db: Database,
    *,
    account_id: str,
    playbook_run_id: int | None,
    step: int,
    kind: TaskKind,
    title: str,
    body: str,
    assignee: str,
    due_on: date,
    at: datetime,
    idempotency_key: str,
    delivery_id: int | None = None,
) -> int:
    """Create the task once per ``idempotency_key``; return its id (also when it existed)."""
    existing = db.execute(
        "SELECT task_id FROM tasks WHERE idempotency_key = ?", [idempotency_key]
    ).fetchone()
    if existing is not None:
        task_id: int = existing[0]
        return task_id
    stamp = at.isoformat()
    cursor = db.execute(
        "INSERT INTO tasks (account_id, playbook_run_id, delivery_id, step, kind, title, body, "
        "assignee, due_on, state, created_at, updated_at, idempotency_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
        [
            account_id,
            playbook_run_id,
            delivery_id,
            step,
            kind,
            title,
            body,
            assignee,
            due_on.isoformat(),
            stamp,
            stamp,
            idempotency_key,
        ],
    )
    new_id = cursor.lastrowid
    assert new_id is not None
    db.execute(
        "INSERT INTO task_events (task_id, state, by, at) VALUES (?, 'open', ?, ?)",
        [new_id, SYSTEM, stamp],
    )
    return new_id


def get_task(store: Store, task_id: int) -> Task:
    task = find_task(store, task_id)
    if task is None:
        raise InputError(f"unknown task {task_id}")
    return task


def find_task(
    store: Store, task_id: int, *, csm_groups: Collection[str] | None = None
) -> Task | None:
    """The task, if it exists and its account is in ``csm_groups`` (None: any group).

    One answer for "no such task" and "another group's task", so a caller limited to
    some groups cannot tell them apart.
    """
    found = page_tasks(store, task_id=task_id, csm_groups=csm_groups, limit=1)
    return found[0] if found else None


def list_tasks(
    store: Store,
    *,
    state: str | None = None,
    assignee: str | None = None,
    account_id: str | None = None,
    kind: str | None = None,
    limit: int = 500,
) -> list[Task]:
    """Tasks matching every filter given, most urgent first (due date, then id)."""
    return page_tasks(
        store, state=state, assignee=assignee, account_id=account_id, kind=kind, limit=limit
    )


def page_tasks(
    store: Store,
    *,
    task_id: int | None = None,
    state: str | None = None,
    assignee: str | None = None,
    account_id: str | None = None,
    kind: str | None = None,
    csm_groups: Collection[str] | None = None,
    due_before: date | None = None,
    after: tuple[date, int] | None = None,
    limit: int = 100,
) -> list[Task]:
    """One page of the tasks matching every filter, most urgent first (due date, then id).

    ``csm_groups`` keeps the tasks of those groups' accounts (None: every group), so
    a reader limited to some groups gets their tasks from the same single query.
    ``after`` is the (due date, id) of the last task of the previous page: the next
    page starts right after it even if tasks were added or closed meanwhile.
    """
    equal = {
        "task_id": task_id,
        "state": state,
        "assignee": assignee,
        "account_id": account_id,
        "kind": kind,
    }
    conditions = [f"t.{column} = ?" for column, value in equal.items() if value is not None]
    params: list[object] = [value for value in equal.values() if value is not None]
    join = ""
    if csm_groups is not None:
        groups = sorted(csm_groups)
        join = "JOIN accounts a ON a.account_id = t.account_id"
        conditions.append(f"a.csm_group IN ({', '.join('?' for _ in groups)})")
        params.extend(groups)
    if due_before is not None:
        conditions.append("t.due_on < ?")
        params.append(due_before.isoformat())
    if after is not None:
        conditions.append("(t.due_on, t.task_id) > (?, ?)")
        params.extend([after[0].isoformat(), after[1]])
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    columns = ", ".join(f"t.{column}" for column in _COLUMNS.split(", "))
    rows = store.db.execute(
        f"SELECT {columns} FROM tasks t {join} {where} ORDER BY t.due_on, t.task_id LIMIT ?",
        [*params, limit],
    )
    return [_task(row) for row in rows]


def task_events(store: Store, task_id: int) -> list[TaskEvent]:
    rows = store.db.execute(
        "SELECT task_id, state, by, at, reason FROM task_events WHERE task_id = ? "
        "ORDER BY event_id",
        [task_id],
    )
    return [
        TaskEvent(task_id=t, state=s, by=b, at=datetime.fromisoformat(a), reason=r)
        for t, s, b, a, r in rows
    ]


def complete_task(store: Store, task_id: int, *, by: str, at: datetime | None = None) -> Task:
    """Mark a work task done; the first task of a run done acknowledges the risk."""
    return _change(store, task_id, "done", by=by, at=at, reason="", kind="work")


def approve_task(store: Store, task_id: int, *, by: str, at: datetime | None = None) -> Task:
    """Approve an approval task: its delivery is released to the outbox."""
    return _change(store, task_id, "done", by=by, at=at, reason="", kind="approval")


def dismiss_task(
    store: Store, task_id: int, *, by: str, reason: str, at: datetime | None = None
) -> Task:
    """Dismiss a task with a reason; a dismissed approval cancels its delivery."""
    if is_blank(reason):
        raise InputError("reason: say why the task is dismissed")
    return _change(store, task_id, "dismissed", by=by, at=at, reason=reason, kind=None)


def _change(
    store: Store,
    task_id: int,
    state: TaskState,
    *,
    by: str,
    at: datetime | None,
    reason: str,
    kind: TaskKind | None,
) -> Task:
    if not by.strip():
        raise InputError("by: say who changes the task")
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        raise InputError("at: give a time zone (e.g. 2026-11-20T09:30:00Z)")
    when = when.astimezone(UTC)
    with store.transaction() as db:
        task = get_task(store, task_id)
        if task.state != "open":
            raise InputError(f"task {task_id} is already {task.state}")
        if kind is not None and task.kind != kind:
            kind_of = "an approval" if task.kind == "approval" else "a work"
            verb = "approve" if task.kind == "approval" else "complete"
            raise InputError(f"task {task_id} is {kind_of} task: {verb} or dismiss it")
        if when < task.created_at:
            raise InputError(f"at: {when.isoformat()} is before the task was created")
        _record_change(db, task, state, by=by, when=when, reason=reason)
    return get_task(store, task_id)


def _record_change(
    db: Database, task: Task, state: TaskState, *, by: str, when: datetime, reason: str
) -> None:
    """Write an open task's new state and its event; release or cancel its delivery."""
    stamp = when.isoformat()
    db.execute(
        "UPDATE tasks SET state = ?, updated_at = ? WHERE task_id = ?",
        [state, stamp, task.task_id],
    )
    db.execute(
        "INSERT INTO task_events (task_id, state, by, at, reason) VALUES (?, ?, ?, ?, ?)",
        [task.task_id, state, by, stamp, reason],
    )
    if task.delivery_id is not None and task.kind == "approval":
        if state == "done":
            db.execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = ? "
                "WHERE delivery_id = ? AND status = 'awaiting_approval'",
                [datetime.now(UTC).isoformat(), task.delivery_id],
            )
        else:
            db.execute(
                "UPDATE deliveries SET status = 'cancelled', finished_at = ?, detail = ? "
                "WHERE delivery_id = ? AND status = 'awaiting_approval'",
                [stamp, f"not approved: dismissed by {by}: {reason}", task.delivery_id],
            )
    if task.playbook_run_id is not None:
        refresh_run(db, task.playbook_run_id, when)


def dismiss_open_tasks(db: Database, account_id: str, *, reason: str, at: datetime) -> int:
    """Dismiss every open task of the account, by telltales, with ``reason``; how many.

    For an account that stopped being live: nobody should work on it any more, and
    its playbook runs close with their tasks.
    """
    columns = ", ".join(f"t.{column}" for column in _COLUMNS.split(", "))
    rows = db.execute(
        f"SELECT {columns} FROM tasks t WHERE t.account_id = ? AND t.state = 'open' "
        "ORDER BY t.task_id",
        [account_id],
    ).fetchall()
    for row in rows:
        task = _task(row)
        when = max(at, task.created_at)
        _record_change(db, task, "dismissed", by=SYSTEM, when=when, reason=reason)
    return len(rows)


def refresh_run(db: Database, playbook_run_id: int, at: datetime) -> None:
    """Bring a run's acknowledgement and state up to date with its tasks.

    A run is ``completed`` when every task is done (a run with no task step is
    complete at once), ``closed`` when one was dismissed, or when a step's task or
    flag could not even be written: work that never existed was not done.
    """
    rows: Sequence[tuple[int, str, str]] = db.execute(
        "SELECT task_id, state, updated_at FROM tasks WHERE playbook_run_id = ? "
        "ORDER BY step, task_id",
        [playbook_run_id],
    ).fetchall()
    if rows and rows[0][1] == "done":
        db.execute(
            "UPDATE playbook_runs SET acknowledged_at = ? "
            "WHERE playbook_run_id = ? AND acknowledged_at IS NULL",
            [rows[0][2], playbook_run_id],
        )
    if any(state == "open" for _, state, _ in rows):
        return
    unwritten = db.execute(
        "SELECT 1 FROM deliveries WHERE playbook_run_id = ? AND status = 'failed' "
        "AND detail LIKE ? LIMIT 1",
        [playbook_run_id, f"{RECORD_FAILED}%"],
    ).fetchone()
    done = all(state == "done" for _, state, _ in rows) and unwritten is None
    final = "completed" if done else "closed"
    db.execute(
        "UPDATE playbook_runs SET state = ?, closed_at = ? "
        "WHERE playbook_run_id = ? AND state = 'open'",
        [final, at.isoformat(), playbook_run_id],
    )


def _task(row: Sequence[object]) -> Task:
    return msgspec.convert(dict(zip(_COLUMNS.split(", "), row, strict=True)), Task, strict=False)
