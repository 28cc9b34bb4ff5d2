"""Bulk ingestion of raw records through a registered ingester: all or nothing.

A JSON Lines file is read and validated in chunks, so a file of millions of usage
rows never sits in memory whole; every chunk is stored in the same transaction, so
an invalid line anywhere still leaves nothing stored.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import msgspec

from telltales.contracts import INGEST_KEYS_TABLE
from telltales.errors import (
    InputError,
    at_position,
    describe_problem,
    describe_validation_error,
    parse_path,
    position,
)
from telltales.models import find_date_problem
from telltales.observability import ROWS_INGESTED
from telltales.plugins import Registry
from telltales.store import Store


def decode_records(registry: Registry, name: str, data: bytes) -> list[Any]:
    """Decode a JSON array or JSON Lines into the ingester's record type, validating all.

    The first invalid record stops the batch with its position (``record 4``, counted
    from 1 in both formats; :func:`telltales.errors.position`) and field, before
    anything is written.
    """
    record_type = _ingester(registry, name).record_type
    text = data.lstrip()
    if not text:
        return []
    if text.startswith(b"["):
        try:
            records = msgspec.json.decode(text, type=list[record_type])  # type: ignore[valid-type]
        except msgspec.ValidationError as error:
            raise InputError(describe_validation_error(error)) from error
        except msgspec.DecodeError as error:
            raise InputError(f"not valid JSON: {error}") from error
        check_dates(records)
        return records
    return [record for chunk in read_chunks(registry, name, io.BytesIO(data)) for record in chunk]


def check_dates(
    value: object,
    *,
    item: str = "record",
    lines: Sequence[int] | None = None,
    first: int = 1,
) -> None:
    """Refuse a date or time outside the days telltales reasons about, by record and field.

    ``value`` is decoded records (``record 3, field 'day': 0001-01-01 is outside
    1900-01-01..2999-12-31``; the first is record ``first``, and given each record's
    line in JSON Lines, ``record 3 (line 5), ...`` where they differ) or one decoded
    document (``field 'transitions[2].at': ...``).
    """
    found = find_date_problem(value)
    if found is None:
        return
    at, reason = found
    path = parse_path(at)
    if not path or not isinstance(path[0], int):
        raise InputError(describe_problem(reason, path, item=item))
    index = path[0]
    where = position(first + index, lines[index] if lines else None, item=item)
    raise InputError(at_position(where, describe_problem(reason, path[1:])))


def convert_records(registry: Registry, name: str, objects: Sequence[Any]) -> list[Any]:
    """Validate plain objects (dicts, or records already typed) into the record type."""
    record_type = _ingester(registry, name).record_type
    try:
        records = msgspec.convert(list(objects), list[record_type])  # type: ignore[valid-type]
    except msgspec.ValidationError as error:
        raise InputError(describe_validation_error(error)) from error
    check_dates(records)
    return records


CHUNK_SIZE = 50_000
"""Records per chunk when a file is streamed: large enough that per-chunk work is noise."""


def read_chunks(
    registry: Registry, name: str, stream: IO[bytes], size: int = CHUNK_SIZE
) -> Iterator[list[Any]]:
    """Decode a JSON array (read whole) or JSON Lines (streamed) in validated chunks.

    An invalid record raises :class:`InputError` with its position (``record 4``, and
    in JSON Lines its line where a blank line made them differ) when its chunk is
    reached; store the chunks inside one transaction (:func:`ingest_chunks`) so that
    nothing is kept when that happens.
    """
    head = stream.read(1)
    blank_lines = 0
    while head and head.isspace():
        blank_lines += head == b"\n"
        head = stream.read(1)
    if not head:
        return
    if head == b"[":
        yield decode_records(registry, name, head + stream.read())
        return
    if head != b"{":
        raise InputError(not_json(blank_lines + 1, head + stream.readline()))
    record_type = _ingester(registry, name).record_type
    chunk_decoder = msgspec.json.Decoder(list[record_type])  # type: ignore[valid-type]
    line_decoder = msgspec.json.Decoder(record_type)
    consumed = blank_lines
    records = 0
    # readlines() splits a whole block in C: no Python loop over the lines.
    lines = [head + stream.readline(), *stream.readlines(_BLOCK_BYTES)]
    while lines:
        for start in range(0, len(lines), size):
            part = lines[start : start + size]
            chunk = _decode_chunk(
                chunk_decoder, line_decoder, part, consumed + start + 1, records + 1
            )
            records += len(chunk)
            yield chunk
        consumed += len(lines)
        lines = stream.readlines(_BLOCK_BYTES)


_BLOCK_BYTES = 8 << 20


def _decode_chunk(
    chunk_decoder: msgspec.json.Decoder[Any],
    line_decoder: msgspec.json.Decoder[Any],
    lines: list[bytes],
    first_line: int,
    first_record: int,
) -> list[Any]:
    """Decode many lines in one call; on any doubt, line by line to name the bad one.

    The fast path reads the lines as one JSON array. A blank line, a bad record (a date
    out of range too), or a line holding two records makes it fail or miscount, and the
    slow path then decodes each line on its own, skipping blank ones and naming the
    first bad one.
    """
    try:
        records: list[Any] = chunk_decoder.decode(b"[" + b",".join(lines) + b"]")
        if len(records) == len(lines) and find_date_problem(records) is None:
            return records
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    records = []
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        where = position(first_record + len(records), number)
        try:
            record = line_decoder.decode(line)
        except msgspec.ValidationError as error:
            raise InputError(at_position(where, describe_validation_error(error))) from error
        except msgspec.DecodeError as error:
            raise InputError(f"{where}: not valid JSON: {error}") from error
        check_dates([record], lines=[number], first=first_record + len(records))
        records.append(record)
    return records


class Ingested(msgspec.Struct, kw_only=True, frozen=True):
    """What a batch did: records received, rows stored, and the difference."""

    received: int
    stored: int
    """Rows the records stored (created or replaced), each counted once."""

    @property
    def folded(self) -> int:
        """Records that repeated another of the batch (the same row by the ingester's
        key) and were folded into it, the last one winning."""
        return self.received - self.stored


def ingest(store: Store, registry: Registry, name: str, records: Sequence[Any]) -> Ingested:
    """Store ``records`` through ingester ``name`` in one transaction.

    ``records`` must come from :func:`decode_records` or :func:`convert_records`,
    which have already validated every one; they are not checked a second time.
    """
    return ingest_chunks(store, registry, name, [records])


def ingest_chunks(
    store: Store, registry: Registry, name: str, chunks: Iterable[Sequence[Any]]
) -> Ingested:
    """Store every chunk through ingester ``name``, all in one transaction.

    The ingester's optional ``begin(db)`` runs once first, after the batch's keys
    (``new_in_batch``) are emptied. If a chunk fails to decode or store, the
    transaction is rolled back: nothing of the batch is kept.
    """
    ingester = _ingester(registry, name)
    checks_ids = getattr(ingester, "checks_account_ids", True) and "account_id" in (
        ingester.record_type.__struct_fields__
    )
    received = stored = 0
    with store.transaction() as db:
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {INGEST_KEYS_TABLE} (key BLOB PRIMARY KEY) WITHOUT ROWID"
        )
        db.execute(f"DELETE FROM {INGEST_KEYS_TABLE}")
        begin = getattr(ingester, "begin", None)
        if begin is not None:
            begin(db)
        for records in chunks:
            if checks_ids:
                _check_account_ids(db.conn, records, received + 1)
            stored += ingester.store(db, records)
            received += len(records)
    ROWS_INGESTED.add(stored, {"telltales.ingester": name})
    return Ingested(received=received, stored=stored)


def _check_account_ids(conn: Any, records: Sequence[Any], first: int = 1) -> None:
    """Refuse the batch at its first record of an account not stored (record ``first`` + i)."""
    ids = {record.account_id for record in records}
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS ingest_ids (account_id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.ingest_ids")
    conn.executemany("INSERT INTO temp.ingest_ids VALUES (?)", ((i,) for i in ids))
    missing = {
        row[0]
        for row in conn.execute(
            "SELECT i.account_id FROM temp.ingest_ids i "
            "LEFT JOIN accounts a ON a.account_id = i.account_id WHERE a.account_id IS NULL"
        )
    }
    conn.execute("DELETE FROM temp.ingest_ids")
    if missing:
        index = next(i for i, record in enumerate(records) if record.account_id in missing)
        more = f" ({len(missing) - 1} other unknown accounts too)" if len(missing) > 1 else ""
        raise InputError(
            f"{position(first + index)}, field 'account_id': unknown account "
            f"{records[index].account_id!r}{more}; ingest it into 'accounts' first"
        )


def _ingester(registry: Registry, name: str) -> Any:
    entry = registry.ingesters.get(name)
    if entry is None:
        known = ", ".join(sorted(registry.ingesters)) or "none"
        raise InputError(f"no ingester named {name!r}; installed ingesters: {known}")
    return entry.obj


def not_json(number: int, line: bytes) -> str:
    """Name the format of a file that is not JSON, rather than quote a parser's complaint.

    A CSV export handed over as JSON used to read ``line 1: not valid JSON: JSON is
    malformed: invalid character (byte 0)``; the person needs to hear "this is CSV".
    """
    text = line.decode("utf-8", "replace").strip()
    shown = text if len(text) <= 60 else f"{text[:57]}..."
    if "," in text or "\t" in text:
        return (
            f"line {number}: not JSON but what looks like CSV ({shown!r}); send it as CSV "
            "(a .csv file or --format csv for telltales ingest, Content-Type text/csv for "
            "the API)"
        )
    return (
        f"line {number}: not JSON ({shown!r}): a JSON array starts with '[', and each line "
        "of JSON Lines with '{'"
    )


def record_type_of(registry: Registry, name: str) -> type[msgspec.Struct]:
    """The record type of ingester ``name``, or the error listing the installed ones."""
    record_type: type[msgspec.Struct] = _ingester(registry, name).record_type
    return record_type
