"""CSV in: a header row of field names, then one record per row, as the same typed records.

Warehouses and spreadsheets export CSV. A CSV file goes through the ingester's own
record type, exactly as a JSON one does, so a bad cell is refused with the same
sentence, naming the record, its line and the field (``record 2 (line 3), field
'events': expected `int`, got 'lots'``). Every cell is text, so cells are converted
to the field's type (``14`` to an integer, ``2026-11-19`` to a day, ``true`` to a boolean); an empty
cell is a field left out, so its default applies (``seats_assigned`` left empty is
unknown, not 0). A list field (``core_features``) holds its items separated by
``;``, or a JSON array; a table field holds JSON.

Rows are read and validated in chunks, like JSON Lines, so a file of millions of
rows never sits in memory; store the chunks in one transaction
(:func:`telltales.signals.ingest.ingest_chunks`) and an invalid row anywhere leaves
nothing stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import msgspec
from msgspec import inspect as types

from telltales.errors import InputError, at_position, describe_validation_error, position
from telltales.signals.ingest import CHUNK_SIZE

LIST_SEPARATOR = ";"
"""Between the items of a list field in one cell: ``reporting;dispatch``."""

MEDIA_TYPE = "text/csv"


def read_csv_chunks(
    record_type: type[msgspec.Struct], stream: IO[bytes], size: int = CHUNK_SIZE
) -> Iterator[list[Any]]:
    """Decode CSV (UTF-8, a header row first) into ``record_type`` in validated chunks.

    Raises :class:`InputError` naming the line (and the field) of the first problem
    when its chunk is reached.
    """
    yield from _chunks(record_type, csv.reader(_lines(stream), strict=True), size)


def _chunks(record_type: type[msgspec.Struct], reader: Any, size: int) -> Iterator[list[Any]]:
    header = _header(reader, record_type)
    if header is None:
        return
    shapes = _shapes(record_type)
    rows: list[dict[str, Any]] = []
    places: list[str] = []
    for count, (line, cells) in enumerate(_rows(reader), start=1):
        where = position(count, line)
        if len(cells) != len(header):
            raise InputError(f"{where}: {len(cells)} values for the header's {len(header)} columns")
        rows.append(
            {
                name: _cell(shapes.get(name), cell, where, name)
                for name, cell in zip(header, cells, strict=True)
                if cell != ""
            }
        )
        places.append(where)
        if len(rows) == size:
            yield _convert(record_type, rows, places)
            rows, places = [], []
    if rows:
        yield _convert(record_type, rows, places)


def decode_csv(record_type: type[msgspec.Struct], data: bytes) -> list[Any]:
    """A whole CSV body (an API request) as validated records."""
    return [record for chunk in read_csv_chunks(record_type, io.BytesIO(data)) for record in chunk]


def require_records(chunks: Iterable[Sequence[Any]], what: str) -> Iterator[Sequence[Any]]:
    """Pass the chunks on; refuse, at the end, a source that held no record at all.

    An empty export is more often a failed one than a quiet day: storing nothing and
    reporting success would hide it. Consumed inside the ingest transaction, so the
    refusal rolls back whatever the ingester began.
    """
    count = 0
    for chunk in chunks:
        count += len(chunk)
        yield chunk
    if count == 0:
        raise InputError(
            f"{what} holds no records; nothing was stored (pass --allow-empty when an "
            "empty file is expected)"
        )


def _lines(stream: IO[bytes]) -> Iterator[str]:
    """The stream's lines as text, a bad byte reported by its line, not as a traceback.

    Decoded line by line (a UTF-8 character never holds a newline byte), so the
    line of a bad byte is known; a byte-order mark at the start is dropped.
    """
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise InputError(
                f"line {number}: not UTF-8 text ({error.reason}); save the file as UTF-8"
            ) from error
        yield line


def _header(reader: Any, record_type: type[msgspec.Struct]) -> list[str] | None:
    """The field names of the first non-blank row, checked; None for a file of no rows."""
    for cells in _safe(reader):
        if not any(cell.strip() for cell in cells):
            continue
        names = [cell.strip() for cell in cells]
        line = reader.line_num
        fields = [field.encode_name for field in _fields(record_type)]
        for column, name in enumerate(names, start=1):
            if not name:
                raise InputError(f"line {line}: column {column} of the header has no name")
            if names.index(name) != column - 1:
                raise InputError(f"line {line}: column {name!r} appears twice in the header")
            if name not in fields:
                raise InputError(
                    f"line {line}: column {name!r} is not a field of these records; the "
                    f"header names fields: {', '.join(fields)}"
                )
        return names
    return None


def _rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of each non-blank row; the line is where the row ends."""
    for cells in _safe(reader):
        if cells and any(cell.strip() for cell in cells):
            yield reader.line_num, cells


def _safe(reader: Any) -> Iterator[list[str]]:
    try:
        yield from reader
    except csv.Error as error:
        raise InputError(f"line {reader.line_num}: not valid CSV: {error}") from error


def _fields(record_type: type[msgspec.Struct]) -> tuple[types.Field, ...]:
    info = types.type_info(record_type)
    assert isinstance(info, types.StructType)
    return info.fields


def _shapes(record_type: type[msgspec.Struct]) -> dict[str, str]:
    """Fields whose cell is not a scalar: ``list`` (``;``-separated or JSON) or ``json``."""
    shapes = {}
    for field in _fields(record_type):
        kinds = field.type.types if isinstance(field.type, types.UnionType) else (field.type,)
        if any(isinstance(k, types.ListType | types.SetType | types.VarTupleType) for k in kinds):
            shapes[field.encode_name] = "list"
        elif any(isinstance(k, types.DictType | types.StructType) for k in kinds):
            shapes[field.encode_name] = "json"
    return shapes


def _cell(shape: str | None, cell: str, where: str, name: str) -> Any:
    if shape is None:
        return cell
    if shape == "list" and not cell.lstrip().startswith("["):
        return [item.strip() for item in cell.split(LIST_SEPARATOR) if item.strip()]
    try:
        return msgspec.json.decode(cell)
    except msgspec.DecodeError as error:
        raise InputError(f"{where}, field {name!r}: not valid JSON: {error}") from error


def _convert(
    record_type: type[msgspec.Struct], rows: list[dict[str, Any]], places: list[str]
) -> list[Any]:
    """Convert a chunk in one call; on a mistake, row by row to name the first bad one."""
    try:
        return msgspec.convert(rows, list[record_type], strict=False)  # type: ignore[valid-type]
    except msgspec.ValidationError:
        pass
    for row, where in zip(rows, places, strict=True):
        try:
            msgspec.convert(row, record_type, strict=False)
        except msgspec.ValidationError as error:
            description = describe_validation_error(error)
            raise InputError(at_position(where, _quoting_cell(description, row))) from error
    raise AssertionError("a chunk failed to convert, but each of its rows converted")


def _quoting_cell(description: str, row: dict[str, Any]) -> str:
    """Every cell is text, so "got `str`" says nothing: say what the cell held."""
    if description.startswith("field '") and description.endswith("got `str`"):
        name = description[len("field '") : description.index("'", len("field '"))]
        cell = row.get(name)
        if isinstance(cell, str):
            return f"{description.removesuffix('`str`')}{cell!r}"
    return description
