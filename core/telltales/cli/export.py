"""``--csv`` on the listing commands: the same items as ``--json``, one row each.

A spreadsheet or a warehouse load takes CSV. The columns are the item type's
fields, in order, whether or not any row has a value, so an empty list still
prints its header. Cells are written so that ``telltales ingest`` reads them back:
an empty cell is a value left out (null), a list of plain values is its items
separated by ``;``, and anything nested (a run's failures, a task's parameters)
is its JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import click
import msgspec

from telltales.signals.csv_records import LIST_SEPARATOR

CSV = click.option(
    "--csv", "as_csv", is_flag=True, help="Print CSV: a header row, then one row per item."
)


def one_format(as_json: bool, as_csv: bool) -> None:
    """Refuse ``--json`` with ``--csv``: one output, one format."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv: choose one")


def echo_csv(items: Sequence[Any], item_type: type[msgspec.Struct]) -> None:
    """Print ``items`` (instances of ``item_type``) as CSV with a header row."""
    columns = [field.encode_name for field in msgspec.structs.fields(item_type)]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for item in items:
        values = msgspec.to_builtins(item)
        writer.writerow([_cell(values.get(column)) for column in columns])
    click.echo(text.getvalue(), nl=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple) and all(
        isinstance(item, int | float) or (isinstance(item, str) and LIST_SEPARATOR not in item)
        for item in value
    ):
        return LIST_SEPARATOR.join(str(item) for item in value)
    if isinstance(value, list | tuple | dict):
        return msgspec.json.encode(value).decode()
    return str(value)
