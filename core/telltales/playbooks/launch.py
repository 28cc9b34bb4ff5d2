"""Starting playbooks for the transitions a run recorded, in the same transaction.

For each transition into a status, each playbook that starts on it is either
*live* (the account is in a pilot's treatment group and the pilot enables the
playbook and one of the rules behind the transition), *shadow* (recorded as "would
have started", nothing sent, no task), or *held back* (live, but the owner already
got the weekly cap of new runs). A live run's steps are recorded with it: local
effects (a task, a renewal flag) are written now, deliveries go to the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import msgspec
from opentelemetry import trace
from sqlite_utils import Database

from telltales.contracts import ActionRequest, PlaybookAction
from telltales.models import RunFailure
from telltales.observability import plugin_failed
from telltales.playbooks.outbox import DeliveryPayload
from telltales.playbooks.plan import Plan
from telltales.playbooks.rules import SEVERITY_RANK, describe_firing
from telltales.playbooks.statuses import NewTransition
from telltales.playbooks.steps import Playbook, Step
from telltales.playbooks.tasks import (
    RECORD_FAILED,
    SYSTEM,
    add_business_days,
    create_task,
    refresh_run,
)
from telltales.plugins import Entry, Registry

APPROVAL_DUE_DAYS = 2

tracer = trace.get_tracer("telltales")


@dataclass
class LaunchSummary:
    live: int = 0
    shadow: int = 0
    held_back: int = 0
    already_open: int = 0
    """Live runs not started because the account had an open run of the playbook."""
    tasks: int = 0
    deliveries: int = 0
    failures: list[RunFailure] = field(default_factory=list)


def start_playbooks(
    db: Database,
    registry: Registry,
    plan: Plan,
    transitions: Sequence[NewTransition],
    as_of: date,
) -> LaunchSummary:
    summary = LaunchSummary()
    if not transitions or not plan.playbooks:
        return summary
    open_runs = {
        (account_id, playbook)
        for account_id, playbook in db.execute(
            "SELECT account_id, playbook FROM playbook_runs WHERE state = 'open'"
        )
    }
    week_start = (as_of - timedelta(days=6)).isoformat()
    started_this_week: dict[str, int] = dict(
        db.execute(
            "SELECT owner, count(*) FROM playbook_runs WHERE mode = 'live' AND as_of >= ? "
            "AND as_of <= ? GROUP BY owner",
            [week_start, as_of.isoformat()],
        ).fetchall()
    )
    cap = plan.alerts.max_new_runs_per_csm_per_week
    (tasks_before,) = db.execute("SELECT count(*) FROM tasks").fetchone()
    # The most severe entries claim the owner's weekly capacity first.
    ordered = sorted(
        transitions,
        key=lambda t: (
            -max((SEVERITY_RANK[f.severity] for f in t.firings), default=-1),
            -t.account.arr,
            t.account.account_id,
        ),
    )
    for transition in ordered:
        for playbook in plan.playbooks.values():
            if not playbook.starts_for(transition.to_status, transition.rules):
                continue
            mode, note = _mode(transition, playbook)
            owner = transition.account.owner
            if mode == "live":
                if (transition.account.account_id, playbook.name) in open_runs:
                    summary.already_open += 1
                    continue
                count = started_this_week.get(owner, 0)
                if cap is not None and count >= cap:
                    mode = "held_back"
                    note = (
                        f"{owner or 'the unowned queue'} already got {count} new playbook runs "
                        f"in the 7 days to {as_of} (cap {cap} a week)"
                    )
                else:
                    started_this_week[owner] = count + 1
            run_id = _insert_run(db, transition, playbook, mode, note)
            if mode == "live":
                summary.live += 1
                open_runs.add((transition.account.account_id, playbook.name))
                _record_steps(db, registry, plan, transition, playbook, run_id, summary)
                refresh_run(db, run_id, transition.at)
            elif mode == "shadow":
                summary.shadow += 1
            else:
                summary.held_back += 1
    (tasks_after,) = db.execute("SELECT count(*) FROM tasks").fetchone()
    summary.tasks = tasks_after - tasks_before
    return summary


def _mode(transition: NewTransition, playbook: Playbook) -> tuple[str, str]:
    pilot = transition.pilot
    if pilot is None:
        return "shadow", f"CSM group {transition.account.csm_group!r} is in no pilot"
    if transition.cohort == "control":
        return "shadow", f"control group of pilot {pilot.pilot_id!r}"
    if playbook.name not in pilot.playbooks:
        return "shadow", f"pilot {pilot.pilot_id!r} does not enable playbook {playbook.name!r}"
    if not transition.rules & set(pilot.rules):
        causes = ", ".join(sorted(transition.rules)) or "no rule"
        return "shadow", f"pilot {pilot.pilot_id!r} enables none of the rules behind it ({causes})"
    return "live", f"pilot {pilot.pilot_id!r}"


def _insert_run(
    db: Database, transition: NewTransition, playbook: Playbook, mode: str, note: str
) -> int:
    account = transition.account
    state = {"live": "open", "shadow": "shadow", "held_back": "held_back"}[mode]
    cursor = db.execute(
        "INSERT INTO playbook_runs (account_id, playbook, transition_id, as_of, started_at, mode, "
        "state, cohort, pilot_id, owner, csm_group, segment, status, rules, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            account.account_id,
            playbook.name,
            transition.transition_id,
            transition.as_of.isoformat(),
            transition.at.isoformat(),
            mode,
            state,
            transition.cohort,
            transition.pilot.pilot_id if transition.pilot else None,
            account.owner,
            account.csm_group,
            account.segment,
            transition.to_status,
            msgspec.json.encode(sorted(transition.rules)).decode(),
            note,
        ],
    )
    run_id = cursor.lastrowid
    assert run_id is not None
    return run_id


def _record_steps(
    db: Database,
    registry: Registry,
    plan: Plan,
    transition: NewTransition,
    playbook: Playbook,
    run_id: int,
    summary: LaunchSummary,
) -> None:
    account = transition.account
    for step in playbook.steps:
        payload = DeliveryPayload(
            idempotency_key=f"tt-{run_id}-{step.number}-{uuid.uuid4().hex[:16]}",
            account=account,
            reason=", ".join(sorted(transition.rules)) or transition.to_status,
            evidence=" | ".join(describe_firing(f) for f in transition.firings),
            playbook=playbook.name,
            playbook_run_id=run_id,
            step=step.number,
            status=transition.to_status,
            status_label=plan.labels[transition.to_status],
            as_of=transition.as_of,
            started_at=transition.at,
            firings=transition.firings,
            account_url=plan.account_url(account.account_id),
            manager=plan.managers.get(account.csm_group, ""),
        )
        entry = registry.actions[step.action]
        status, detail = "delivered", ""
        if step.records:
            request = msgspec.structs.replace(
                payload.request(step.params, plan.action_settings.get(step.action)), db=db
            )
            status, detail = _record(db, entry, step, request, summary)
        if status != "failed" and step.executes:
            status = "awaiting_approval" if step.needs_approval else "pending"
        finished = transition.at.isoformat() if status in ("delivered", "failed") else None
        cursor = db.execute(
            "INSERT INTO deliveries (playbook_run_id, step, action, idempotency_key, payload, "
            "params, status, needs_approval, next_attempt_at, detail, created_at, finished_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                step.number,
                step.action,
                payload.idempotency_key,
                msgspec.json.encode(payload).decode(),
                msgspec.json.encode(step.raw_params).decode(),
                status,
                step.needs_approval,
                datetime.now(transition.at.tzinfo).isoformat() if status == "pending" else None,
                detail,
                transition.at.isoformat(),
                finished,
            ],
        )
        summary.deliveries += 1
        if status == "awaiting_approval":
            assert cursor.lastrowid is not None
            reaches_customer = bool(entry.obj.reaches_customer)
            _approval_task(
                db, transition, playbook, step, run_id, cursor.lastrowid, payload, reaches_customer
            )


def _record(
    db: Database,
    entry: Entry[PlaybookAction],
    step: Step,
    request: ActionRequest,
    summary: LaunchSummary,
) -> tuple[str, str]:
    """Run an action's ``record`` in a savepoint: a failure undoes only its own writes.

    ``record`` runs in the run's write transaction, on this thread's connection, so it
    has no time limit of its own: an action that could hang belongs in ``execute``.
    """
    record = entry.obj.record  # type: ignore[attr-defined]  # checked when the plan was loaded
    plugin, component = entry.plugin, f"action:{step.action}"
    with tracer.start_as_current_span(
        "telltales.plugin",
        attributes={"telltales.plugin": plugin, "telltales.component": component},
    ) as span:
        try:
            with db.atomic():
                detail = record(request)
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            summary.failures.append(RunFailure(plugin=plugin, component=component, error=message))
            where = f"playbook run {request.playbook_run_id} step {step.number}"
            plugin_failed(
                span,
                plugin=plugin,
                component=component,
                error=message,
                where=where,
                exception=error,
            )
            return "failed", f"{RECORD_FAILED}{message}"
    return "delivered", str(detail or "")


def _approval_task(
    db: Database,
    transition: NewTransition,
    playbook: Playbook,
    step: Step,
    run_id: int,
    delivery_id: int,
    payload: DeliveryPayload,
    reaches_customer: bool,
) -> None:
    account = transition.account
    why = (
        "It reaches the customer, so it waits for your approval"
        if reaches_customer
        else "The playbook asks for approval before it runs"
    )
    create_task(
        db,
        account_id=account.account_id,
        playbook_run_id=run_id,
        step=step.number,
        kind="approval",
        title=f"Approve: {step.action} for {account.name} (playbook {playbook.name})",
        body=(
            f"Playbook {playbook.name} would run action {step.action!r} with "
            f"{msgspec.json.encode(step.raw_params).decode()}. {why}; dismiss it with a "
            f"reason to cancel it.\n"
            f"Why: {payload.evidence}\nAccount: {payload.account_url}"
        ),
        # An unowned account's approval goes to its group's manager: someone must decide.
        assignee=account.owner or payload.manager or SYSTEM,
        due_on=add_business_days(transition.as_of, APPROVAL_DUE_DAYS),
        at=transition.at,
        idempotency_key=f"{payload.idempotency_key}-approval",
        delivery_id=delivery_id,
    )
