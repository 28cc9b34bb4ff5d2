"""The ``telltales`` command line.

User mistakes (a bad file, an unknown account, a foreign database) print one line
starting ``Error:`` and exit 1; plugin failures are printed as warnings on every
command that loads plugins, so they are never silent.
"""

from __future__ import annotations

from pathlib import Path

import click

from telltales.cli import (
    accounts,
    backtest,
    demo,
    history,
    ingest,
    keys,
    metrics,
    playbooks,
    runs,
    scorecards,
    serve,
    setup,
)
from telltales.cli.app import App, ErrorLines
from telltales.version import __version__


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


for module in (
    setup,
    ingest,
    runs,
    accounts,
    playbooks,
    keys,
    serve,
    history,
    metrics,
    backtest,
    scorecards,
    demo,
):
    module.register_commands(cli)


def main() -> None:
    cli(prog_name="telltales")


if __name__ == "__main__":
    main()
