"""``telltales ingest``: raw records from a file into a plugin's tables."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

import click

from telltales.cli.app import App
from telltales.cli.progress import progress_bar
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
    names the file, the record (and its line) and the field. A file with no records is
    refused unless --allow-empty says it is expected. On a terminal, a bar on standard
    error shows how much of the file is stored (not for stdin).
    """
    record_type = record_type_of(app.registry, name)
    csv = (file_format or ("csv" if file.name.lower().endswith(".csv") else "json")) == "csv"
    size = _size(file)
    with app.open() as store, progress_bar(size, f"Ingesting {name}") as advance:
        chunks: Iterable[Sequence[Any]] = (
            read_csv_chunks(record_type, file) if csv else read_chunks(app.registry, name, file)
        )
        if not allow_empty:
            chunks = require_records(chunks, "the file")
        if size is not None:
            chunks = _advancing(chunks, file, advance)
        try:
            done = ingest_chunks(store, app.registry, name, chunks)
        except InputError as error:
            raise InputError(f"{file.name}: {error}") from error
    click.echo(f"Stored {done.stored} record(s) through {name!r} from {file.name}{folded(done)}")


def _size(file: IO[bytes]) -> int | None:
    """The bytes of a regular file; None for a pipe or a terminal (stdin), whose end is unknown."""
    try:
        found = os.fstat(file.fileno())
    except (OSError, ValueError):
        return None
    return found.st_size if stat.S_ISREG(found.st_mode) else None


def _advancing(
    chunks: Iterable[Sequence[Any]], file: IO[bytes], advance: Callable[[int], None]
) -> Iterator[Sequence[Any]]:
    """The chunks, advancing the bar by the bytes read once each chunk has been stored."""
    done = 0
    for chunk in chunks:
        yield chunk  # the next one is asked for once this one is stored
        position = file.tell()
        advance(position - done)
        done = position


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
