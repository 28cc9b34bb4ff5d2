"""The SQLite file: opening it safely, migrating it, and transactions.

A store refuses, before writing a byte, a file that is not a telltales database or
that was migrated by newer code. Each thread gets its own connection (SQLite
connections must not be shared across threads), all in WAL mode with foreign keys
on, so a multi-threaded server can read while one writer writes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database, Migrations

from .errors import StoreError

DB_ENV = "TELLTALES_DB"
DEFAULT_DB = "telltales.db"
APPLICATION_ID = 0x54544C53
"""Written into the SQLite header (``PRAGMA application_id``): "TTLS"."""
BUSY_TIMEOUT_MS = 10_000


def default_path() -> Path:
    """``$TELLTALES_DB``, else ``telltales.db`` in the current directory."""
    return Path(os.environ.get(DB_ENV) or DEFAULT_DB)


class Store:
    """An open telltales database. Build one with :func:`open_store`.

    Connections are thread-local; ``check_same_thread`` is off only so that
    :meth:`close` can close every thread's connection from the thread that owns the
    store.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False

    def _connect(self, *, read_only: bool) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the store at {self.path} is closed")
        if read_only:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        with self._lock:
            self._connections.append(conn)
        return conn

    def _thread_db(self, attribute: str, *, read_only: bool) -> Database:
        db: Database | None = getattr(self._local, attribute, None)
        if db is None:
            db = Database(self._connect(read_only=read_only), execute_plugins=False)
            setattr(self._local, attribute, db)
        return db

    @property
    def db(self) -> Database:
        """This thread's read-write connection."""
        return self._thread_db("db", read_only=False)

    @property
    def reader(self) -> Database:
        """This thread's read-only connection: what signal sources are given."""
        return self._thread_db("reader", read_only=True)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """All or nothing: ``BEGIN IMMEDIATE`` takes the write lock up front.

        Taking the lock at the start (rather than on the first write) lets SQLite's
        busy timeout queue concurrent writers instead of failing one of them with
        "database is locked" halfway through. Nested calls become savepoints.
        """
        db = self.db
        if db.conn.in_transaction:
            with db.atomic():
                yield db
            return
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._closed = True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(
    path: Path | str | None, migrations: Iterable[Migrations], *, create: bool = False
) -> Store:
    """Open (or, with ``create``, make) a telltales database and bring it up to date.

    ``migrations`` are the registered sets, the core's first. A missing file, a
    foreign file, or a file migrated by newer code raises :class:`StoreError` and the
    file is left as it was.
    """
    path = Path(path) if path is not None else default_path()
    sets = list(migrations)
    fresh = _check_file(path, create=create)
    if not fresh:
        _check_contents(path, sets)
    store = Store(path)
    try:
        conn = store.db.conn
        if fresh:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for migration_set in sets:
                migration_set.apply(store.db)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except BaseException as error:
        store.close()
        if fresh:
            # A database whose first migrations failed is no database: leave no file
            # behind that the next `telltales init` would refuse as foreign.
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        if isinstance(error, sqlite3.Error):
            raise StoreError(f"cannot open {path}: {error}") from error
        raise
    return store


def _check_file(path: Path, *, create: bool) -> bool:
    """Return True when the database is new (absent or empty and ``create`` is set)."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a database file")
    if not path.exists():
        if not create:
            raise StoreError(f"no telltales database at {path}; create one with `telltales init`")
        if not path.parent.exists():
            raise StoreError(f"cannot create {path}: folder {path.parent} does not exist")
        return True
    if path.stat().st_size == 0:
        if not create:
            raise StoreError(f"{path} is empty; create a database with `telltales init`")
        return True
    return False


def _check_contents(path: Path, sets: list[Migrations]) -> None:
    """Refuse a file that is not ours, or that newer code migrated, without writing."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open {path}: {error}") from error
    try:
        try:
            (app_id,) = conn.execute("PRAGMA application_id").fetchone()
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as error:
            raise StoreError(
                f"{path} is not a telltales database (not a readable SQLite file: {error})"
            ) from error
        if app_id != APPLICATION_ID:
            raise StoreError(
                f"{path} is an SQLite database but not a telltales one; "
                "refusing to touch it (use another --db path)"
            )
        applied = _applied_migrations(conn)
    finally:
        conn.close()
    for migration_set in sets:
        known = {migration.name for migration in migration_set._migrations}
        unknown = [name for name in applied.get(migration_set.name, []) if name not in known]
        if unknown:
            raise StoreError(
                f"{path} was migrated by newer code: migration set {migration_set.name!r} "
                f"has {', '.join(unknown)}, which this installation does not know; "
                "upgrade telltales (or the plugin) to use it"
            )


def _applied_migrations(conn: sqlite3.Connection) -> dict[str, list[str]]:
    table = Migrations.migrations_table
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    ).fetchone()
    applied: dict[str, list[str]] = {}
    if exists:
        for migration_set, name in conn.execute(
            f"SELECT migration_set, name FROM [{table}] ORDER BY rowid"
        ):
            applied.setdefault(migration_set, []).append(name)
    return applied
