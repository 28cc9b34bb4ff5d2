"""``telltales renewals import`` and ``telltales history import``: the API's paths, from files."""

from __future__ import annotations

from typing import Any

import click
import msgspec

from telltales.cli.app import App
from telltales.errors import InputError, at_position, describe_validation_error, position
from telltales.outcomes.history_import import HistoryImport, import_history
from telltales.outcomes.renewals import InvalidRecords, RenewalOutcome, record_renewals
from telltales.signals.ingest import check_dates

BY = click.option("--by", required=True, help="Who records it (name or email).")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(renewals_group)
    cli.add_command(history_group)


@click.group(name="renewals")
def renewals_group() -> None:
    """Renewal outcomes: ARR before and after, discount, renewed or churned."""


@renewals_group.command(name="import")
@click.argument("file", type=click.File("rb"))
@BY
@JSON
@click.pass_obj
def import_renewals(app: App, file: Any, by: str, as_json: bool) -> None:
    """Record the renewal outcomes in FILE (a JSON array or JSON Lines; - for stdin).

    Each is checked (a churned renewal has arr_after 0, a renewed one more than 0,
    discount 0 to 100, a known account); one invalid renewal stores nothing. The same
    values again change nothing; different values replace the renewal and are kept
    as a revision.
    """
    records, lines = _read_renewals(file.read())
    with app.open() as store:
        try:
            counts = record_renewals(store, records, source="cli", by=by)
        except InvalidRecords as error:
            raise InputError(_describe(error, lines)) from error
    if as_json:
        click.echo(msgspec.json.encode(counts).decode())
        return
    click.echo(
        f"Renewals from {file.name}: {counts.created} new, {counts.updated} changed, "
        f"{counts.unchanged} unchanged"
    )


def _read_renewals(data: bytes) -> tuple[list[RenewalOutcome], list[int] | None]:
    """The renewals in a JSON array or JSON Lines, and (for JSON Lines) each one's line."""
    text = data.lstrip()
    if not text:
        return [], None
    if text.startswith(b"["):
        try:
            renewals = msgspec.json.decode(text, type=list[RenewalOutcome])
        except msgspec.ValidationError as error:
            raise InputError(describe_validation_error(error, item="renewal")) from error
        except msgspec.DecodeError as error:
            raise InputError(f"not valid JSON: {error}") from error
        check_dates(renewals, item="renewal")
        return renewals, None
    decoder = msgspec.json.Decoder(RenewalOutcome)
    records: list[RenewalOutcome] = []
    lines: list[int] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        where = position(len(records) + 1, number, item="renewal")
        try:
            records.append(decoder.decode(line))
        except msgspec.ValidationError as error:
            raise InputError(at_position(where, describe_validation_error(error))) from error
        except msgspec.DecodeError as error:
            raise InputError(f"{where}: not valid JSON: {error}") from error
        lines.append(number)
    check_dates(records, item="renewal", lines=lines)
    return records, lines


def _describe(error: InvalidRecords, lines: list[int] | None) -> str:
    """The problems as the file shows them: ``renewal 3``, counted from 1 in an array and
    in JSON Lines (with the line, in JSON Lines, where a blank line made them differ)."""
    described = [
        f"{position(p.index + 1, lines[p.index] if lines else None, item='renewal')}"
        f"{f', field {p.field!r}' if p.field else ''}: {p.reason}"
        for p in error.problems
    ]
    if error.total > len(error.problems):
        described.append(f"... and {error.total - len(error.problems)} more")
    return f"{error.summary}:\n" + "\n".join(f"  {line}" for line in described)


@click.group(name="history")
def history_group() -> None:
    """History from another platform: past transitions, playbook runs, renewals."""


@history_group.command(name="import")
@click.argument("file", type=click.File("rb"))
@BY
@JSON
@click.pass_obj
def import_history_command(app: App, file: Any, by: str, as_json: bool) -> None:
    """Import the history in FILE (JSON: transitions, playbook_runs, renewals; - for stdin).

    The format is in docs/history-import.md. Everything is checked first and stored
    in one transaction; importing the same file again adds nothing.
    """
    try:
        history = msgspec.json.decode(file.read(), type=HistoryImport)
    except msgspec.ValidationError as error:
        raise InputError(describe_validation_error(error)) from error
    except msgspec.DecodeError as error:
        raise InputError(f"not valid JSON: {error}") from error
    check_dates(history)
    with app.open() as store:
        report = import_history(store, history, by=by)
    if as_json:
        click.echo(msgspec.json.encode(report).decode())
        return
    click.echo(f"History from {file.name}:")
    for section, counts in (
        ("transitions", report.transitions),
        ("playbook runs", report.playbook_runs),
        ("tasks", report.tasks),
    ):
        click.echo(f"  {section}: {counts.imported} imported, {counts.already_there} already there")
    renewals = report.renewals
    click.echo(
        f"  renewals: {renewals.created} new, {renewals.updated} changed, "
        f"{renewals.unchanged} unchanged"
    )
