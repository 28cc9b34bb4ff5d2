"""History import: past transitions, playbook runs and renewals, written as native rows."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner, Result
from conftest import EXAMPLE_ACCOUNTS
from support.book import Book
from telltales.cli import cli
from telltales.errors import InputError
from telltales.outcomes.history_import import (
    HistoryImport,
    HistoryReport,
    ImportCounts,
    import_history,
)
from telltales.outcomes.renewals import InvalidRecords, RenewalCounts
from telltales.playbooks.runs import list_runs
from telltales.playbooks.statuses import status_as_of, transitions_of
from telltales.playbooks.tasks import complete_task, task_events
from telltales.store import Store

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "history" / "history.json"
DOC = ROOT / "docs" / "history-import.md"
ADMIN = "ops@vendor.example"

ENTERED = {
    "account_id": "a1",
    "as_of": "2025-03-03",
    "at": "2025-03-03T09:30:00+01:00",
    "from_status": "healthy",
    "to_status": "at_risk",
    "evidence": "Weekly active users of Reporting down 45% in 14 days",
}
TRANSITIONS: list[dict[str, Any]] = [
    {
        "account_id": "a1",
        "as_of": "2025-01-06",
        "at": "2025-01-06T08:00:00Z",
        "from_status": None,
        "to_status": "healthy",
    },
    ENTERED,
    {
        "account_id": "a1",
        "as_of": "2025-03-20",
        "at": "2025-03-20T17:00:00Z",
        "from_status": "at_risk",
        "to_status": "healthy",
        "evidence": "Reporting back to 48 weekly users",
    },
    {
        "account_id": "b1",
        "as_of": "2025-02-03",
        "at": "2025-02-03T12:00:00Z",
        "from_status": None,
        "to_status": "concern",
        "cohort": "control",
        "pilot_id": "old-pilot",
    },
]
CALL = {
    "title": "Call the sponsor",
    "description": "Ask what changed in the Reporting team",
    "due_on": "2025-03-06",
    "state": "done",
    "done_at": "2025-03-04T15:00:00Z",
}
REVIEW = {
    "title": "Usage review",
    "assignee": "mia@vendor.example",
    "created_at": "2025-03-03T09:05:00Z",
    "due_on": "2025-03-10",
    "state": "dismissed",
    "dismissed_at": "2025-03-07T10:00:00Z",
    "reason": "covered in the call",
}
RUN: dict[str, Any] = {
    "account_id": "a1",
    "playbook": "at_risk_response",
    "started_at": "2025-03-03T09:00:00Z",
    "status": "at_risk",
    "tasks": [CALL, REVIEW],
}
RENEWAL = {
    "account_id": "a1",
    "renewal_date": "2025-06-30",
    "arr_before": 100000,
    "arr_after": 90000,
    "discount_percent": 10,
    "outcome": "renewed",
}


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    opened = Book(tmp_path)
    yield opened
    opened.store.close()


def history(**sections: Any) -> HistoryImport:
    return msgspec.convert(sections, HistoryImport)


def full() -> HistoryImport:
    return history(transitions=TRANSITIONS, playbook_runs=[RUN], renewals=[RENEWAL])


def rows(store: Store, sql: str, *params: object) -> list[dict[str, Any]]:
    cursor = store.db.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def problems(store: Store, **sections: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidRecords) as error:
        import_history(store, history(**sections), by=ADMIN)
    return [(p.path, p.reason) for p in error.value.problems]


COUNTED = ("transitions", "playbook_runs", "tasks", "task_events", "renewals", "renewal_revisions")


def counts(store: Store) -> dict[str, int]:
    return {t: store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED}


# Reading an import back


def test_an_import_writes_the_rows_the_engine_writes(book: Book) -> None:
    report = import_history(book.store, full(), by=ADMIN)
    assert report == HistoryReport(
        transitions=ImportCounts(imported=4),
        playbook_runs=ImportCounts(imported=1),
        tasks=ImportCounts(imported=2),
        renewals=RenewalCounts(created=1),
    )
    transitions = rows(
        book.store,
        "SELECT transition_id, account_id, as_of, at, from_status, to_status, cause, rules, "
        "evidence, run_id, cohort, pilot_id, owner, csm_group, segment FROM transitions "
        "ORDER BY account_id, as_of",
    )
    assert [
        {k: v for k, v in t.items() if k not in ("transition_id", "owner", "segment")}
        for t in transitions
    ] == [
        {
            "account_id": "a1",
            "as_of": "2025-01-06",
            "at": "2025-01-06T08:00:00+00:00",
            "from_status": None,
            "to_status": "healthy",
            "cause": "imported",
            "rules": "[]",
            "evidence": "imported from another platform; no evidence given",
            "run_id": None,
            "cohort": "none",
            "pilot_id": None,
            "csm_group": "g1",
        },
        {
            "account_id": "a1",
            "as_of": "2025-03-03",
            "at": "2025-03-03T08:30:00+00:00",  # stored in UTC
            "from_status": "healthy",
            "to_status": "at_risk",
            "cause": "imported",
            "rules": "[]",
            "evidence": "Weekly active users of Reporting down 45% in 14 days",
            "run_id": None,
            "cohort": "none",
            "pilot_id": None,
            "csm_group": "g1",
        },
        {
            "account_id": "a1",
            "as_of": "2025-03-20",
            "at": "2025-03-20T17:00:00+00:00",
            "from_status": "at_risk",
            "to_status": "healthy",
            "cause": "imported",
            "rules": "[]",
            "evidence": "Reporting back to 48 weekly users",
            "run_id": None,
            "cohort": "none",
            "pilot_id": None,
            "csm_group": "g1",
        },
        {
            "account_id": "b1",
            "as_of": "2025-02-03",
            "at": "2025-02-03T12:00:00+00:00",
            "from_status": None,
            "to_status": "concern",
            "cause": "imported",
            "rules": "[]",
            "evidence": "imported from another platform; no evidence given",
            "run_id": None,
            "cohort": "control",
            "pilot_id": "old-pilot",
            "csm_group": "g2",
        },
    ]
    assert {(t["account_id"], t["owner"]) for t in transitions} == {
        ("a1", "ann@vendor.example"),
        ("b1", "bob@vendor.example"),
    }

    (run,) = list_runs(book.store)
    assert run.transition_id == transitions[1]["transition_id"]
    assert (run.account_id, run.playbook, run.status, run.mode, run.state) == (
        "a1",
        "at_risk_response",
        "at_risk",
        "live",
        "closed",  # one task dismissed: not every task was done
    )
    assert run.as_of == date(2025, 3, 3)
    assert run.started_at == datetime(2025, 3, 3, 9, tzinfo=UTC)
    assert run.acknowledged_at == datetime(2025, 3, 4, 15, tzinfo=UTC)  # the first task done
    assert run.closed_at == datetime(2025, 3, 7, 10, tzinfo=UTC)  # the last task closed
    assert (run.cohort, run.owner, run.csm_group) == ("none", "ann@vendor.example", "g1")

    tasks = rows(
        book.store,
        "SELECT task_id, playbook_run_id, step, kind, title, body, assignee, due_on, state, "
        "created_at, updated_at FROM tasks ORDER BY step",
    )
    assert [{k: v for k, v in t.items() if k != "task_id"} for t in tasks] == [
        {
            "playbook_run_id": run.playbook_run_id,
            "step": 1,
            "kind": "work",
            "title": "Call the sponsor",
            "body": "Ask what changed in the Reporting team",
            "assignee": "ann@vendor.example",  # the owner, when none is given
            "due_on": "2025-03-06",
            "state": "done",
            "created_at": "2025-03-03T09:00:00+00:00",  # when the run started
            "updated_at": "2025-03-04T15:00:00+00:00",
        },
        {
            "playbook_run_id": run.playbook_run_id,
            "step": 2,
            "kind": "work",
            "title": "Usage review",
            "body": "",
            "assignee": "mia@vendor.example",
            "due_on": "2025-03-10",
            "state": "dismissed",
            "created_at": "2025-03-03T09:05:00+00:00",
            "updated_at": "2025-03-07T10:00:00+00:00",
        },
    ]
    events = [
        (e.state, e.by, e.at.isoformat(), e.reason)
        for task in tasks
        for e in task_events(book.store, task["task_id"])
    ]
    assert events == [
        ("open", "import", "2025-03-03T09:00:00+00:00", ""),
        ("done", "import", "2025-03-04T15:00:00+00:00", ""),
        ("open", "import", "2025-03-03T09:05:00+00:00", ""),
        ("dismissed", "import", "2025-03-07T10:00:00+00:00", "covered in the call"),
    ]
    (renewal,) = rows(book.store, "SELECT * FROM renewals")
    assert (renewal["source"], renewal["recorded_by"], renewal["cohort"]) == (
        "import",
        ADMIN,
        "none",
    )


def task(state: str, day: int | None = None, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"title": f"{state} {day}", "due_on": "2025-03-10", "state": state}
    if state in ("done", "dismissed") and day is not None:
        found[f"{state}_at"] = f"2025-03-{day:02d}T12:00:00Z"
    if state == "dismissed":
        found["reason"] = "not needed"
    return {**found, **extra}


def noon(day: int) -> str:
    return f"2025-03-{day:02d}T12:00:00+00:00"


@pytest.mark.parametrize(
    ("tasks", "state", "acknowledged", "closed"),
    [
        ([], "completed", None, "2025-03-03T09:00:00+00:00"),  # closed when it started
        ([task("done", 5), task("done", 4)], "completed", noon(5), noon(5)),
        ([task("done", 4), task("dismissed", 6)], "closed", noon(4), noon(6)),
        ([task("dismissed", 4), task("done", 6)], "closed", None, noon(6)),
        ([task("done", 4), task("open")], "open", noon(4), None),
        ([task("open"), task("done", 4)], "open", None, None),
    ],
    ids=["no-tasks", "all-done", "one-dismissed", "first-dismissed", "one-open", "first-open"],
)
def test_a_runs_state_comes_from_its_tasks_as_a_native_runs_does(
    book: Book,
    tasks: list[dict[str, Any]],
    state: str,
    acknowledged: str | None,
    closed: str | None,
) -> None:
    """Acknowledged when the first task (in the playbook's order) was done; closed when
    the last open one ended; completed only if every task was done."""
    run = {**RUN, "tasks": tasks}
    import_history(book.store, history(transitions=TRANSITIONS[:2], playbook_runs=[run]), by=ADMIN)
    assert rows(book.store, "SELECT state, acknowledged_at, closed_at FROM playbook_runs") == [
        {"state": state, "acknowledged_at": acknowledged, "closed_at": closed}
    ]


def test_an_imported_open_task_is_worked_on_like_any_other(book: Book) -> None:
    run = {**RUN, "tasks": [CALL, task("open")]}
    import_history(book.store, history(transitions=TRANSITIONS[:2], playbook_runs=[run]), by=ADMIN)
    (open_task,) = rows(book.store, "SELECT task_id FROM tasks WHERE state = 'open'")
    complete_task(book.store, open_task["task_id"], by="ann@vendor.example")
    (stored,) = list_runs(book.store)
    assert stored.state == "completed"
    assert stored.acknowledged_at == datetime(2025, 3, 4, 15, tzinfo=UTC)


def test_imported_transitions_read_back_as_status_history(book: Book) -> None:
    """The status history and the status as of a day read imported rows like native ones."""
    import_history(book.store, full(), by=ADMIN)
    history_a1 = transitions_of(book.store, "a1")
    assert [(t.as_of, t.from_status, t.to_status, t.cause) for t in history_a1] == [
        (date(2025, 1, 6), None, "healthy", "imported"),
        (date(2025, 3, 3), "healthy", "at_risk", "imported"),
        (date(2025, 3, 20), "at_risk", "healthy", "imported"),
    ]
    during = status_as_of(book.store, "a1", date(2025, 3, 10))
    assert during is not None
    assert during.to_status == "at_risk"


# Importing again


def test_importing_the_same_history_again_adds_nothing(book: Book) -> None:
    import_history(book.store, full(), by=ADMIN)
    before = counts(book.store)
    # The same instants written in another time zone are the same transitions.
    shifted = [
        {**t, "at": datetime.fromisoformat(t["at"]).astimezone(UTC).isoformat()}
        for t in TRANSITIONS
    ]
    run = {
        **RUN,
        "started_at": "2025-03-03T10:00:00+01:00",
        "tasks": [{**CALL, "done_at": "2025-03-04T10:00:00-05:00"}, REVIEW],
    }
    again = history(transitions=shifted, playbook_runs=[run], renewals=[RENEWAL])
    assert import_history(book.store, again, by=ADMIN) == HistoryReport(
        transitions=ImportCounts(already_there=4),
        playbook_runs=ImportCounts(already_there=1),
        tasks=ImportCounts(already_there=2),
        renewals=RenewalCounts(unchanged=1),
    )
    assert counts(book.store) == before


def test_earlier_history_can_follow_in_a_second_import(book: Book) -> None:
    import_history(book.store, history(transitions=TRANSITIONS[1:3]), by=ADMIN)
    report = import_history(book.store, history(transitions=TRANSITIONS[:3]), by=ADMIN)
    assert report.transitions == ImportCounts(imported=1, already_there=2)


def test_history_imported_before_with_other_content_is_not_rewritten(book: Book) -> None:
    import_history(book.store, full(), by=ADMIN)
    before = counts(book.store)
    changed = [TRANSITIONS[0], {**ENTERED, "evidence": "something else"}]
    done_later = {**RUN, "tasks": [CALL, {**REVIEW, "state": "done", "reason": ""}]}
    assert problems(
        book.store,
        transitions=changed,
        playbook_runs=[{**done_later, "tasks": [CALL, task("open")]}],
    ) == [
        (
            "transitions[1]",
            "this transition was imported before with other content (from_status 'healthy', "
            "cohort 'none', evidence 'Weekly active users of Reporting down 45% in 14 days'); "
            "imported history is not rewritten",
        ),
        (
            "playbook_runs[0].tasks",
            "playbook 'at_risk_response' was imported before for this transition with other "
            "tasks or task states; imported history is not rewritten",
        ),
    ]
    assert counts(book.store) == before


# What is refused


FIRST = TRANSITIONS[0]


@pytest.mark.parametrize(
    ("transitions", "expected"),
    [
        (
            [{**FIRST, "account_id": "ghost"}],
            (
                "transitions[0].account_id",
                "unknown account 'ghost'; add it with `telltales ingest accounts` first",
            ),
        ),
        (
            [{**FIRST, "as_of": "2025-01-07"}],
            ("transitions[0].at", "2025-01-06T08:00:00+00:00 is before its day as_of 2025-01-07"),
        ),
        (
            [{**FIRST, "as_of": "2099-01-01", "at": "2099-01-01T08:00:00+00:00"}],
            ("transitions[0].at", "2099-01-01T08:00:00+00:00 is in the future"),
        ),
        (
            [{**FIRST, "as_of": "0001-01-01", "at": "0001-01-01T00:30:00+01:00"}],
            ("transitions[0].at", "0001-01-01T00:30:00+01:00 is before 1900"),
        ),
        (
            [{**FIRST, "from_status": "healthy"}],
            ("transitions[0].to_status", "equals from_status ('healthy'): no change"),
        ),
        (
            [{**FIRST, "pilot_id": "p1"}],
            (
                "transitions[0].pilot_id",
                "given with cohort 'none': say cohort 'pilot' or 'control'",
            ),
        ),
        (
            [FIRST, FIRST],
            ("transitions[1].at", "the same transition as transitions[0]"),
        ),
        (
            [FIRST, {**ENTERED, "from_status": "concern"}],
            (
                "transitions[1].from_status",
                "transitions[0] left the account 'healthy', so this "
                "one starts from 'healthy', not 'concern'",
            ),
        ),
        (
            [FIRST, {**ENTERED, "from_status": None}],
            (
                "transitions[1].from_status",
                "transitions[0] left the account 'healthy', so this "
                "one starts from 'healthy', not None",
            ),
        ),
        (
            [FIRST, {**ENTERED, "as_of": "2025-01-06", "at": "2025-01-06T09:00:00+01:00"}],
            ("transitions[1].at", "transitions[0] is at the same time; order them by time"),
        ),
    ],
    ids=[
        "unknown-account",
        "at-before-as-of",
        "future",
        "before-1900",
        "no-change",
        "pilot-without-cohort",
        "twice",
        "broken-chain",
        "null-in-the-middle",
        "same-time",
    ],
)
def test_a_transition_is_refused(
    book: Book, transitions: list[dict[str, Any]], expected: tuple[str, str]
) -> None:
    assert problems(book.store, transitions=transitions) == [expected]
    assert counts(book.store)["transitions"] == 0


def test_an_earlier_transition_must_lead_into_the_recorded_one_after_it(book: Book) -> None:
    import_history(book.store, history(transitions=[ENTERED]), by=ADMIN)
    assert problems(book.store, transitions=[{**FIRST, "to_status": "concern"}]) == [
        (
            "transitions[0].to_status",
            "the recorded transition of 2025-03-03 starts from 'healthy': a transition to "
            "'concern' before it would break the history",
        )
    ]


def test_imported_history_goes_before_telltales_own(book: Book) -> None:
    plan = book.plan()
    book.run(plan, date(2025, 6, 2))  # records each account's first status: healthy
    late = {**ENTERED, "as_of": "2025-07-01", "at": "2025-07-01T09:00:00Z"}
    late_run = {**RUN, "started_at": "2025-07-01T10:00:00Z", "tasks": []}
    native = (
        "telltales has recorded a1's status itself since 2025-06-02 (2025-06-02T09:00:00+00:00)"
    )
    assert problems(book.store, transitions=[late], playbook_runs=[late_run]) == [
        (
            "transitions[0].as_of",
            f"{native}; imported history must come before that (history is never rewritten)",
        ),
        (
            "playbook_runs[0].started_at",
            f"{native}; imported runs must start before that (history is never rewritten)",
        ),
    ]
    report = import_history(book.store, history(transitions=TRANSITIONS[:3]), by=ADMIN)
    assert report.transitions == ImportCounts(imported=3)


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (
            {**RUN, "account_id": "ghost"},
            [
                (
                    "playbook_runs[0].account_id",
                    "unknown account 'ghost'; add it with `telltales ingest accounts` first",
                )
            ],
        ),
        (
            {**RUN, "started_at": "2025-01-01T00:00:00Z", "tasks": []},
            [
                (
                    "playbook_runs[0].started_at",
                    "a1 has no transition on or before 2025-01-01T00:00:00+00:00: import the "
                    "transition into 'at_risk' that started it (in transitions)",
                )
            ],
        ),
        (
            {**RUN, "status": "concern"},
            [
                (
                    "playbook_runs[0].status",
                    "at 2025-03-03T09:00:00+00:00 a1 was 'at_risk' (since transitions[1]), not "
                    "'concern': a run belongs to the transition that started it",
                )
            ],
        ),
        (
            {**RUN, "started_at": "2025-03-25T09:00:00Z", "tasks": []},
            [
                (
                    "playbook_runs[0].status",
                    "at 2025-03-25T09:00:00+00:00 a1 was 'healthy' (since transitions[2]), not "
                    "'at_risk': a run belongs to the transition that started it",
                )
            ],
        ),
        (
            {**RUN, "started_at": "0001-01-01T00:30:00+01:00", "tasks": []},
            [("playbook_runs[0].started_at", "0001-01-01T00:30:00+01:00 is before 1900")],
        ),
        (
            {**RUN, "tasks": [{**CALL, "created_at": "2025-03-03T08:59:00Z"}]},
            [("playbook_runs[0].tasks[0].created_at", "is before the run started (started_at)")],
        ),
        (
            {**RUN, "tasks": [{**CALL, "done_at": None}]},
            [("playbook_runs[0].tasks[0].done_at", "a done task needs the time it was done")],
        ),
        (
            {**RUN, "tasks": [{**CALL, "state": "open"}]},
            [("playbook_runs[0].tasks[0].done_at", "given, but the task is open")],
        ),
        (
            {**RUN, "tasks": [{**CALL, "done_at": "2025-03-02T00:00:00Z"}]},
            [("playbook_runs[0].tasks[0].done_at", "is before the task was created")],
        ),
        (
            {**RUN, "tasks": [{**REVIEW, "reason": " "}]},
            [("playbook_runs[0].tasks[0].reason", "say why the task was dismissed")],
        ),
        (
            {**RUN, "tasks": [{**CALL, "reason": "because"}]},
            [("playbook_runs[0].tasks[0].reason", "only a dismissed task has a reason")],
        ),
    ],
    ids=[
        "unknown-account",
        "no-transition-before",
        "other-status",
        "left-the-status",
        "before-1900",
        "task-before-run",
        "done-without-time",
        "open-with-done-time",
        "done-before-created",
        "dismissed-without-reason",
        "reason-on-done",
    ],
)
def test_a_playbook_run_is_refused(
    book: Book, run: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert problems(book.store, transitions=TRANSITIONS, playbook_runs=[run]) == expected
    assert counts(book.store)["playbook_runs"] == 0


def test_a_run_or_its_task_in_the_future_is_refused(book: Book) -> None:
    later = datetime.now(UTC) + timedelta(days=3)
    soon = {**RUN, "tasks": [{**CALL, "done_at": later.isoformat()}]}
    assert problems(book.store, transitions=TRANSITIONS[:2], playbook_runs=[soon]) == [
        ("playbook_runs[0].tasks[0].done_at", f"{later.isoformat()} is in the future")
    ]
    assert problems(
        book.store,
        transitions=TRANSITIONS[:2],
        playbook_runs=[{**RUN, "started_at": later.isoformat(), "tasks": []}],
    ) == [("playbook_runs[0].started_at", f"{later.isoformat()} is in the future")]
    created_later = {**RUN, "tasks": [{**task("open"), "created_at": later.isoformat()}]}
    assert problems(book.store, transitions=TRANSITIONS[:2], playbook_runs=[created_later]) == [
        ("playbook_runs[0].tasks[0].created_at", f"{later.isoformat()} is in the future")
    ]


def test_the_same_run_twice_is_refused(book: Book) -> None:
    later = {**RUN, "started_at": "2025-03-03T11:00:00Z", "tasks": []}
    assert problems(book.store, transitions=TRANSITIONS, playbook_runs=[RUN, later]) == [
        (
            "playbook_runs[1].playbook",
            "playbook_runs[0] is the same playbook for the same transition",
        )
    ]


def test_one_bad_record_anywhere_stores_nothing_and_every_section_says_what(book: Book) -> None:
    assert problems(
        book.store,
        transitions=[*TRANSITIONS, {**FIRST, "account_id": "a2", "from_status": "healthy"}],
        playbook_runs=[RUN],
        renewals=[RENEWAL, {**RENEWAL, "account_id": "a2", "outcome": "churned"}],
    ) == [
        ("transitions[4].to_status", "equals from_status ('healthy'): no change"),
        (
            "renewals[1].arr_after",
            "a churned renewal keeps no ARR: arr_after must be 0, not 90000",
        ),
    ]
    assert counts(book.store) == dict.fromkeys(COUNTED, 0)


def test_someone_imports_it(book: Book) -> None:
    with pytest.raises(InputError, match="by: say who imports the history"):
        import_history(book.store, full(), by="")


# The CLI and the documented example


def invoke(*args: str | Path, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    assert invoke("--db", path, "init").exit_code == 0
    assert invoke("--db", path, "ingest", "accounts", EXAMPLE_ACCOUNTS).exit_code == 0
    return path


def doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_documented_example_is_the_example_file_and_imports_as_documented(db: Path) -> None:
    file_block, reply_block = doc_blocks("json")
    assert json.loads(file_block) == json.loads(EXAMPLE.read_text())
    (session,) = doc_blocks("text")
    command, output = session.split("\n", 1)
    assert command == f"$ telltales history import examples/history/history.json --by {ADMIN}"
    result = invoke("--db", db, "history", "import", EXAMPLE, "--by", ADMIN)
    assert result.exit_code == 0, result.output
    assert result.output.replace(str(EXAMPLE), "examples/history/history.json") == output
    # The documented reply is the one to sending the same file again.
    result = invoke("--db", db, "history", "import", EXAMPLE, "--by", ADMIN, "--json")
    assert json.loads(result.output) == json.loads(reply_block)


def test_cli_names_what_is_wrong_in_the_file(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"transitions": [{**FIRST, "account_id": "ferrum", "at": "2025-01-06T08:00:00"}]}
        )
    )
    result = invoke("--db", db, "history", "import", bad, "--by", ADMIN)
    assert result.exit_code == 1
    assert result.output == (
        "Error: field 'transitions[0].at': expected `datetime` with a timezone component\n"
    )
    bad.write_text(
        json.dumps({"renewals": [{**RENEWAL, "account_id": "ferrum", "outcome": "churned"}]})
    )
    result = invoke("--db", db, "history", "import", bad, "--by", ADMIN)
    assert result.exit_code == 1
    assert result.output == (
        "Error: 1 invalid record(s); nothing was stored:\n"
        "  renewals[0].arr_after: a churned renewal keeps no ARR: arr_after must be 0, not 90000\n"
    )
