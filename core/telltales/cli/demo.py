"""``telltales demo``: build a synthetic book of business, replay it, summarise it, serve it."""

from __future__ import annotations

import shutil
import sys
import time
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import click

from telltales.cli.app import DAY, App, day_of
from telltales.cli.holders import check_port, database_server
from telltales.cli.progress import on_terminal
from telltales.cli.serve import exec_server
from telltales.demo import replay, report_card, summary
from telltales.errors import InputError
from telltales.signals.scorecards import HEALTH_SCORER, Scoring
from telltales.signals.settings import scorer_settings, source_settings
from telltales.store.keys import create_key

TOP_ACCOUNTS = 8
"""The accounts most at risk the summary shows."""
EXAMPLE_CALLS = (
    ("the accounts At-Risk now", "/v1/accounts?status=at_risk&limit=5"),
    ("the account most at risk: its health, reasons and next action", "/v1/accounts/{top}/health"),
    ("open tasks", "/v1/tasks?state=open&limit=5"),
    (
        "GRR and NRR, pilot against hold-out",
        "/v1/metrics/retention?from={first}&to={end}&group_by=cohort",
    ),
    (
        "At-Risk reversed within 60 days, by cohort",
        "/v1/metrics/risk-reversal?from={first}&to={end}&window_days=60&group_by=cohort",
    ),
)
"""(what it shows, path): the calls printed for the reader to try."""


class _Progress:
    """A progress bar on a terminal; a line every ten weeks elsewhere (CI logs, pipes)."""

    def __init__(self) -> None:
        self.interactive = on_terminal()
        self.bar: Any = None
        self.started = time.monotonic()

    def __call__(self, done: int, total: int, what: str) -> None:
        if self.interactive:
            if self.bar is None:
                self.bar = click.progressbar(
                    length=total, label="Building the demo", file=sys.stderr
                )
                self.bar.__enter__()
            self.bar.update(1)
            if done == total:
                self.bar.__exit__(None, None, None)
        elif done % 10 == 0 or done == total:
            elapsed = time.monotonic() - self.started
            click.echo(f"  week {done}/{total}: {what} ({elapsed:.0f} s)", err=True)


@click.command(name="demo")
@click.option("--accounts", default=2000, show_default=True, type=click.IntRange(20, 50_000))
@click.option(
    "--days",
    default=365,
    show_default=True,
    type=click.IntRange(replay.WARM_UP_DAYS + 28, 3 * 365),
    help="Days of history, in whole weeks; the first 91 only warm the 90-day windows up.",
)
@click.option("--seed", default=7, show_default=True, help="The same seed gives the same book.")
@click.option("--end", type=DAY, help="The last day of the history. [default: today (UTC)]")
@click.option("--replace", is_flag=True, help="Replace the database at --db if it exists.")
@click.option("--no-serve", "no_serve", is_flag=True, help="Build the database and stop.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers", type=click.IntRange(1, 64), help="Server processes. [default: one per CPU]"
)
@click.pass_obj
def demo(
    app: App,
    accounts: int,
    days: int,
    seed: int,
    end: datetime | None,
    replace: bool,
    no_serve: bool,
    port: int,
    workers: int | None,
) -> None:
    """Build a synthetic book of business, replay it through telltales, and serve the API.

    Writes the database (--db) and the configuration it runs with next to it, replays a
    year of weekly runs with one pilot, prints the accounts most at risk and the
    headline metrics, then serves the API on 127.0.0.1 with a read-only key.
    """
    db_path = app.db_path
    if db_path.exists() and not replace:
        raise InputError(f"{db_path} exists: pass --replace to rebuild it, or choose --db")
    # Refused before the build, not after it: a server of the old file would go on
    # answering from the deleted file, and a port in use would fail the serving.
    server = database_server(db_path)
    if server is not None:
        raise InputError(
            f"{db_path} is being served by {server}: stop that server before rebuilding "
            "the demo, or choose another --db"
        )
    if not no_serve:
        check_port("127.0.0.1", port)
    last_day = day_of(end) or datetime.now(UTC).date()
    options = replay.DemoOptions(accounts=accounts, days=days, seed=seed, end=last_day)
    replay.check_plugins(app.registry)
    if app.config_option is None:
        app.config_option = _write_config(db_path)
    # Check the configuration before an existing database is replaced: a mistake in it
    # must leave the old demo where it was.
    plan = app.plan
    sources = source_settings(app.config, app.registry)
    scorers = scorer_settings(app.config, app.registry)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    click.echo(
        f"Building the demo: {accounts:,} accounts, {days} days to {last_day}, seed {seed} "
        f"-> {db_path}",
        err=True,
    )
    started = time.monotonic()
    with app.open(create=True) as store:
        result = replay.build(
            store,
            app.registry,
            plan,
            options,
            source_settings=sources,
            scorer_settings=scorers,
            progress=_Progress(),
        )
        first_run = result.first_run
        click.echo(f"Built in {time.monotonic() - started:.0f} s.", err=True)
        click.echo("")
        worst = summary.most_at_risk(store, plan, result.end, TOP_ACCOUNTS)
        click.echo(summary.render(result, store, worst))
        scoring = scorers[HEALTH_SCORER]
        assert isinstance(scoring, Scoring)
        cards = report_card.report_cards(store, scoring, result.first_day, result.end)
        click.echo("")
        click.echo("\n".join(report_card.render(cards, scoring)))
        _, token = create_key(store, scopes=["read"], name="demo (read-only)", by="telltales demo")
    top = worst[0].account.account_id if worst else result.book[0].account_id
    serve_options = f"--port {port}" + (f" --workers {workers}" if workers else "")
    _print_calls(app, token, port, top, first_run, result.end, serve_options if no_serve else None)
    if no_serve:
        return
    exec_server(app, "127.0.0.1", port, workers)


def _write_config(db_path: Path) -> Path:
    """Copy the demo's configuration next to the database, for later commands to use."""
    target = db_path.with_suffix(".toml")
    target.parent.mkdir(parents=True, exist_ok=True)
    with resources.as_file(resources.files("telltales.demo") / "demo.toml") as source:
        shutil.copyfile(source, target)
    return target


def _print_calls(
    app: App, token: str, port: int, top: str, first: date, end: date, unserved: str | None
) -> None:
    """The key and the calls to try; with ``unserved`` (the demo's ``serve`` options,
    under ``--no-serve``), first how to serve the database, since nothing answers yet."""
    base = f"http://127.0.0.1:{port}"
    click.echo("")
    click.echo(f"A read-only API key (printed once): {token}")
    if unserved is None:
        click.echo(f"The CSM's pages, in a browser (sign in with the key): {base}/")
        click.echo(f"Schema and a UI to try every route: {base}/schema")
        click.echo("Try:")
    else:
        click.echo(f"Not serving (--no-serve). To serve the API: {_cli(app)} serve {unserved}")
        click.echo(f"Once served, the CSM's pages (sign in with the key): {base}/")
        click.echo(f"Once served, the schema and a UI to try every route: {base}/schema")
        click.echo("Once served, try:")
    for what, path in EXAMPLE_CALLS:
        url = base + path.format(top=top, first=first.isoformat(), end=end.isoformat())
        click.echo(f"  # {what}")
        click.echo(f"  curl -H 'Authorization: Bearer {token}' '{url}'")
    click.echo(f"The CLI reads the same database: {_cli(app)} status {top}")


def _cli(app: App) -> str:
    """The command line for the demo's database and configuration, as the reader types it."""
    return f"{_program()} --db {app.db_path} --config {app.config_option}"


def _program() -> str:
    """How to call this CLI from the current folder: ``telltales`` only when that is on PATH.

    ``python3 dev.py demo`` runs ``.venv/bin/telltales`` without activating the
    environment, so a bare ``telltales`` in the printed line would not be found.
    """
    invoked = Path(sys.argv[0])
    found = shutil.which("telltales")
    if invoked.name != "telltales" or (found and Path(found).resolve() == invoked.resolve()):
        return "telltales"
    try:
        return str(invoked.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(invoked.absolute())


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(demo)
