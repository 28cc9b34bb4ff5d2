"""``telltales run`` and ``telltales runs``: compute a day (or a range of days), and list runs."""

from __future__ import annotations

import getpass
from datetime import date, datetime, timedelta

import click
import msgspec

from telltales import clock, observability
from telltales.cli.app import DAY, App, day_of
from telltales.cli.export import CSV, echo_csv, one_format
from telltales.cli.playbooks import describe_actions
from telltales.cli.progress import progress_bar
from telltales.engine import corrections, pipeline
from telltales.engine.days import run_day_problem
from telltales.errors import InputError
from telltales.models import RunFailure, RunResult, StaleSource
from telltales.signals.settings import scorer_settings, source_settings


@click.command(name="run")
@click.option("--as-of", "as_of", type=DAY, help="Day to compute. [default: today (UTC)]")
@click.option("--through", type=DAY, help="Also compute every day after --as-of up to this one.")
@click.option("--account", "accounts", multiple=True, help="Only these accounts (repeatable).")
@click.pass_obj
def run_command(
    app: App, as_of: datetime | None, through: datetime | None, accounts: tuple[str, ...]
) -> None:
    """Compute signals and scores for every account as of a day (or a range, to replay history)."""
    observability.configure()
    first = day_of(as_of) or clock.today()
    last = day_of(through) or first
    for option, day in (("--as-of", first), ("--through", last)):
        problem = run_day_problem(day)
        if problem is not None:
            raise InputError(f"{option} {problem}; nothing was run")
    if last < first:
        raise InputError(f"--through {last} is before --as-of {first}")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    settings = source_settings(app.config, app.registry)
    scorers = scorer_settings(app.config, app.registry)
    app.plan  # noqa: B018 - the configuration is checked before the database is opened
    with app.open() as store:
        plan = app.plan  # checked again if a plugin's migrations failed when it opened
        steps = pipeline.steps(app.registry) * len(days)
        results = []
        with progress_bar(steps, "Computing signals") as advance:
            for day in days:
                results.append(
                    pipeline.run(
                        store,
                        app.registry,
                        day,
                        settings=settings,
                        scorer_settings=scorers,
                        account_ids=accounts or None,
                        progress=lambda _step: advance(1),
                        plan=plan,
                    )
                )
    for result in results:
        click.echo(_run_line(result))
        for stale in result.stale:
            click.secho(_stale_line(stale, result.as_of), fg="yellow")
        if result.actions is not None:
            click.echo(f"  {describe_actions(result.actions, result.as_of)}")
        for failure in result.failures:
            click.secho(_failure_line(failure), fg="yellow", err=True)


def _run_line(result: RunResult) -> str:
    not_live = f" ({result.not_live} not live that day)" if result.not_live else ""
    return (
        f"Run {result.run_id} as of {result.as_of}: {result.status}, "
        f"{result.accounts} accounts{not_live}, {result.signals} signals, "
        f"{result.scores} scores"
    )


def _stale_line(stale: StaleSource, as_of: date) -> str:
    return (
        f"  stale: {stale.source}'s latest data is from {stale.last_day}, {stale.days_old} "
        f"days before {as_of} (its limit is {stale.limit_days} days): its signals are missing, "
        f"not read as silence; ingest newer data, or run --as-of {stale.last_day}"
    )


def _failure_line(failure: RunFailure) -> str:
    return (
        f"  degraded: {failure.component} ({failure.plugin}) failed, its output is "
        f"missing: {failure.error}"
    )


@click.command(name="runs")
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="How many."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@CSV
@click.pass_obj
def runs_command(app: App, limit: int, as_json: bool, as_csv: bool) -> None:
    """List the latest runs, newest first, with every plugin component that failed in each."""
    one_format(as_json, as_csv)
    with app.open() as store:
        found = pipeline.recent_runs(store, limit)
    if as_csv:
        echo_csv(found, RunResult)
        return
    if as_json:
        click.echo(msgspec.json.encode(found).decode())
        return
    for result in found:
        click.echo(_run_line(result))
        for stale in result.stale:
            click.echo(_stale_line(stale, result.as_of))
        for failure in result.failures:
            click.echo(_failure_line(failure))


@click.command(name="undo")
@click.option(
    "--from",
    "from_day",
    type=DAY,
    required=True,
    help="The first day to undo; every later day is undone too.",
)
@click.option(
    "--by", default=getpass.getuser, show_default="you", help="Who undoes it (name or email)."
)
@click.option("--reason", default="", help="Why, kept with the record.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@click.pass_obj
def undo_command(app: App, from_day: datetime, by: str, reason: str, yes: bool) -> None:
    """Undo the runs from a day onward, to run the days again.

    Removes what runs derived from --from on: signals, scores, rule hits, the status
    transitions runs recorded and the playbook runs, tasks and deliveries those
    started. Raw records, a person's overrides and imported history stay. The
    correction is recorded: who, when, from which day, why, and every history row
    it removed.
    """
    day = from_day.date()
    with app.open() as store:
        removed = corrections.preview(store, day)
        if removed == corrections.Removed():
            raise InputError(f"nothing to undo: no run recorded anything from {day} on")
        click.echo(f"Undoing the runs from {day} on removes {_removed(removed)}.")
        if removed.delivered:
            click.secho(
                f"{removed.delivered} of the deliveries were already delivered: they are not "
                "recalled, and running the days again may send them again.",
                fg="yellow",
            )
        if not yes:
            click.confirm("Remove them?", abort=True)
        done = corrections.undo_from(store, day, by=by, reason=reason)
    click.echo(f"Correction {done.correction_id}: removed {_removed(done.removed)}, by {by}.")
    last = min(done.removed.last_day or day, clock.today())
    if day <= last:
        click.echo(f"Run the days again: telltales run --as-of {day} --through {last}")


def _removed(removed: corrections.Removed) -> str:
    return (
        f"{removed.runs} runs' {removed.signals} signals, {removed.scores} scores, "
        f"{removed.rule_hits} rule hits and {removed.transitions} status transitions, "
        f"with {removed.playbook_runs} playbook runs, {removed.tasks} tasks and "
        f"{removed.deliveries} deliveries they started"
    )


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(run_command)
    cli.add_command(runs_command)
    cli.add_command(undo_command)
