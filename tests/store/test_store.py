"""The store: creation, refusal of foreign or newer files (untouched), migrations, threads."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest
from sqlite_utils import Database, Migrations
from telltales.errors import StoreError
from telltales.plugins import Registry
from telltales.store import APPLICATION_ID, Store, open_store


def core(registry: Registry) -> list[Migrations]:
    return [entry.obj for entry in registry.migrations.values()]


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_a_new_database_is_wal_with_foreign_keys_and_our_application_id(store: Store) -> None:
    conn = store.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert {"accounts", "signals", "scores", "runs"} <= set(store.db.table_names())


def test_a_missing_database_is_not_created_without_create(
    tmp_path: Path, registry: Registry
) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(StoreError, match="telltales init"):
        open_store(path, core(registry))
    assert not path.exists()


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("quarterly business review notes\n" * 100)
    before = fingerprint(path)
    with pytest.raises(StoreError, match="not a telltales database"):
        open_store(path, core(registry), create=True)
    assert fingerprint(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_foreign_sqlite_database_is_refused_untouched(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "crm.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE deals (id INTEGER PRIMARY KEY, stage TEXT)")
    conn.execute("INSERT INTO deals (stage) VALUES ('negotiation')")
    conn.commit()
    conn.close()
    before = fingerprint(path)
    with pytest.raises(StoreError, match="SQLite database but not a telltales one"):
        open_store(path, core(registry), create=True)
    assert fingerprint(path) == before
    assert Database(path).table_names() == ["deals"]


def test_a_database_migrated_by_newer_code_is_refused_untouched(
    tmp_path: Path, registry: Registry
) -> None:
    path = tmp_path / "t.db"
    open_store(path, core(registry), create=True).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('telltales', 'm099_from_the_future', '2030-01-01')"
    )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = fingerprint(path)
    with pytest.raises(StoreError, match="newer code.*m099_from_the_future"):
        open_store(path, core(registry))
    assert fingerprint(path) == before


def test_plugin_migrations_are_applied_to_an_existing_database(
    tmp_path: Path, registry: Registry
) -> None:
    path = tmp_path / "t.db"
    open_store(path, core(registry), create=True).close()
    extra = Migrations("vendor")

    @extra()
    def m001(db: Database) -> None:
        db["vendor_rows"].create({"id": int}, pk="id")

    with open_store(path, [*core(registry), extra]) as store:
        assert store.db["vendor_rows"].exists()
    with open_store(path, [*core(registry), extra]) as store:
        applied = [m.name for m in extra.applied(store.db)]
    assert applied == ["m001"], "a migration runs once"


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "t.db"
    open_store(path, core(registry), create=True).close()
    broken = Migrations("broken")

    @broken()
    def m001(db: Database) -> None:
        db["half"].create({"id": int}, pk="id")
        raise RuntimeError("oops")

    with pytest.raises(RuntimeError):
        open_store(path, [*core(registry), broken])
    assert "half" not in Database(path).table_names()


def test_a_new_database_whose_migrations_fail_leaves_no_file(
    tmp_path: Path, registry: Registry
) -> None:
    broken = Migrations("broken")

    @broken()
    def m001(db: Database) -> None:
        raise RuntimeError("oops")

    path = tmp_path / "new.db"
    with pytest.raises(RuntimeError):
        open_store(path, [*core(registry), broken], create=True)
    assert list(tmp_path.iterdir()) == []
    open_store(path, core(registry), create=True).close()


def test_transactions_are_all_or_nothing(store: Store) -> None:
    def insert_then_fail() -> None:
        with store.transaction() as db:
            db.execute("INSERT INTO accounts (account_id, name, updated_at) VALUES ('a', 'A', 'x')")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        insert_then_fail()
    assert store.db["accounts"].count == 0


def test_threads_write_concurrently_without_losing_rows(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(50):
                with store.transaction() as db:
                    db.execute(
                        "INSERT INTO accounts (account_id, name, updated_at) VALUES (?, ?, 'now')",
                        [f"t{n}-{i}", "x"],
                    )
                store.reader.execute("SELECT count(*) FROM accounts").fetchone()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.db["accounts"].count == 400


def test_an_existing_database_learns_that_seats_assigned_may_be_unknown(
    tmp_path: Path, registry: Registry
) -> None:
    """m008 drops NOT NULL from accounts.seats_assigned in place; rows and keys survive."""
    sets = core(registry)
    telltales = next(s for s in sets if s.name == "telltales")
    before = Migrations("telltales")
    before._migrations = [m for m in telltales._migrations if not m.name.startswith("m008")]
    path = tmp_path / "old.db"
    open_store(path, [before], create=True).close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO accounts (account_id, name, seats_assigned, updated_at) "
            "VALUES ('a', 'A', 5, 'then')"
        )
        with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
            conn.execute(
                "INSERT INTO accounts (account_id, name, seats_assigned, updated_at) "
                "VALUES ('b', 'B', NULL, 'then')"
            )
    with open_store(path, sets) as store:
        db = store.db
        db.execute(
            "INSERT INTO accounts (account_id, name, seats_assigned, updated_at) "
            "VALUES ('b', 'B', NULL, 'now')"
        )
        assert db.execute("SELECT account_id, seats_assigned FROM accounts").fetchall() == [
            ("a", 5),
            ("b", None),
        ]
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            db.execute(
                "INSERT INTO rule_accounts (account_id, last_day) VALUES ('nobody', '2026-01-01')"
            )
