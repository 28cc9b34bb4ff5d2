"""The database with every loaded plugin's schema: each plugin's migrations in a savepoint.

A plugin's migration can clash with the core's schema or another plugin's (a table
named ``accounts``), or fail on the data already in the file. Such a plugin is left
out whole, like one that fails to import (stage ``migrate``), with nothing of its
migrations written, and the open goes on with the rest; in strict mode the open
stops. The core's own schema failing always stops the open, and so does damage to
the file, which is no plugin's fault.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path

from sqlite_utils import Database, Migrations

from telltales.plugins import DEFAULT_PLUGINS, Registry
from telltales.store.database import Store, is_file_fault, open_store


def open_for_plugins(path: Path | str | None, registry: Registry, *, create: bool = False) -> Store:
    """Open the database with the migrations of every plugin in ``registry``.

    A plugin whose migrations fail is taken out of ``registry`` and recorded in its
    ``failures``; the caller reports it.
    """
    sets = [entry.obj for entry in registry.migrations.values()]
    return open_store(path, sets, create=create, migrate=partial(_apply, registry))


def _apply(registry: Registry, db: Database, sets: list[Migrations]) -> None:
    by_plugin: dict[str, list[Migrations]] = {}
    for migration_set in sets:
        by_plugin.setdefault(registry.migrations[migration_set.name].plugin, []).append(
            migration_set
        )
    for plugin, plugin_sets in by_plugin.items():
        if plugin in DEFAULT_PLUGINS:
            for migration_set in plugin_sets:
                migration_set.apply(db)
        else:
            _apply_or_leave_out(registry, db, plugin, plugin_sets)


def _apply_or_leave_out(
    registry: Registry, db: Database, plugin: str, sets: list[Migrations]
) -> None:
    failed = ""
    try:
        with db.atomic():
            for migration_set in sets:
                try:
                    migration_set.apply(db)
                except Exception:
                    failed = f"{migration_set.name}.{_first_pending(db, migration_set)}"
                    raise
    except Exception as error:
        if is_file_fault(error) or not db.conn.in_transaction:
            raise  # the file is damaged or the transaction is gone: not the plugin's doing
        registry.leave_out(plugin, "migrate", _failure(plugin, failed, error))


def _first_pending(db: Database, migration_set: Migrations) -> str:
    """The migration that failed: the first still pending before its savepoint is undone."""
    try:
        pending = migration_set.pending(db)
    except sqlite3.Error:
        return "?"
    return pending[0].name if pending else "?"


def _failure(plugin: str, migration: str, error: Exception) -> str:
    message = (
        f"migration {migration} failed: {type(error).__name__}: {error}; "
        "nothing of the plugin's migrations was written"
    )
    if "already exists" in str(error):
        message += (
            f" (its tables and indexes need names of their own: prefix them with '{plugin}_')"
        )
    return message
