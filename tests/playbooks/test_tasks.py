"""Tasks: done, dismissed or approved, with who and when; acknowledgement and run state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from support.book import ANN, FRIDAY, MIA, Book, at
from telltales.errors import InputError
from telltales.playbooks.tasks import (
    TaskEvent,
    approve_task,
    complete_task,
    dismiss_task,
    get_task,
    list_tasks,
    task_events,
)

# One run of ``respond`` for a1 (created at 09:00 on Friday the 20th) gives task 1
# (step 1, Ann), task 2 (step 2, the manager Mia) and approval task 3 (step 3, Ann).
STEPS = """
[playbooks.respond]
on_enter = "at_risk"
steps = [
  { action = "task", title = "Call the sponsor" },
  { action = "task", assignee = "manager", title = "Review the account" },
  { action = "mail" },
]
"""


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    opened = Book(tmp_path)
    plan = opened.plan(STEPS)
    opened.pilot(plan)
    opened.signal("a1", drop=-0.5)
    opened.run(plan)
    yield opened
    opened.store.close()


def run_state(book: Book) -> tuple[str, str | None, str | None]:
    ((state, acknowledged, closed),) = book.rows(
        "SELECT state, acknowledged_at, closed_at FROM playbook_runs"
    )
    return state, acknowledged, closed


def test_the_run_gave_three_open_tasks(book: Book) -> None:
    assert [(t.task_id, t.step, t.kind, t.assignee, t.state) for t in list_tasks(book.store)] == [
        (3, 3, "approval", ANN, "open"),  # due Tuesday the 24th: two business days
        (1, 1, "work", ANN, "open"),  # due Wednesday the 25th: three
        (2, 2, "work", MIA, "open"),
    ]
    assert run_state(book) == ("open", None, None)


def test_done_records_who_and_when_and_the_first_task_acknowledges_the_risk(book: Book) -> None:
    second = complete_task(book.store, 2, by=MIA, at=at(FRIDAY, 10))
    assert (second.state, second.updated_at) == ("done", at(FRIDAY, 10))
    assert run_state(book) == ("open", None, None), "step 2 done first acknowledges nothing"

    complete_task(book.store, 1, by=ANN, at=at(FRIDAY, 11, 30))
    assert run_state(book) == ("open", "2026-11-20T11:30:00+00:00", None)
    assert task_events(book.store, 1) == [
        TaskEvent(task_id=1, state="open", by="telltales", at=at(FRIDAY), reason=""),
        TaskEvent(task_id=1, state="done", by=ANN, at=at(FRIDAY, 11, 30), reason=""),
    ]

    approve_task(book.store, 3, by=ANN, at=at(FRIDAY, 12))
    assert run_state(book) == (
        "completed",
        "2026-11-20T11:30:00+00:00",
        "2026-11-20T12:00:00+00:00",
    )
    assert book.rows("SELECT status FROM deliveries WHERE step = 3") == [("pending",)]
    assert [t.task_id for t in list_tasks(book.store, state="done", assignee=ANN)] == [3, 1]
    assert list_tasks(book.store, state="open") == []


def test_a_dismissed_task_keeps_its_reason_and_the_run_is_closed_not_completed(
    book: Book,
) -> None:
    dismissed = dismiss_task(
        book.store, 1, by=ANN, reason="met the sponsor yesterday", at=at(FRIDAY, 10)
    )
    assert dismissed.state == "dismissed"
    assert task_events(book.store, 1)[-1] == TaskEvent(
        task_id=1, state="dismissed", by=ANN, at=at(FRIDAY, 10), reason="met the sponsor yesterday"
    )
    complete_task(book.store, 2, by=MIA, at=at(FRIDAY, 11))
    approve_task(book.store, 3, by=ANN, at=at(FRIDAY, 12))
    # The first task was dismissed, not done: the risk was never acknowledged.
    assert run_state(book) == ("closed", None, "2026-11-20T12:00:00+00:00")


def test_a_time_in_another_zone_is_stored_in_utc(book: Book) -> None:
    plus_two = timezone(timedelta(hours=2))
    done = complete_task(book.store, 1, by=ANN, at=datetime(2026, 11, 20, 12, 0, tzinfo=plus_two))
    assert done.updated_at == at(FRIDAY, 10)
    assert book.rows("SELECT updated_at FROM tasks WHERE task_id = 1") == [
        ("2026-11-20T10:00:00+00:00",)
    ]
    with pytest.raises(InputError) as early:  # 10:30 at +02:00 is 08:30 UTC
        complete_task(book.store, 2, by=MIA, at=datetime(2026, 11, 20, 10, 30, tzinfo=plus_two))
    assert str(early.value) == "at: 2026-11-20T08:30:00+00:00 is before the task was created"


def test_without_a_time_now_is_recorded(book: Book) -> None:
    before = datetime.now(tz=UTC)
    done = complete_task(book.store, 1, by=ANN)
    assert before <= done.updated_at <= datetime.now(tz=UTC)


def test_mistakes_are_refused_with_one_clear_line_and_change_nothing(book: Book) -> None:
    complete_task(book.store, 1, by=ANN, at=at(FRIDAY, 10))
    dismiss_task(book.store, 2, by=MIA, reason="duplicate of 1", at=at(FRIDAY, 10))
    before = book.rows("SELECT * FROM tasks"), book.rows("SELECT * FROM task_events")
    naive = datetime(2026, 11, 20, 12, 0)
    attempts: list[tuple[Callable[[], object], str]] = [
        (lambda: complete_task(book.store, 999, by=ANN), "unknown task 999"),
        (lambda: dismiss_task(book.store, 999, by=ANN, reason="x"), "unknown task 999"),
        (lambda: complete_task(book.store, 1, by=ANN), "task 1 is already done"),
        (lambda: dismiss_task(book.store, 1, by=ANN, reason="late"), "task 1 is already done"),
        (lambda: complete_task(book.store, 2, by=ANN), "task 2 is already dismissed"),
        (lambda: approve_task(book.store, 1, by=ANN), "task 1 is already done"),
        (
            lambda: complete_task(book.store, 3, by=ANN),
            "task 3 is an approval task: approve or dismiss it",
        ),
        (
            lambda: dismiss_task(book.store, 3, by=ANN, reason="  "),
            "reason: say why the task is dismissed",
        ),
        (lambda: approve_task(book.store, 3, by=" "), "by: say who changes the task"),
        (
            lambda: approve_task(book.store, 3, by=ANN, at=naive),
            "at: give a time zone (e.g. 2026-11-20T09:30:00Z)",
        ),
        (
            lambda: approve_task(book.store, 3, by=ANN, at=at(FRIDAY, 8, 59)),
            "at: 2026-11-20T08:59:00+00:00 is before the task was created",
        ),
    ]
    for attempt, message in attempts:
        with pytest.raises(InputError) as refused:
            attempt()
        assert str(refused.value) == message
    assert (book.rows("SELECT * FROM tasks"), book.rows("SELECT * FROM task_events")) == before
    assert get_task(book.store, 3).state == "open"


def test_a_work_task_cannot_be_approved(book: Book) -> None:
    with pytest.raises(InputError) as refused:
        approve_task(book.store, 1, by=ANN)
    assert str(refused.value) == "task 1 is a work task: complete or dismiss it"
    assert get_task(book.store, 1).state == "open"
