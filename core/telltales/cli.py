"""The ``telltales`` command line.

User mistakes (a bad file, an unknown account, a foreign database) print one line
starting ``Error:`` and exit 1; plugin failures are printed as warnings on every
command that loads plugins, so they are never silent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import msgspec

from . import cli_demo, cli_history, cli_keys, cli_metrics, cli_serve, engine, queries, telemetry
from .cli_base import DAY, App, ErrorLines, day_of
from .cli_playbooks import describe_actions, register_commands
from .config import scorer_settings, source_settings
from .errors import InputError
from .ingest import ingest_chunks, read_chunks
from .models import MeasureResult, RunFailure, RunResult, Score, ScoreTrend
from .version import PLUGIN_API_VERSION, __version__


@click.group(cls=ErrorLines)
@click.version_option(__version__, prog_name="telltales")
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Database file. [default: $TELLTALES_DB, else ./telltales.db]",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Configuration file. [default: $TELLTALES_CONFIG, else ./telltales.toml if present]",
)
@click.pass_context
def cli(ctx: click.Context, db: Path | None, config: Path | None) -> None:
    """Signals of renewal risk that explain themselves."""
    ctx.obj = App(db, config)


@cli.command()
@click.pass_obj
def init(app: App) -> None:
    """Create the database (or bring an existing one up to date)."""
    existed = app.db_path.exists() and app.db_path.stat().st_size > 0
    with app.open(create=True):
        pass
    sets = ", ".join(app.registry.migrations)
    verb = "Brought up to date" if existed else "Created"
    click.echo(f"{verb} telltales database {app.db_path} (schemas: {sets})")


@cli.command(name="ingest")
@click.argument("name")
@click.argument("file", type=click.File("rb"))
@click.pass_obj
def ingest_command(app: App, name: str, file: Any) -> None:
    """Store the records in FILE (a JSON array or JSON Lines; - for stdin) through ingester NAME.

    The whole file is validated first; one invalid record stores nothing.
    """
    with app.open() as store:
        count = ingest_chunks(store, app.registry, name, read_chunks(app.registry, name, file))
    click.echo(f"Stored {count} record(s) through {name!r} from {file.name}")


@contextmanager
def _progress(total: int, label: str) -> Iterator[engine.Progress]:
    hidden = not sys.stderr.isatty() or bool(os.environ.get("CI"))
    with click.progressbar(length=total, label=label, file=sys.stderr, hidden=hidden) as bar:
        yield lambda _step: bar.update(1)


@cli.command(name="run")
@click.option("--as-of", "as_of", type=DAY, help="Day to compute. [default: today (UTC)]")
@click.option("--through", type=DAY, help="Also compute every day after --as-of up to this one.")
@click.option("--account", "accounts", multiple=True, help="Only these accounts (repeatable).")
@click.pass_obj
def run_command(
    app: App, as_of: datetime | None, through: datetime | None, accounts: tuple[str, ...]
) -> None:
    """Compute signals and scores for every account as of a day (or a range, to replay history)."""
    telemetry.configure()
    first = day_of(as_of) or datetime.now(UTC).date()
    last = day_of(through) or first
    if last < first:
        raise InputError(f"--through {last} is before --as-of {first}")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    settings = source_settings(app.config, app.registry)
    scorers = scorer_settings(app.config, app.registry)
    plan = app.plan
    with app.open() as store:
        steps = engine.steps(app.registry) * len(days)
        results = []
        with _progress(steps, "Computing signals") as progress:
            for day in days:
                results.append(
                    engine.run(
                        store,
                        app.registry,
                        day,
                        settings=settings,
                        scorer_settings=scorers,
                        account_ids=accounts or None,
                        progress=progress,
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


@cli.command(name="runs")
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="How many."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def runs_command(app: App, limit: int, as_json: bool) -> None:
    """List the latest runs, newest first, with every plugin component that failed in each."""
    with app.open() as store:
        found = engine.recent_runs(store, limit)
    if as_json:
        click.echo(msgspec.json.encode(found).decode())
        return
    for result in found:
        click.echo(_run_line(result))
        for failure in result.failures:
            click.echo(_failure_line(failure))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def plugins(app: App, as_json: bool) -> None:
    """List loaded plugins, what they register, and any that failed."""
    registry = app.registry
    if as_json:
        payload = {
            "plugin_api_version": PLUGIN_API_VERSION,
            "plugins": registry.plugins,
            "failures": registry.failures,
        }
        click.echo(msgspec.json.encode(payload).decode())
        return
    click.echo(f"telltales {__version__}, plugin API {PLUGIN_API_VERSION}")
    for info in registry.plugins:
        origin = "built-in" if info.builtin else info.version or "unknown version"
        click.echo(f"{info.name} ({origin})")
        click.echo(f"  hooks: {', '.join(info.hooks)}")
        for kind, names in info.registered.items():
            click.echo(f"  {kind}: {', '.join(names)}")
    for failure in registry.failures:
        click.echo(f"{failure.plugin} (FAILED at {failure.stage}, {failure.at:%Y-%m-%d %H:%M:%S}Z)")
        click.echo(f"  error: {failure.error}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def accounts(app: App, as_json: bool) -> None:
    """List the accounts in the database."""
    with app.open() as store:
        rows = queries.list_accounts(store)
    if as_json:
        click.echo(msgspec.json.encode(rows).decode())
        return
    for account in rows:
        click.echo(
            f"{account.account_id}\t{account.name}\t{account.csm_group or '-'}\t"
            f"{account.segment or '-'}\trenews {account.renewal_date or '-'}"
        )


@cli.command()
@click.argument("account_ids", nargs=-1)
@click.option("--all", "all_accounts", is_flag=True, help="Every account in the database.")
@click.option("--as-of", "as_of", type=DAY, help="Day to show. [default: the latest computed]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def signals(
    app: App,
    account_ids: tuple[str, ...],
    all_accounts: bool,
    as_of: datetime | None,
    as_json: bool,
) -> None:
    """Show an account's signals with their evidence."""
    if not account_ids and not all_accounts:
        raise InputError("name at least one ACCOUNT_ID, or pass --all")
    with app.open() as store:
        chosen = (
            queries.list_accounts(store)
            if all_accounts
            else [queries.get_account(store, account_id) for account_id in account_ids]
        )
        report = []
        for account in chosen:
            day = queries.latest_signal_day(store, account.account_id, day_of(as_of))
            found = queries.signals_for(store, account.account_id, day) if day else []
            report.append((account, day, found))
    if as_json:
        payload = [
            {"account_id": account.account_id, "as_of": day, "signals": found}
            for account, day, found in report
        ]
        click.echo(
            msgspec.json.encode(
                payload if len(payload) != 1 or all_accounts else payload[0]
            ).decode()
        )
        return
    for account, day, found in report:
        click.secho(f"{account.account_id}  {account.name}", bold=True, nl=False)
        if day is None:
            click.echo("  - no signals computed yet; run `telltales run`")
            continue
        click.echo(f"  (as of {day})")
        width = max(len(signal.key) for signal in found) if found else 0
        for signal in found:
            click.echo(f"  {signal.key:<{width}}  {_number(signal.value):>8}  {signal.evidence}")


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.4g}"


@cli.command()
@click.argument("account_ids", nargs=-1, required=True)
@click.option("--as-of", "as_of", type=DAY, help="Day to show. [default: the latest scored]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def score(app: App, account_ids: tuple[str, ...], as_of: datetime | None, as_json: bool) -> None:
    """Show an account's scores: grade, coverage, trend and the breakdown with evidence."""
    with app.open() as store:
        report = []
        for account_id in account_ids:
            account = queries.get_account(store, account_id)
            day = queries.latest_score_day(store, account_id, day_of(as_of))
            found = queries.scores_for(store, account_id, day) if day else []
            report.append((account, day, found))
    if as_json:
        payload = [
            {"account_id": account.account_id, "as_of": day, "scores": found}
            for account, day, found in report
        ]
        click.echo(msgspec.json.encode(payload if len(payload) != 1 else payload[0]).decode())
        return
    for account, day, found in report:
        click.secho(f"{account.account_id}  {account.name}", bold=True, nl=False)
        if day is None:
            click.echo("  - no scores computed yet; run `telltales run`")
            continue
        click.echo(f"  (as of {day})")
        for result in found:
            _print_score(result, day)


def _print_score(result: Score, day: date) -> None:
    value = (
        f"{result.value:.1f}  {result.label} ({result.grade})"
        if result.value is not None
        else f"insufficient data ({result.label})"
    )
    click.echo(
        f"  {result.scorer}: {value}  coverage {_percent(result.coverage)}"
        f"  config {result.config_id or '-'}"
    )
    trends = [
        _trend(days, trend, day) for days, trend in ((7, result.trend_7d), (30, result.trend_30d))
    ]
    click.echo(f"  trend: {'; '.join(trends)}")
    if not result.breakdown:
        return
    rows = [["component / measure", "value", "points", "weight", "configured", "evidence"]]
    components: dict[str, list[MeasureResult]] = {}
    for measure in result.breakdown:
        components.setdefault(measure.component, []).append(measure)
    for component, measures in components.items():
        rows.append(_component_row(component, measures))
        rows.extend(
            [
                f"  {m.measure}",
                "missing" if m.value is None else _number(m.value),
                "-" if m.points is None else _number(m.points),
                _percent(m.weight),
                "-" if m.configured_weight is None else _percent(m.configured_weight),
                m.evidence,
            ]
            for m in measures
        )
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells.extend(cell.rjust(width) for cell, width in zip(row[1:5], widths[1:], strict=True))
        click.echo(f"  {'  '.join(cells)}  {row[5]}".rstrip())


def _component_row(component: str, measures: list[MeasureResult]) -> list[str]:
    """A component's points are its measures' points weighted as they counted."""
    counted = [(m.points, m.weight) for m in measures if m.points is not None]
    weight = sum(w for _, w in counted)
    configured = [m.configured_weight for m in measures if m.configured_weight is not None]
    return [
        component,
        "" if weight else "missing",
        f"{sum(p * w for p, w in counted) / weight:.1f}" if weight else "-",
        _percent(weight),
        _percent(sum(configured)) if configured else "-",
        "",
    ]


def _trend(days: int, trend: ScoreTrend | None, day: date) -> str:
    if trend is None:
        return f"no score {days} days before ({day - timedelta(days=days)})"
    was = "insufficient data" if trend.value is None else f"{trend.value:.1f}, {trend.grade},"
    change = "n/a" if trend.change is None else f"{trend.change:+.1f}"
    other = "" if trend.same_config else f", under another configuration: {trend.config_id}"
    return f"{change} vs {days} days before (was {was} on {trend.as_of}{other})"


def _percent(share: float) -> str:
    return f"{share * 100:.1f}".removesuffix(".0") + "%"


register_commands(cli)
for module in (cli_keys, cli_serve, cli_history, cli_metrics, cli_demo):
    module.register_commands(cli)


def main() -> None:
    cli(prog_name="telltales")


if __name__ == "__main__":
    main()
