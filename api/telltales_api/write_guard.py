"""Writes by a key limited to CSM groups touch only those groups' rows.

An ingest is checked record by record (each names an account the key may see), but
a plugin's table can be keyed by its own id (a ticket id, a meeting id) and upsert
on it: a record naming one of the key's accounts could then take over a row that
belongs to another group's account. The plugins' tables are theirs, so the guard is
generic: for the length of the write, temporary triggers on every table with an
``account_id`` column refuse an UPDATE or DELETE of a row whose account is outside
the key's groups, and the whole batch is rolled back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlite_utils import Database

REFUSAL = "telltales: a row of an account outside the key's CSM groups"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _tables_with_accounts(db: Database) -> list[str]:
    names = [
        str(row[0])
        for row in db.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return [
        name
        for name in names
        if any(column[1] == "account_id" for column in db.execute(f'PRAGMA table_info("{name}")'))
    ]


@contextmanager
def confined_to(db: Database, groups: frozenset[str]) -> Iterator[None]:
    """Inside a transaction: refuse changes to other groups' rows until the block ends.

    The triggers are temporary (this connection only) and are created and dropped
    inside the caller's transaction, so a rollback takes them away too.
    """
    allowed = ", ".join(_literal(group) for group in sorted(groups)) or "NULL"
    created: list[str] = []
    for number, table in enumerate(_tables_with_accounts(db)):
        for verb in ("UPDATE", "DELETE"):
            trigger = f"telltales_confine_{number}_{verb.lower()}"
            db.execute(
                f'CREATE TEMP TRIGGER {trigger} BEFORE {verb} ON main."{table}" '
                "WHEN (SELECT csm_group FROM main.accounts WHERE account_id = old.account_id) "
                f"NOT IN ({allowed}) BEGIN SELECT RAISE(ABORT, {_literal(REFUSAL)}); END"
            )
            created.append(trigger)
    yield
    for trigger in created:
        db.execute(f"DROP TRIGGER temp.{trigger}")


def is_refusal(error: sqlite3.Error) -> bool:
    """Whether ``error`` is the guard refusing a write."""
    return REFUSAL in str(error)
