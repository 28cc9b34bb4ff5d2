"""``telltales ingest``: raw records from a file into a plugin's tables."""

from __future__ import annotations

from typing import Any

import click

from telltales.cli.app import App
from telltales.signals.ingest import Ingested, ingest_chunks, read_chunks


@click.command(name="ingest")
@click.argument("name")
@click.argument("file", type=click.File("rb"))
@click.pass_obj
def ingest_command(app: App, name: str, file: Any) -> None:
    """Store the records in FILE (a JSON array or JSON Lines; - for stdin) through ingester NAME.

    The whole file is validated first; one invalid record stores nothing.
    """
    with app.open() as store:
        done = ingest_chunks(store, app.registry, name, read_chunks(app.registry, name, file))
    click.echo(f"Stored {done.stored} record(s) through {name!r} from {file.name}{folded(done)}")


def folded(done: Ingested) -> str:
    """The repeats a batch folded, said after the line (nothing when there were none)."""
    if not done.folded:
        return ""
    return (
        f" ({done.received} received; {done.folded} repeated an earlier record of the "
        "batch and were folded into it, the last one kept)"
    )


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(ingest_command)
