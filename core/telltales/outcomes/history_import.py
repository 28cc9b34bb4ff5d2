"""Importing history from another platform: past transitions, playbook runs with tasks, renewals.

A team moving to telltales brings the record of what happened before: when each
account changed status, which playbooks ran and how their tasks ended, and what
each renewal was worth. The rows written here are the ones the engine writes, with
the original timestamps, so every metric reads imported and native history alike.

Imported history only goes before telltales' own: an account's transitions and
runs must be dated before the first transition telltales recorded for it, and each
transition must start from the status the one before it left (history is never
rewritten). Importing the same file again adds nothing: transitions are unique by
account, day, time and status, playbook runs by transition and playbook, and tasks
by a key made of their content; a record that was imported before with other
content is refused rather than silently kept or replaced. The whole import is one
transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from itertools import pairwise
from typing import Annotated

import msgspec
from sqlite_utils import Database

from telltales import clock
from telltales.errors import InputError
from telltales.models import FIRST_DAY, HealthStatus, Identifier
from telltales.outcomes.renewals import (
    AccountSnapshot,
    InvalidRecords,
    RecordProblem,
    RenewalCounts,
    RenewalOutcome,
    check_renewals,
    load_accounts,
    unknown_account,
    write_renewals,
)
from telltales.playbooks.pilots import Cohort
from telltales.playbooks.tasks import SYSTEM, TaskState
from telltales.store import Store

IMPORTED = "imported"
"""The ``cause`` of an imported transition."""
IMPORTED_BY = "import"
"""Who the task events of imported tasks are by."""
NO_EVIDENCE = "imported from another platform; no evidence given"
NOTE = "imported from another platform"

Aware = Annotated[datetime, msgspec.Meta(tz=True)]
"""A time with its time zone: ``2026-03-02T09:30:00Z``."""


class ImportedTransition(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A past change of an account's health status."""

    account_id: Identifier
    as_of: date
    """The day whose data caused it."""
    at: Aware
    """When it was recorded."""
    from_status: HealthStatus | None
    """The status it left: null only for the account's first transition."""
    to_status: HealthStatus
    evidence: str = ""
    """Why, in the other platform's words."""
    cohort: Cohort = "none"
    pilot_id: str | None = None


class ImportedTask(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A task of an imported playbook run, with how and when it ended."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    due_on: date
    state: TaskState
    description: str = ""
    assignee: str = ""
    """Empty: the account's owner."""
    created_at: Aware | None = None
    """Empty: when the run started."""
    done_at: Aware | None = None
    dismissed_at: Aware | None = None
    reason: str = ""
    """Why it was dismissed (required for a dismissed task)."""


class ImportedPlaybookRun(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A past run of a playbook, started by the account's entry into ``status``."""

    account_id: Identifier
    playbook: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    started_at: Aware
    status: HealthStatus
    """The status whose entry started it."""
    tasks: list[ImportedTask] = msgspec.field(default_factory=list)
    """In the playbook's order: completing the first one acknowledges the risk."""


class HistoryImport(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """A history file (or ``POST /v1/history`` body): any of the three sections."""

    transitions: list[ImportedTransition] = msgspec.field(default_factory=list)
    playbook_runs: list[ImportedPlaybookRun] = msgspec.field(default_factory=list)
    renewals: list[RenewalOutcome] = msgspec.field(default_factory=list)


class ImportCounts(msgspec.Struct, kw_only=True, frozen=True):
    imported: int = 0
    already_there: int = 0
    """Imported before with the same content: nothing was added."""


class HistoryReport(msgspec.Struct, kw_only=True, frozen=True):
    """What an import added, section by section."""

    transitions: ImportCounts
    playbook_runs: ImportCounts
    tasks: ImportCounts
    renewals: RenewalCounts


@dataclass
class _Entry:
    """One transition of an account's history: recorded already, or in this import."""

    as_of: date
    at: datetime
    from_status: str | None
    to_status: str
    cause: str
    evidence: str
    cohort: str
    pilot_id: str | None
    owner: str
    csm_group: str
    segment: str
    transition_id: int | None = None
    index: int | None = None
    """Its index in the import's transitions, for a new one."""

    @property
    def order(self) -> tuple[date, datetime]:
        return (self.as_of, self.at)

    def where(self) -> str:
        if self.index is not None:
            return f"transitions[{self.index}]"
        return f"the recorded transition of {self.as_of}"


_ProblemAt = Callable[[int, str, str], None]
"""Report a problem of one section's record: index, field, reason."""


EARLIEST = datetime.combine(FIRST_DAY, time(), UTC)


def _out_of_range(moment: datetime, now: datetime) -> str | None:
    """Why a time cannot be history: in the future, or before any real record."""
    if moment > now:
        return f"{moment.isoformat()} is in the future"
    if moment < EARLIEST:
        return f"{moment.isoformat()} is before 1900"
    return None


class _Problems:
    def __init__(self) -> None:
        self.found: list[RecordProblem] = []

    def add(self, section: str, index: int, field: str, reason: str) -> None:
        self.found.append(RecordProblem(section=section, index=index, field=field, reason=reason))


def import_history(store: Store, history: HistoryImport, *, by: str) -> HistoryReport:
    """Check the whole import, then write it in one transaction; nothing when anything is wrong.

    Raises :class:`InvalidRecords` naming each invalid record by section, index and
    field.
    """
    if not by.strip():
        raise InputError("by: say who imports the history")
    now = datetime.now(UTC)
    problems = _Problems()
    with store.transaction() as db:
        account_ids = {t.account_id for t in history.transitions}
        account_ids |= {r.account_id for r in history.playbook_runs}
        account_ids |= {r.account_id for r in history.renewals}
        accounts = load_accounts(db, account_ids)
        recorded = _recorded_history(db, account_ids)
        timelines, new_entries, already = _check_transitions(
            history.transitions, accounts, recorded, now, problems
        )
        runs = _check_runs(db, history.playbook_runs, accounts, timelines, now, problems)
        problems.found.extend(check_renewals(history.renewals, accounts))
        if problems.found:
            raise InvalidRecords(sorted(problems.found, key=_section_order))
        _insert_transitions(db, new_entries)
        run_counts, task_counts = _insert_runs(db, runs)
        renewal_counts = write_renewals(db, history.renewals, accounts, source="import", by=by)
    return HistoryReport(
        transitions=ImportCounts(imported=len(new_entries), already_there=already),
        playbook_runs=run_counts,
        tasks=task_counts,
        renewals=renewal_counts,
    )


_SECTIONS = {"transitions": 0, "playbook_runs": 1, "renewals": 2}


def _section_order(problem: RecordProblem) -> tuple[int, int]:
    return (_SECTIONS[problem.section], problem.index)


def _recorded_history(db: Database, account_ids: set[str]) -> dict[str, list[_Entry]]:
    """Every transition already recorded for these accounts, in one query."""
    rows = db.execute(
        "SELECT transition_id, account_id, as_of, at, from_status, to_status, cause, evidence, "
        "cohort, pilot_id, owner, csm_group, segment FROM transitions "
        "WHERE account_id IN (SELECT value FROM json_each(?)) ORDER BY as_of, at, transition_id",
        [msgspec.json.encode(sorted(account_ids)).decode()],
    )
    found: dict[str, list[_Entry]] = {}
    for row in rows:
        (transition_id, account_id, as_of, at, from_status, to_status, cause, evidence) = row[:8]
        cohort, pilot_id, owner, csm_group, segment = row[8:]
        found.setdefault(account_id, []).append(
            _Entry(
                as_of=date.fromisoformat(as_of),
                at=datetime.fromisoformat(at),
                from_status=from_status,
                to_status=to_status,
                cause=cause,
                evidence=evidence,
                cohort=cohort,
                pilot_id=pilot_id,
                owner=owner,
                csm_group=csm_group,
                segment=segment,
                transition_id=transition_id,
            )
        )
    return found


def _check_transitions(
    records: Sequence[ImportedTransition],
    accounts: dict[str, AccountSnapshot],
    recorded: dict[str, list[_Entry]],
    now: datetime,
    problems: _Problems,
) -> tuple[dict[str, list[_Entry]], list[tuple[str, _Entry]], int]:
    """Each account's history with the new transitions in place, the new ones, and how
    many were imported before."""

    def problem(index: int, field: str, reason: str) -> None:
        problems.add("transitions", index, field, reason)

    imported_before = {
        (account_id, e.as_of, clock.stamp(e.at), e.to_status): e
        for account_id, entries in recorded.items()
        for e in entries
        if e.cause == IMPORTED
    }
    first_native = {
        account_id: next((e for e in entries if e.cause != IMPORTED), None)
        for account_id, entries in recorded.items()
    }
    timelines = {account_id: list(entries) for account_id, entries in recorded.items()}
    new_entries: list[tuple[str, _Entry]] = []
    in_batch: dict[tuple[str, date, str, str], int] = {}
    already = 0
    for index, record in enumerate(records):
        account = accounts.get(record.account_id)
        if account is None:
            problem(index, "account_id", unknown_account(record.account_id))
            continue
        failed = len(problems.found)
        if record.at.date() < record.as_of:
            problem(index, "at", f"{record.at.isoformat()} is before its day as_of {record.as_of}")
        when = _out_of_range(record.at, now)
        if when is not None:
            problem(index, "at", when)
        if record.from_status == record.to_status:
            problem(index, "to_status", f"equals from_status ({record.to_status!r}): no change")
        if record.cohort == "none" and record.pilot_id is not None:
            problem(index, "pilot_id", "given with cohort 'none': say cohort 'pilot' or 'control'")
        native = first_native.get(record.account_id)
        if native is not None and (record.as_of, record.at) >= native.order:
            problem(
                index,
                "as_of",
                f"telltales has recorded {record.account_id}'s status itself since "
                f"{native.as_of} ({native.at.isoformat()}); imported history must come before "
                "that (history is never rewritten)",
            )
        if len(problems.found) > failed:
            continue
        key = (record.account_id, record.as_of, clock.stamp(record.at), record.to_status)
        if key in in_batch:
            problem(index, "at", f"the same transition as transitions[{in_batch[key]}]")
            continue
        in_batch[key] = index
        entry = _Entry(
            as_of=record.as_of,
            at=record.at.astimezone(UTC),
            from_status=record.from_status,
            to_status=record.to_status,
            cause=IMPORTED,
            evidence=record.evidence.strip() or NO_EVIDENCE,
            cohort=record.cohort,
            pilot_id=record.pilot_id,
            owner=account.owner,
            csm_group=account.csm_group,
            segment=account.segment,
            index=index,
        )
        before = imported_before.get(key)
        if before is not None:
            mine = (entry.from_status, entry.evidence, entry.cohort, entry.pilot_id)
            theirs = (before.from_status, before.evidence, before.cohort, before.pilot_id)
            if mine != theirs:
                problem(
                    index,
                    "",
                    "this transition was imported before with other content (from_status "
                    f"{before.from_status!r}, cohort {before.cohort!r}, evidence "
                    f"{before.evidence!r}); imported history is not rewritten",
                )
            else:
                already += 1
            continue
        timelines.setdefault(record.account_id, []).append(entry)
        new_entries.append((record.account_id, entry))
    for timeline in timelines.values():
        timeline.sort(key=lambda e: e.order)
        _check_chain(timeline, problem)
    return timelines, new_entries, already


def _check_chain(timeline: list[_Entry], problem: _ProblemAt) -> None:
    """Each new transition starts where the one before it left the account, and fits
    before the one after it."""
    for previous, current in pairwise(timeline):
        if previous.index is None and current.index is None:
            continue
        if previous.order == current.order:
            new = current if current.index is not None else previous
            other = previous if new is current else current
            assert new.index is not None
            problem(new.index, "at", f"{other.where()} is at the same time; order them by time")
        elif current.index is not None and current.from_status != previous.to_status:
            problem(
                current.index,
                "from_status",
                f"{previous.where()} left the account {previous.to_status!r}, "
                f"so this one starts from {previous.to_status!r}, not {current.from_status!r}",
            )
        elif (
            previous.index is not None
            and current.index is None
            and current.from_status is not None
            and current.from_status != previous.to_status
        ):
            problem(
                previous.index,
                "to_status",
                f"{current.where()} starts from {current.from_status!r}: "
                f"a transition to {previous.to_status!r} before it would break the history",
            )


@dataclass
class _NewRun:
    index: int
    record: ImportedPlaybookRun
    entry: _Entry
    """The transition that started it."""
    task_keys: list[str]
    existing_run_id: int | None = None


def _check_runs(
    db: Database,
    records: Sequence[ImportedPlaybookRun],
    accounts: dict[str, AccountSnapshot],
    timelines: dict[str, list[_Entry]],
    now: datetime,
    problems: _Problems,
) -> list[_NewRun]:
    """The runs to write, each with the transition that started it and its tasks' keys."""

    def problem(index: int, field: str, reason: str) -> None:
        problems.add("playbook_runs", index, field, reason)

    runs: list[_NewRun] = []
    in_batch: dict[tuple[str, date, datetime, str], int] = {}
    for index, record in enumerate(records):
        account = accounts.get(record.account_id)
        if account is None:
            problem(index, "account_id", unknown_account(record.account_id))
            continue
        failed = len(problems.found)
        started = record.started_at
        when = _out_of_range(started, now)
        if when is not None:
            problem(index, "started_at", when)
        _check_tasks(index, record, now, problem)
        if when is not None:
            continue
        timeline = timelines.get(record.account_id, [])
        native = next((e for e in timeline if e.cause != IMPORTED), None)
        if native is not None and started >= native.at:
            problem(
                index,
                "started_at",
                f"telltales has recorded {record.account_id}'s status itself since "
                f"{native.as_of} ({native.at.isoformat()}); imported runs must start before "
                "that (history is never rewritten)",
            )
            continue
        earlier = [e for e in timeline if e.at <= started]
        entry = max(earlier, key=lambda e: e.order) if earlier else None
        if entry is None:
            problem(
                index,
                "started_at",
                f"{record.account_id} has no transition on or before "
                f"{record.started_at.isoformat()}: import the transition into "
                f"{record.status!r} that started it (in transitions)",
            )
        elif entry.to_status != record.status:
            problem(
                index,
                "status",
                f"at {record.started_at.isoformat()} {record.account_id} was "
                f"{entry.to_status!r} (since {entry.where()}), not {record.status!r}: a run "
                "belongs to the transition that started it",
            )
        if entry is None or len(problems.found) > failed:
            continue
        link = (record.account_id, entry.as_of, entry.at, record.playbook)
        if link in in_batch:
            problem(
                index,
                "playbook",
                f"playbook_runs[{in_batch[link]}] is the same playbook for the same transition",
            )
            continue
        in_batch[link] = index
        runs.append(
            _NewRun(
                index=index,
                record=record,
                entry=entry,
                task_keys=[_task_key(record, n, task) for n, task in enumerate(record.tasks)],
            )
        )
    _match_existing(db, runs, problem)
    return runs


def _check_tasks(
    index: int, record: ImportedPlaybookRun, now: datetime, problem: _ProblemAt
) -> None:
    for n, task in enumerate(record.tasks):
        where = f"tasks[{n}]"
        created = task.created_at or record.started_at
        if created < record.started_at:
            problem(index, f"{where}.created_at", "is before the run started (started_at)")
        elif (when := _out_of_range(created, now)) is not None:
            problem(index, f"{where}.created_at", when)
        ends = {"done": task.done_at, "dismissed": task.dismissed_at}
        for state, moment in ends.items():
            field = f"{where}.{state}_at"
            if state == task.state and moment is None:
                problem(index, field, f"a {state} task needs the time it was {state}")
            elif state != task.state and moment is not None:
                problem(index, field, f"given, but the task is {task.state}")
            elif moment is not None and moment < created:
                problem(index, field, "is before the task was created")
            elif moment is not None and (when := _out_of_range(moment, now)) is not None:
                problem(index, field, when)
        if task.state == "dismissed" and not task.reason.strip():
            problem(index, f"{where}.reason", "say why the task was dismissed")
        if task.state != "dismissed" and task.reason.strip():
            problem(index, f"{where}.reason", "only a dismissed task has a reason")


def _task_key(record: ImportedPlaybookRun, position: int, task: ImportedTask) -> str:
    """The idempotency key of an imported task: the run it belongs to and all it says
    (times in UTC, so the same instant in another time zone is the same task)."""
    fields = {
        name: clock.stamp(value) if isinstance(value, datetime) else value
        for name, value in msgspec.structs.asdict(task).items()
    }
    content = msgspec.json.encode(
        [record.account_id, record.playbook, clock.stamp(record.started_at), position, fields]
    )
    return f"import-{hashlib.sha256(content).hexdigest()[:32]}"


def _match_existing(db: Database, runs: list[_NewRun], problem: _ProblemAt) -> None:
    """Mark the runs imported before; refuse one imported before with other tasks."""
    linked = sorted({r.entry.transition_id for r in runs if r.entry.transition_id is not None})
    if not linked:
        return
    ids = msgspec.json.encode(linked).decode()
    existing = {
        (transition_id, playbook): run_id
        for run_id, transition_id, playbook in db.execute(
            "SELECT playbook_run_id, transition_id, playbook FROM playbook_runs "
            "WHERE transition_id IN (SELECT value FROM json_each(?))",
            [ids],
        )
    }
    keys: dict[int, list[str]] = {}
    for run_id, key in db.execute(
        "SELECT t.playbook_run_id, t.idempotency_key FROM tasks t JOIN playbook_runs r "
        "ON r.playbook_run_id = t.playbook_run_id "
        "WHERE r.transition_id IN (SELECT value FROM json_each(?)) ORDER BY t.step, t.task_id",
        [ids],
    ):
        keys.setdefault(run_id, []).append(key)
    for run in runs:
        run_id = existing.get((run.entry.transition_id, run.record.playbook))
        if run_id is None:
            continue
        if keys.get(run_id, []) != run.task_keys:
            problem(
                run.index,
                "tasks",
                f"playbook {run.record.playbook!r} was imported before for this transition "
                "with other tasks or task states; imported history is not rewritten",
            )
        run.existing_run_id = run_id


def _insert_transitions(db: Database, new_entries: Sequence[tuple[str, _Entry]]) -> None:
    """Write the new transitions and give each its id (the runs link to them)."""
    if not new_entries:
        return
    recorded_at = datetime.now(UTC).isoformat()
    db.conn.executemany(
        "INSERT INTO transitions (account_id, as_of, at, from_status, to_status, cause, "
        "evidence, cohort, pilot_id, owner, csm_group, segment, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (
                account_id,
                e.as_of.isoformat(),
                clock.stamp(e.at),
                e.from_status,
                e.to_status,
                IMPORTED,
                e.evidence,
                e.cohort,
                e.pilot_id,
                e.owner,
                e.csm_group,
                e.segment,
                recorded_at,
            )
            for account_id, e in new_entries
        ],
    )
    ids = {
        (account_id, as_of, at, to_status): transition_id
        for transition_id, account_id, as_of, at, to_status in db.execute(
            "SELECT transition_id, account_id, as_of, at, to_status FROM transitions "
            "WHERE cause = ? AND account_id IN (SELECT value FROM json_each(?))",
            [IMPORTED, msgspec.json.encode(sorted({a for a, _ in new_entries})).decode()],
        )
    }
    for account_id, e in new_entries:
        e.transition_id = ids[(account_id, e.as_of.isoformat(), clock.stamp(e.at), e.to_status)]


def _insert_runs(db: Database, runs: Sequence[_NewRun]) -> tuple[ImportCounts, ImportCounts]:
    """Write each new run with its tasks and their events, as a live run that ran then."""
    imported = already = tasks_imported = tasks_already = 0
    for run in runs:
        record, entry = run.record, run.entry
        if run.existing_run_id is not None:
            already += 1
            tasks_already += len(record.tasks)
            continue
        assert entry.transition_id is not None
        state, acknowledged_at, closed_at = _outcome(record)
        cursor = db.execute(
            "INSERT INTO playbook_runs (account_id, playbook, transition_id, as_of, started_at, "
            "mode, state, cohort, pilot_id, owner, csm_group, segment, status, rules, note, "
            "acknowledged_at, closed_at) "
            "VALUES (?, ?, ?, ?, ?, 'live', ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?)",
            [
                record.account_id,
                record.playbook,
                entry.transition_id,
                record.started_at.date().isoformat(),
                clock.stamp(record.started_at),
                state,
                entry.cohort,
                entry.pilot_id,
                entry.owner,
                entry.csm_group,
                entry.segment,
                record.status,
                NOTE,
                acknowledged_at,
                closed_at,
            ],
        )
        imported += 1
        for position, (task, key) in enumerate(zip(record.tasks, run.task_keys, strict=True)):
            _insert_task(db, cursor.lastrowid, record, entry, position, task, key)
            tasks_imported += 1
    return (
        ImportCounts(imported=imported, already_there=already),
        ImportCounts(imported=tasks_imported, already_there=tasks_already),
    )


def _outcome(record: ImportedPlaybookRun) -> tuple[str, str | None, str | None]:
    """State, acknowledgement and close of a run, derived from its tasks as
    :func:`telltales.playbooks.tasks.refresh_run` derives a native run's."""
    tasks = record.tasks
    first = tasks[0] if tasks else None
    acknowledged = clock.stamp(first.done_at) if first and first.done_at else None
    if any(task.state == "open" for task in tasks):
        return "open", acknowledged, None
    ends = [task.done_at or task.dismissed_at or record.started_at for task in tasks]
    closed = clock.stamp(max(ends, default=record.started_at))
    state = "completed" if all(task.state == "done" for task in tasks) else "closed"
    return state, acknowledged, closed


def _insert_task(
    db: Database,
    run_id: int | None,
    record: ImportedPlaybookRun,
    entry: _Entry,
    position: int,
    task: ImportedTask,
    key: str,
) -> None:
    created = clock.stamp(task.created_at or record.started_at)
    ended = task.done_at or task.dismissed_at
    cursor = db.execute(
        "INSERT INTO tasks (account_id, playbook_run_id, step, kind, title, body, assignee, "
        "due_on, state, created_at, updated_at, idempotency_key) "
        "VALUES (?, ?, ?, 'work', ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            record.account_id,
            run_id,
            position + 1,
            task.title,
            task.description,
            task.assignee.strip() or entry.owner or SYSTEM,
            task.due_on.isoformat(),
            task.state,
            created,
            clock.stamp(ended) if ended else created,
            key,
        ],
    )
    events = [(cursor.lastrowid, "open", IMPORTED_BY, created, "")]
    if ended is not None:
        events.append((cursor.lastrowid, task.state, IMPORTED_BY, clock.stamp(ended), task.reason))
    db.conn.executemany(
        "INSERT INTO task_events (task_id, state, by, at, reason) VALUES (?, ?, ?, ?, ?)", events
    )
