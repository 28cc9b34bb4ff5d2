"""``telltales run`` and ``telltales runs``: compute a day (or a range of days), and list runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import msgspec

from telltales import observability
from telltales.cli.app import DAY, App, day_of
from telltales.cli.playbooks import describe_actions
from telltales.cli.progress import progress_bar
from telltales.engine import pipeline
from telltales.errors import InputError
from telltales.models import RunFailure, RunResult
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
    first = day_of(as_of) or datetime.now(UTC).date()
    last = day_of(through) or first
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
        if result.actions is not None:
            click.echo(f"  {describe_actions(result.actions)}")
        for failure in result.failures:
            click.secho(_failure_line(failure), fg="yellow", err=True)


def _run_line(result: RunResult) -> str:
    return (
        f"Run {result.run_id} as of {result.as_of}: {result.status}, "
        f"{result.accounts} accounts, {result.signals} signals, {result.scores} scores"
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
@click.pass_obj
def runs_command(app: App, limit: int, as_json: bool) -> None:
    """List the latest runs, newest first, with every plugin component that failed in each."""
    with app.open() as store:
        found = pipeline.recent_runs(store, limit)
    if as_json:
        click.echo(msgspec.json.encode(found).decode())
        return
    for result in found:
        click.echo(_run_line(result))
        for failure in result.failures:
            click.echo(_failure_line(failure))


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(run_command)
    cli.add_command(runs_command)
