"""Bulk ingestion of raw records through a registered ingester: all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from .errors import InputError, describe_validation_error
from .plugins import Registry
from .store import Store


def decode_records(registry: Registry, name: str, data: bytes) -> list[Any]:
    """Decode a JSON array or JSON Lines into the ingester's record type, validating all.

    The first invalid record stops the batch with its index (JSON) or line (JSON
    Lines) and field, before anything is written.
    """
    record_type = _ingester(registry, name).record_type
    text = data.lstrip()
    if not text:
        return []
    if text.startswith(b"["):
        try:
            return msgspec.json.decode(text, type=list[record_type])  # type: ignore[valid-type]
        except msgspec.ValidationError as error:
            raise InputError(describe_validation_error(error)) from error
        except msgspec.DecodeError as error:
            raise InputError(f"not valid JSON: {error}") from error
    decoder = msgspec.json.Decoder(record_type)
    records = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(decoder.decode(line))
        except msgspec.ValidationError as error:
            raise InputError(f"line {number}: {describe_validation_error(error)}") from error
        except msgspec.DecodeError as error:
            raise InputError(f"line {number}: not valid JSON: {error}") from error
    return records


def convert_records(registry: Registry, name: str, objects: Sequence[Any]) -> list[Any]:
    """Validate plain objects (dicts, or records already typed) into the record type."""
    record_type = _ingester(registry, name).record_type
    try:
        return msgspec.convert(list(objects), list[record_type])  # type: ignore[valid-type]
    except msgspec.ValidationError as error:
        raise InputError(describe_validation_error(error)) from error


def ingest(store: Store, registry: Registry, name: str, records: Sequence[Any]) -> int:
    """Store ``records`` through ingester ``name`` in one transaction.

    ``records`` must come from :func:`decode_records` or :func:`convert_records`,
    which have already validated every one; they are not checked a second time.
    """
    ingester = _ingester(registry, name)
    checks_ids = getattr(ingester, "checks_account_ids", True) and "account_id" in (
        ingester.record_type.__struct_fields__
    )
    with store.transaction() as db:
        if checks_ids:
            _check_account_ids(db.conn, records)
        stored: int = ingester.store(db, records)
    return stored


def _check_account_ids(conn: Any, records: Sequence[Any]) -> None:
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
            f"record {index}, field 'account_id': unknown account "
            f"{records[index].account_id!r}{more}; ingest it into 'accounts' first"
        )


def _ingester(registry: Registry, name: str) -> Any:
    entry = registry.ingesters.get(name)
    if entry is None:
        known = ", ".join(sorted(registry.ingesters)) or "none"
        raise InputError(f"no ingester named {name!r}; installed ingesters: {known}")
    return entry.obj
