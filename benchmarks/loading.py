"""Loading a synthetic book into a telltales database, shared by every benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import book

INSERT = (
    "INSERT INTO telemetry_usage (account_id, user_id, feature, day, team, events, logins) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def open_book(path: Path) -> Any:
    from telltales.plugins import load_registry
    from telltales.store import open_store

    registry = load_registry()
    migrations = [entry.obj for entry in registry.migrations.values()]
    return registry, open_store(path, migrations, create=True)


def prepare(path: Path, accounts: int, rows: int, *, usage: bool = True) -> int:
    """A database with ``accounts`` accounts and about ``rows`` usage rows (loaded raw)."""
    from telltales.signals.ingest import convert_records, ingest

    registry, store = open_book(path)
    with store:
        people = book.accounts(accounts)
        records = convert_records(registry, "accounts", book.account_records(people))
        ingest(store, registry, "accounts", records)
        loaded = 0
        if usage:
            with store.transaction() as db:
                batch: list[tuple[Any, ...]] = []
                for row in book.usage_rows(people, rows):
                    batch.append(row)
                    if len(batch) == 100_000:
                        db.conn.executemany(INSERT, batch)
                        loaded += len(batch)
                        batch.clear()
                db.conn.executemany(INSERT, batch)
                loaded += len(batch)
    return loaded
