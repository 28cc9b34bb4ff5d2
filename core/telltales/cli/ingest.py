"""``telltales ingest``: raw records from a file into a plugin's tables."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import click

from telltales.cli.app import App
from telltales.errors import InputError
from telltales.signals.csv_records import read_csv_chunks, require_records
from telltales.signals.ingest import Ingested, ingest_chunks, read_chunks, record_type_of

FORMATS = ("json", "csv")


@click.command(name="ingest")
@click.argument("name")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    help="How FILE is written. [default: csv for a .csv file, else json]",
)
@click.option("--allow-empty", is_flag=True, help="Accept a file with no records (stores nothing).")
@click.pass_obj
def ingest_command(
    app: App, name: str, file: Any, file_format: str | None, allow_empty: bool
) -> None:
    """Store the records in FILE through ingester NAME (- for stdin).

    FILE is a JSON array, JSON Lines, or CSV with a header row of field names. The
    whole file is validated first; one invalid record stores nothing, and the error
    names the file, the line (or record) and the field. A file with no records is
    refused unless --allow-empty says it is expected.
    """
    record_type = record_type_of(app.registry, name)
    csv = (file_format or ("csv" if file.name.lower().endswith(".csv") else "json")) == "csv"
    chunks: Iterator[Sequence[Any]] = (
        read_csv_chunks(record_type, file) if csv else read_chunks(app.registry, name, file)
    )
    if not allow_empty:
        chunks = require_records(chunks, "the file")
    with app.open() as store:
        try:
            done = ingest_chunks(store, app.registry, name, chunks)
        except InputError as error:
            raise InputError(f"{file.name}: {error}") from error
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
