"""Tasks: list and read them; complete, dismiss (with a reason) or approve one.

A key limited to CSM groups sees and changes the tasks of its groups' accounts
only; another group's task answers 404, like one that does not exist. A change
the task's state does not allow (completing a dismissed task, approving a work
task) is a 409, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, cast, get_args

import msgspec
from litestar import Router, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter
from telltales.models import is_blank
from telltales.playbooks import tasks
from telltales.playbooks.tasks import Task, TaskEvent, TaskKind, TaskState
from telltales.store import Store
from telltales.store.keys import ApiKey

from telltales_api.auth import SECURITY, Key, actor, check_groups, needs
from telltales_api.context import Context
from telltales_api.paging import (
    LARGEST_ID,
    Cursor,
    Limit,
    bad_cursor,
    decode_cursor,
    encode_cursor,
)
from telltales_api.problems import FieldError, ProblemError, problem_responses
from telltales_api.strict_body import strict_body

TASK_STATES: tuple[str, ...] = get_args(TaskState)
TaskId = Annotated[int, PathParameter(ge=1, le=LARGEST_ID, description="The task's id.")]


class TaskPage(msgspec.Struct, kw_only=True):
    """Tasks, most urgent first (due date, then id)."""

    items: list[Task]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; null on the last page."""


class TaskDetail(Task, kw_only=True, frozen=True):
    """A task and every change of its state: who, when, why."""

    events: list[TaskEvent]


class Dismissal(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str = ""
    """Why the task is dismissed (required, not blank): it is kept with the task for
    everyone to read. The schema states it required (schema_constraints), as the
    handler enforces it, with the body itself: left out here so that a missing body
    or reason gets the handler's own words (422, ``body.reason``)."""


@get(
    "/tasks",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403),
)
def list_tasks(
    context: Context,
    key: Key,
    task_state: Annotated[
        str | None,
        QueryParameter(name="state", enum=TASK_STATES, description="open, done or dismissed."),
    ] = None,
    kind: Annotated[
        TaskKind | None,
        QueryParameter(
            description="work, or approval (a step reaching the customer awaits a CSM)."
        ),
    ] = None,
    assignee: Annotated[str | None, QueryParameter(max_length=200)] = None,
    account_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
    csm_group: Annotated[
        str | None, QueryParameter(max_length=200, description="The CSM group of the account.")
    ] = None,
    due_before: Annotated[
        date | None, QueryParameter(description="Only tasks due before this day (overdue: today).")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> TaskPage:
    """Tasks matching every filter given; a key limited to CSM groups sees its groups' only."""
    groups = key.csm_groups
    if csm_group is not None:
        check_groups(key, [csm_group])
        groups = frozenset({csm_group})
    found = tasks.page_tasks(
        context.store,
        state=_state(task_state),
        kind=kind,
        assignee=assignee,
        account_id=account_id,
        csm_groups=groups,
        due_before=due_before,
        after=_after(cursor) if cursor is not None else None,
        limit=limit + 1,
    )
    page = found[:limit]
    more = len(found) > limit
    return TaskPage(
        items=page,
        next_cursor=encode_cursor([page[-1].due_on.isoformat(), page[-1].task_id])
        if more
        else None,
    )


def _state(value: str | None) -> TaskState | None:
    """The ``state`` filter, checked here: litestar would name it by its Python name."""
    if value is None or value in TASK_STATES:
        return cast(TaskState | None, value)
    raise ProblemError(
        400,
        f"no task state {value!r}",
        errors=[FieldError(field="query.state", reason=f"one of {', '.join(TASK_STATES)}")],
    )


def _after(cursor: str) -> tuple[date, int]:
    due_on, task_id = decode_cursor(cursor, str, int)
    try:
        return date.fromisoformat(due_on), task_id
    except ValueError:
        raise bad_cursor() from None


@get(
    "/tasks/{task_id:int}",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403, 404),
)
def read_task(task_id: TaskId, context: Context, key: Key) -> TaskDetail:
    """A task with every change of its state."""
    task = _visible(context.store, key, task_id)
    return TaskDetail(
        **msgspec.structs.asdict(task), events=tasks.task_events(context.store, task_id)
    )


@post(
    "/tasks/{task_id:int}/complete",
    opt=needs("act"),
    sync_to_thread=True,
    status_code=200,
    responses=problem_responses(400, 401, 403, 404, 409),
)
def complete_task(task_id: TaskId, context: Context, key: Key) -> Task:
    """Mark a work task done; the first task of a playbook run done acknowledges the risk."""
    by = actor(key)
    return _change(
        context.store,
        key,
        task_id,
        "work",
        lambda store: tasks.complete_task(store, task_id, by=by),
    )


@post(
    "/tasks/{task_id:int}/approve",
    opt=needs("act"),
    sync_to_thread=True,
    status_code=200,
    responses=problem_responses(400, 401, 403, 404, 409),
)
def approve_task(task_id: TaskId, context: Context, key: Key) -> Task:
    """Approve an approval task: the step that reaches the customer is released for delivery."""
    by = actor(key)
    return _change(
        context.store,
        key,
        task_id,
        "approval",
        lambda store: tasks.approve_task(store, task_id, by=by),
    )


@post(
    "/tasks/{task_id:int}/dismiss",
    opt=needs("act"),
    dto=strict_body(Dismissal | None),
    return_dto=None,
    sync_to_thread=True,
    status_code=200,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
def dismiss_task(
    task_id: TaskId, context: Context, key: Key, data: JSONBody[Dismissal | None] = None
) -> Task:
    """Dismiss an open task, saying why; a dismissed approval cancels its delivery.

    A dismissed task is not done: the playbook run it belongs to does not count as
    completed.
    """
    reason = (data.reason if data is not None else "").strip()
    if is_blank(reason):
        raise ProblemError(
            422,
            "say why the task is dismissed",
            errors=[FieldError(field="body.reason", reason="required, and not blank")],
        )
    by = actor(key)
    return _change(
        context.store,
        key,
        task_id,
        None,
        lambda store: tasks.dismiss_task(store, task_id, by=by, reason=reason),
    )


def _visible(store: Store, key: ApiKey, task_id: int) -> Task:
    task = tasks.find_task(store, task_id, csm_groups=key.csm_groups)
    if task is None:
        raise ProblemError(404, f"no task {task_id}")
    return task


def _change(
    store: Store,
    key: ApiKey,
    task_id: int,
    kind: TaskKind | None,
    change: Callable[[Store], Task],
) -> Task:
    """Check, then change, in one transaction: two clients cannot both close a task."""
    with store.transaction():
        task = _visible(store, key, task_id)
        if task.state != "open":
            raise ProblemError(
                409, f"task {task_id} is already {task.state}: only an open task changes"
            )
        if kind is not None and task.kind != kind:
            verb = "approve" if task.kind == "approval" else "complete"
            raise ProblemError(
                409,
                f"task {task_id} is {'an approval' if verb == 'approve' else 'a work'} "
                f"task: {verb} or dismiss it",
            )
        return change(store)


router = Router(
    path="/v1",
    tags=["tasks"],
    security=SECURITY,
    route_handlers=[list_tasks, read_task, complete_task, approve_task, dismiss_task],
)
