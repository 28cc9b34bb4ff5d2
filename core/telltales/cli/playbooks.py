"""Commands for what follows a signal: statuses, tasks, pilots and the outbox worker."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, date, datetime
from typing import Any

import click
import msgspec

from telltales import observability
from telltales.cli.app import DAY, App, day_of
from telltales.cli.export import CSV, echo_csv, one_format
from telltales.models import RunActions, StatusTransition
from telltales.playbooks import outbox, overrides, pilots, statuses, tasks
from telltales.playbooks import runs as playbook_runs
from telltales.store import queries

STATES = ("open", "done", "dismissed", "all")


def describe_actions(actions: RunActions, as_of: date) -> str:
    """One line: what the run's rules and playbooks did (and how to redo a skipped day)."""
    parts = [
        f"rules: {actions.rules_fired} fired ({actions.rules_fired_live} live)",
        f"{actions.transitions} status transitions",
        f"playbooks: {actions.playbooks_live} started, {actions.playbooks_shadow} shadow, "
        f"{actions.playbooks_held_back} held back by the weekly cap, "
        f"{actions.playbooks_already_open} already open",
        f"{actions.tasks} tasks, {actions.deliveries} deliveries",
    ]
    if actions.skipped:
        parts.append(
            f"{actions.skipped} accounts skipped (status history past this day; to run the "
            f"day for them, undo the later runs first: telltales undo --from {as_of})"
        )
    if actions.ended:
        parts.append(
            f"{actions.ended} accounts no longer live: status Inactive, open tasks dismissed"
        )
    return "; ".join(parts)


def _json(value: Any) -> None:
    click.echo(msgspec.json.encode(value).decode())


ID = click.IntRange(1, 2**63 - 1)
"""Task and delivery ids: SQLite integers."""
BY = click.option("--by", required=True, help="Who does it (name or email).")


def register_commands(cli: click.Group) -> None:
    for command in (
        rules_command,
        status_command,
        override_command,
        playbooks_command,
        worker_command,
    ):
        cli.add_command(command)
    for group in (tasks_group, pilots_group, outbox_group):
        cli.add_command(group)


@click.command(name="rules")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def rules_command(app: App, as_json: bool) -> None:
    """List the enabled rules and playbooks, as the configuration resolves them."""
    plan = app.plan
    if as_json:
        _json(
            {
                "rules": [
                    {
                        "name": rule.name,
                        "description": rule.description,
                        "status": rule.status,
                        "severity": rule.severity,
                        "hold_days": rule.hold_days,
                        "cooldown_days": rule.cooldown_days,
                        "min_stay_days": rule.min_stay_days,
                        "conditions": [f"{c.subject} {c.clearing}" for c in rule.conditions],
                        "next_action": rule.next_action,
                        "shipped": rule.shipped,
                    }
                    for rule in plan.rules.values()
                ],
                "playbooks": [
                    {
                        "name": playbook.name,
                        "on_enter": playbook.on_enter,
                        "rules": sorted(playbook.rules),
                        "steps": [
                            {
                                "action": s.action,
                                "params": s.raw_params,
                                "approval": s.needs_approval,
                            }
                            for s in playbook.steps
                        ],
                    }
                    for playbook in plan.playbooks.values()
                ],
            }
        )
        return
    for rule in plan.rules.values():
        conditions = " and ".join(f"{c.subject} {c.clearing}" for c in rule.conditions)
        stay = f", stay {rule.min_stay_days} day(s)" if rule.min_stay_days else ""
        click.echo(
            f"rule {rule.name}: {plan.labels[rule.status]} ({rule.severity}) when {conditions}; "
            f"hold {rule.hold_days} day(s), cooldown {rule.cooldown_days} day(s){stay}"
        )
    for playbook in plan.playbooks.values():
        steps = ", ".join(
            f"{s.action}{' (approval)' if s.needs_approval else ''}" for s in playbook.steps
        )
        when = f" by {', '.join(sorted(playbook.rules))}" if playbook.rules else ""
        click.echo(
            f"playbook {playbook.name}: on entering {plan.labels[playbook.on_enter]}{when}: {steps}"
        )


@click.command(name="status")
@click.argument("account_id")
@click.option("--as-of", "as_of", type=DAY, help="Day to read. [default: today (UTC)]")
@click.option("--history", is_flag=True, help="Every transition, oldest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@CSV
@click.pass_obj
def status_command(
    app: App, account_id: str, as_of: datetime | None, history: bool, as_json: bool, as_csv: bool
) -> None:
    """Show an account's health status as of a day, and why."""
    one_format(as_json, as_csv)
    day = day_of(as_of) or datetime.now(UTC).date()
    with app.open() as store:
        account = queries.get_account(store, account_id)
        found = (
            statuses.transitions_of(store, account_id)
            if history
            else [t for t in [statuses.status_as_of(store, account_id, day)] if t]
        )
    if as_csv:
        echo_csv(found, StatusTransition)
        return
    if as_json:
        _json(found if history else (found[0] if found else None))
        return
    if not found:
        click.echo(f"{account.account_id}: no status yet as of {day}; run `telltales run`")
        return
    labels = app.plan.labels
    for transition in found:
        was = labels[transition.from_status] if transition.from_status else "none"
        click.echo(
            f"{transition.as_of}  {account.account_id}: {was} -> {labels[transition.to_status]} "
            f"({transition.cause}{': ' + ', '.join(transition.rules) if transition.rules else ''})"
        )
        click.echo(f"  {transition.evidence}")


@click.command(name="override")
@click.argument("account_id")
@click.option(
    "--status", "status", required=True, type=click.Choice(["healthy", "concern", "at_risk"])
)
@click.option("--reason", required=True, help="Why the rules are wrong for now.")
@click.option("--until", "until", required=True, type=DAY, help="Last day it holds (UTC).")
@BY
@click.pass_obj
def override_command(
    app: App, account_id: str, status: str, reason: str, until: datetime, by: str
) -> None:
    """Override an account's status until a day; the rules take over again after it."""
    labels = app.plan.labels  # the configuration is checked before anything is recorded
    with app.open() as store:
        account = queries.get_account(store, account_id)
        transition = overrides.override_through(
            store, account, status, reason=reason, last_day=until.date(), by=by
        )
    click.echo(
        f"{account_id} is {labels[transition.to_status]} until the end of "
        f"{until.date()} (transition {transition.transition_id})"
    )


@click.command(name="playbooks")
@click.option("--mode", type=click.Choice(["live", "shadow", "held_back"]))
@click.option("--state", type=click.Choice(["open", "completed", "closed", "shadow", "held_back"]))
@click.option("--account", "account_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@CSV
@click.pass_obj
def playbooks_command(
    app: App,
    mode: str | None,
    state: str | None,
    account_id: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List playbook runs, newest first: live, shadow ("would have started") and held back."""
    one_format(as_json, as_csv)
    with app.open() as store:
        found = playbook_runs.list_runs(store, mode=mode, state=state, account_id=account_id)
    if as_csv:
        echo_csv(found, playbook_runs.PlaybookRun)
        return
    if as_json:
        _json(found)
        return
    for run in found:
        click.echo(
            f"{run.playbook_run_id}\t{run.as_of}\t{run.account_id}\t{run.playbook}\t{run.mode}\t"
            f"{run.state}\t{run.owner or '-'}\t{run.note}"
        )


@click.command(name="worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option(
    "--poll",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds between looks when idle.",
)
@click.pass_obj
def worker_command(app: App, once: bool, poll: float) -> None:
    """Deliver the outbox: emails, webhooks and CRM pushes, with retries and backoff."""
    observability.configure()
    stop = threading.Event()
    registry, plan = app.registry, app.plan
    total = outbox.WorkSummary()
    # SIGTERM finishes the delivery at hand, then stops; the caller's handler comes back after.
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with app.open() as store:
            while not stop.is_set():
                done = outbox.deliver_due(store, registry, plan, stop=stop)
                total.delivered += done.delivered
                total.retrying += done.retrying
                total.failed += done.failed
                if once:
                    break
                stop.wait(poll)
    finally:
        if previous is not None:  # None: a handler not installed from Python, left alone
            signal.signal(signal.SIGTERM, previous)
    click.echo(f"Delivered {total.delivered}, to retry {total.retrying}, failed {total.failed}")


@click.group(name="outbox")
def outbox_group() -> None:
    """The deliveries playbooks queued, and their attempts."""


@outbox_group.command(name="list")
@click.option(
    "--status",
    type=click.Choice(["awaiting_approval", "pending", "delivered", "failed", "cancelled"]),
)
@click.option("--account", "account_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@CSV
@click.pass_obj
def outbox_list(
    app: App, status: str | None, account_id: str | None, as_json: bool, as_csv: bool
) -> None:
    """List deliveries (failed ones say why)."""
    one_format(as_json, as_csv)
    with app.open() as store:
        found = outbox.list_deliveries(store, status=status, account_id=account_id)
    if as_csv:
        echo_csv(found, outbox.Delivery)
        return
    if as_json:
        _json(found)
        return
    for d in found:
        click.echo(
            f"{d.delivery_id}\t{d.status}\t{d.action}\t{d.account_id}\t{d.playbook} step "
            f"{d.step}\tattempts {d.attempts}\t{d.detail}"
        )


@outbox_group.command(name="retry")
@click.argument("delivery_id", type=ID)
@click.pass_obj
def outbox_retry(app: App, delivery_id: int) -> None:
    """Give a failed delivery a new set of attempts (once its destination is fixed)."""
    with app.open() as store:
        outbox.retry_failed(store, delivery_id)
    click.echo(f"Delivery {delivery_id} queued again")


@click.group(name="tasks")
def tasks_group() -> None:
    """Work for people: list, complete, dismiss and approve tasks."""


@tasks_group.command(name="list")
@click.option("--state", type=click.Choice(STATES), default="open", show_default=True)
@click.option("--assignee")
@click.option("--account", "account_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@CSV
@click.pass_obj
def tasks_list(
    app: App, state: str, assignee: str | None, account_id: str | None, as_json: bool, as_csv: bool
) -> None:
    """List tasks, soonest due first."""
    one_format(as_json, as_csv)
    with app.open() as store:
        found = tasks.list_tasks(
            store,
            state=None if state == "all" else state,
            assignee=assignee,
            account_id=account_id,
        )
    if as_csv:
        echo_csv(found, tasks.Task)
        return
    if as_json:
        _json(found)
        return
    for task in found:
        click.echo(
            f"{task.task_id}\t{task.state}\t{task.kind}\tdue {task.due_on}\t{task.assignee}\t"
            f"{task.title}"
        )


@tasks_group.command(name="show")
@click.argument("task_id", type=ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def tasks_show(app: App, task_id: int, as_json: bool) -> None:
    """Show a task, its text and every change to it."""
    with app.open() as store:
        task = tasks.get_task(store, task_id)
        events = tasks.task_events(store, task_id)
    if as_json:
        _json({"task": task, "events": events})
        return
    click.echo(f"Task {task.task_id} ({task.kind}, {task.state}), due {task.due_on}: {task.title}")
    click.echo(f"Assignee: {task.assignee}; account {task.account_id}")
    click.echo(task.body)
    for event in events:
        why = f": {event.reason}" if event.reason else ""
        click.echo(f"  {event.at:%Y-%m-%d %H:%M}Z {event.state} by {event.by}{why}")


@tasks_group.command(name="done")
@click.argument("task_id", type=ID)
@BY
@click.pass_obj
def tasks_done(app: App, task_id: int, by: str) -> None:
    """Mark a task done."""
    with app.open() as store:
        task = tasks.complete_task(store, task_id, by=by)
    click.echo(f"Task {task.task_id} done")


@tasks_group.command(name="dismiss")
@click.argument("task_id", type=ID)
@click.option("--reason", required=True, help="Why it is not worth doing.")
@BY
@click.pass_obj
def tasks_dismiss(app: App, task_id: int, reason: str, by: str) -> None:
    """Dismiss a task with a reason (a dismissed approval cancels its delivery)."""
    with app.open() as store:
        task = tasks.dismiss_task(store, task_id, by=by, reason=reason)
    click.echo(f"Task {task.task_id} dismissed")


@tasks_group.command(name="approve")
@click.argument("task_id", type=ID)
@BY
@click.pass_obj
def tasks_approve(app: App, task_id: int, by: str) -> None:
    """Approve an action that reaches the customer; the worker then delivers it."""
    with app.open() as store:
        task = tasks.approve_task(store, task_id, by=by)
    click.echo(f"Task {task.task_id} approved; its delivery is queued")


@click.group(name="pilots")
def pilots_group() -> None:
    """Turn rules and playbooks on for some CSM groups, with a control group."""


@pilots_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@CSV
@click.pass_obj
def pilots_list(app: App, as_json: bool, as_csv: bool) -> None:
    """List pilots and their state."""
    one_format(as_json, as_csv)
    with app.open() as store:
        found = pilots.list_pilots(store)
    if as_csv:
        echo_csv(found, pilots.Pilot)
        return
    if as_json:
        _json(found)
        return
    for pilot in found:
        click.echo(
            f"{pilot.pilot_id}\t{pilot.state}\tgroups {', '.join(pilot.csm_groups)}\tfrom "
            f"{pilot.starts_on}\tcontrol {pilot.holdout_share:.0%}\tplaybooks "
            f"{', '.join(pilot.playbooks)}\trules {', '.join(pilot.rules)}"
        )


@pilots_group.command(name="show")
@click.argument("pilot_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def pilots_show(app: App, pilot_id: str, as_json: bool) -> None:
    """Show a pilot and every change made to it."""
    with app.open() as store:
        pilot = pilots.get_pilot(store, pilot_id)
        events = pilots.pilot_events(store, pilot_id)
    if as_json:
        _json({"pilot": pilot, "events": events})
        return
    click.echo(f"Pilot {pilot.pilot_id} ({pilot.state}): {pilot.description or '-'}")
    click.echo(f"  groups: {', '.join(pilot.csm_groups)}; from {pilot.starts_on}")
    click.echo(f"  rules: {', '.join(pilot.rules)}; playbooks: {', '.join(pilot.playbooks)}")
    click.echo(f"  control group: {pilot.holdout_share:.0%} of accounts, by stable hash")
    for event in events:
        detail = f": {event.detail}" if event.detail else ""
        click.echo(f"  {event.at:%Y-%m-%d %H:%M}Z {event.event} by {event.by}{detail}")


@pilots_group.command(name="create")
@click.argument("pilot_id")
@click.option("--group", "groups", multiple=True, help="A CSM group (repeatable).")
@click.option("--rule", "rules", multiple=True, help="A rule it enables (repeatable).")
@click.option("--playbook", "playbooks", multiple=True, help="A playbook (repeatable).")
@click.option("--starts-on", "starts_on", type=DAY, help="First day. [default: today (UTC)]")
@click.option("--holdout", default=0.0, show_default=True, help="Share held out (0..<1).")
@click.option("--description", default="")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@BY
@click.pass_obj
def pilots_create(
    app: App,
    pilot_id: str,
    groups: tuple[str, ...],
    rules: tuple[str, ...],
    playbooks: tuple[str, ...],
    starts_on: datetime | None,
    holdout: float,
    description: str,
    disabled: bool,
    by: str,
) -> None:
    """Create a pilot (enabled unless --disabled)."""
    # Click has typed every option; create_pilot checks the values and names the field.
    new = pilots.NewPilot(
        pilot_id=pilot_id,
        csm_groups=list(groups),
        rules=list(rules),
        playbooks=list(playbooks),
        starts_on=day_of(starts_on) or datetime.now(UTC).date(),
        holdout_share=holdout,
        description=description,
        enabled=not disabled,
    )
    with app.open() as store:
        pilot = pilots.create_pilot(store, app.plan, new, by=by)
    click.echo(
        f"Pilot {pilot.pilot_id} {pilot.state}: groups {', '.join(pilot.csm_groups)} from "
        f"{pilot.starts_on}, {pilot.holdout_share:.0%} held out as control"
    )


def _state_command(name: str, state: pilots.PilotState, help_text: str) -> click.Command:
    @click.argument("pilot_id")
    @click.option("--reason", default="", help="Why (recorded with the change).")
    @BY
    @click.pass_obj
    def command(app: App, pilot_id: str, reason: str, by: str) -> None:
        with app.open() as store:
            pilot = pilots.set_state(store, pilot_id, state, by=by, reason=reason)
        click.echo(f"Pilot {pilot.pilot_id} {pilot.state}")

    return pilots_group.command(name=name, help=help_text)(command)


_state_command("enable", "enabled", "Enable a pilot.")
_state_command("disable", "disabled", "Disable a pilot (its accounts go back to shadow mode).")
_state_command("end", "ended", "End a pilot for good.")
