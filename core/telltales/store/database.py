"""The SQLite file: opening it safely, migrating it, and transactions.

A store refuses, before writing a byte, a file that is not a telltales database,
that is damaged (truncated, its write-ahead log lost or not its own), read-only, or
migrated by newer code. Each thread gets its own connection (SQLite connections must
not be shared across threads), all in WAL mode with foreign keys on, so a
multi-threaded server can read while one writer writes.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from sqlite_utils import Database, Migrations

from telltales.errors import StoreError

DB_ENV = "TELLTALES_DB"
DEFAULT_DB = "telltales.db"
APPLICATION_ID = 0x54544C53
"""Written into the SQLite header (``PRAGMA application_id``): "TTLS"."""
BUSY_TIMEOUT_MS = 10_000
SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
"""The SQLite file header: https://sqlite.org/fileformat.html#the_database_header"""
WAL_HEADER_BYTES = 32
RESTORE_HINT = "restore it from a backup (docs/operations.md#backups)"


def default_path() -> Path:
    """``$TELLTALES_DB``, else ``telltales.db`` in the current directory."""
    return Path(os.environ.get(DB_ENV) or DEFAULT_DB)


FILE_FAULTS = frozenset(
    (
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
    )
)
"""SQLite's primary result codes that are about the file itself, not one query."""


def is_file_fault(error: BaseException) -> bool:
    """Whether ``error`` says the database file is damaged or unusable (see :func:`damage`)."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    return isinstance(error, sqlite3.Error) and code in FILE_FAULTS


def damage(path: Path, error: sqlite3.Error) -> StoreError | None:
    """The one-line error for an SQLite error that says the file is damaged or unusable.

    None for the errors that say nothing about the file (a constraint, a busy lock, a
    bug in a query): those keep their own handling and traceback.
    """
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StoreError(f"{path} is damaged ({error}); the command stopped; {RESTORE_HINT}")
    if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL):
        return StoreError(f"cannot read or write {path}: {error}")
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
        return StoreError(f"cannot write {path} (or the -wal and -shm files beside it): {error}")
    return None


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
            # Read-only connections first, so that close() closes them first.
            self._connections.insert(0 if read_only else len(self._connections), conn)
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

    def discard_reader(self) -> None:
        """Close this thread's read-only connection; the next :attr:`reader` opens afresh.

        For a connection left in a state no later read may see: a run's temporary
        ``accounts`` it could not drop because a source abandoned past its time limit
        still reads through it (SQLite closes it once that query ends).
        """
        db: Database | None = getattr(self._local, "reader", None)
        if db is None:
            return
        self._local.reader = None
        with self._lock:
            if db.conn in self._connections:
                self._connections.remove(db.conn)
        db.conn.close()

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
        """Close every connection, the read-write ones last.

        The last connection to close checkpoints the write-ahead log into the main
        file and removes ``-wal`` and ``-shm``; a read-only one cannot, and would
        leave them behind for a ``cp`` to miss.
        """
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._closed = True

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close; a damaged file found mid-command becomes one line, not a traceback."""
        self.close()
        if isinstance(error, sqlite3.Error):
            found = damage(self.path, error)
            if found is not None:
                raise found from error


Migrate = Callable[[Database, list[Migrations]], None]
"""How the sets are applied, inside the open's one transaction."""


def open_store(
    path: Path | str | None,
    migrations: Iterable[Migrations],
    *,
    create: bool = False,
    migrate: Migrate | None = None,
) -> Store:
    """Open (or, with ``create``, make) a telltales database and bring it up to date.

    ``migrations`` are the registered sets, the core's first. A missing, read-only,
    foreign, damaged or newer file raises :class:`StoreError` and the file (with its
    ``-wal`` and ``-shm``) is left as it was. A database not in WAL mode (a
    ``VACUUM INTO`` copy) is switched to it. ``migrate`` applies the sets (by default
    all of them, and any failure stops the open; ``store.plugin_schemas`` leaves out a
    plugin whose migrations fail instead).
    """
    path = Path(path) if path is not None else default_path()
    sets = list(migrations)
    fresh = _check_file(path, create=create)
    if not fresh:
        _check_header(path)
        _check_wal_present(path)
        _check_contents(path, sets)
    store = Store(path)
    try:
        conn = store.db.conn
        _use_wal(path, conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            (migrate or _apply_all)(store.db, sets)
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
            raise (damage(path, error) or StoreError(f"cannot open {path}: {error}")) from error
        raise
    return store


def _apply_all(db: Database, sets: list[Migrations]) -> None:
    for migration_set in sets:
        migration_set.apply(db)


def _use_wal(path: Path, conn: sqlite3.Connection) -> None:
    """WAL mode, which is set on the file: a new one, or a copy made without it."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise StoreError(f"cannot put {path} in WAL mode; it stays in {mode!r} journal mode")


def _check_file(path: Path, *, create: bool) -> bool:
    """Return True when the database is new (absent or empty and ``create`` is set)."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a database file")
    if not path.exists():
        if not create:
            raise StoreError(f"no telltales database at {path}; create one with `telltales init`")
        if not path.parent.is_dir():
            raise StoreError(f"cannot create {path}: folder {path.parent} does not exist")
        _check_writable(path)
        return True
    _check_writable(path)
    if path.stat().st_size == 0:
        if not create:
            raise StoreError(f"{path} is empty; create a database with `telltales init`")
        return True
    return False


def _check_writable(path: Path) -> None:
    """Refuse a read-only file or folder: every open writes (migrations, the WAL files).

    A file or folder with no write permission bit is refused even for root, who could
    write it anyway: someone made it read-only on purpose.
    """
    folder = path.resolve().parent
    if path.exists() and _read_only(path):
        raise StoreError(
            f"{path} is read-only; telltales writes to its database whenever it opens it "
            "(make it writable, or work on a copy)"
        )
    if _read_only(folder):
        raise StoreError(
            f"cannot use {path}: its folder {folder} is read-only, and SQLite must create "
            "its -wal and -shm files beside the database"
        )


def _read_only(path: Path) -> bool:
    return not os.access(path, os.W_OK) or not stat.S_IMODE(path.stat().st_mode) & 0o222


def _check_header(path: Path) -> None:
    """Refuse, from its first bytes and its size, a file that is not SQLite or is cut short.

    The size is checked against the header's page count only when no write-ahead log
    is waiting: a checkpoint interrupted by a crash may leave the file short, and the
    log still holds what is missing.
    """
    size = path.stat().st_size
    with path.open("rb") as file:
        header = file.read(HEADER_BYTES)
    if not header.startswith(SQLITE_MAGIC[: len(header)]):
        raise StoreError(f"{path} is not a telltales database: it is not an SQLite file")
    if size < HEADER_BYTES:
        raise StoreError(
            f"{path} is truncated: {size} bytes, shorter than SQLite's {HEADER_BYTES}-byte "
            f"header; {RESTORE_HINT}"
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise StoreError(f"{path} is damaged: its header gives no valid page size; {RESTORE_HINT}")
    if _wal_frames(path):
        return
    if size % page_size:
        raise StoreError(
            f"{path} is truncated: {size} bytes is not a whole number of {page_size}-byte "
            f"pages; {RESTORE_HINT}"
        )
    pages = int.from_bytes(header[28:32], "big")
    counted = pages and header[24:28] == header[92:96]
    if counted and size < pages * page_size:
        raise StoreError(
            f"{path} is truncated: {size} bytes, but its header counts {pages} pages of "
            f"{page_size} bytes ({pages * page_size} bytes); {RESTORE_HINT}"
        )


def _wal_frames(path: Path) -> bool:
    """Whether a ``-wal`` file beside the database holds any frame past its header."""
    wal = Path(f"{path}-wal")
    return wal.exists() and wal.stat().st_size > WAL_HEADER_BYTES


def _check_wal_present(path: Path) -> None:
    """Refuse a database whose ``-shm`` index counts frames in a ``-wal`` that is gone.

    SQLite would silently open the database as of its last checkpoint, without the
    latest commits. The index header (native byte order, two equal copies) holds
    ``isInit`` at byte 12 and the number of valid frames at byte 16.
    """
    shm = Path(f"{path}-shm")
    if Path(f"{path}-wal").exists() or not shm.exists():
        return
    with shm.open("rb") as file:
        index = file.read(96)
    if len(index) < 96 or index[:48] != index[48:96] or not index[12]:
        return
    frames = int.from_bytes(index[16:20], sys.byteorder)
    if frames:
        raise StoreError(
            f"{path}-wal is missing, but {shm.name} says it held {frames} page(s) of "
            f"commits not yet in {path}: opening it would lose them. Put the -wal file "
            f"back, or delete {shm.name} to open the database without them"
        )


def _check_contents(path: Path, sets: list[Migrations]) -> None:
    """Refuse a file that is not ours, damaged, or migrated by newer code, without writing.

    Only a read-only connection looks: a read-write one that closes last checkpoints
    the ``-wal`` into the file, foreign pages and all. The ``-wal`` and ``-shm`` it
    may create are removed again when the file is refused.
    """
    created = [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm")) if not p.exists()]
    try:
        applied = _read_contents(path, sets)
        for migration_set in sets:
            known = _defined_names(migration_set)
            unknown = [name for name in applied[migration_set.name] if name not in known]
            if unknown:
                raise StoreError(
                    f"{path} was migrated by newer code: migration set {migration_set.name!r} "
                    f"has {', '.join(unknown)}, which this installation does not know; "
                    "upgrade telltales (or the plugin) to use it"
                )
    except BaseException:
        for companion in created:
            companion.unlink(missing_ok=True)
        raise


def _defined_names(migration_set: Migrations) -> set[str]:
    """The names of the migrations ``migration_set`` defines, applied or not.

    sqlite-utils has no public list of them (only the private ``_migrations``); on an
    empty database every migration of a set is pending, so ``pending()`` gives them all.
    """
    with Database(memory=True) as empty:
        return {migration.name for migration in migration_set.pending(empty)}


def _read_contents(path: Path, sets: list[Migrations]) -> dict[str, list[str]]:
    """Each set's applied migrations, once the file is known to be a readable telltales one.

    A ``-wal`` without its ``-shm`` index (a log copied in from elsewhere, or left by a
    crash and a cleanup) is checked whole with ``PRAGMA quick_check`` before it is let
    near the file; with its index beside it, the log is the normal state of an open or
    crashed database and costs no check.
    """
    recovering = _wal_frames(path) and not Path(f"{path}-shm").exists()
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open {path}: {error}") from error
    try:
        (app_id,) = conn.execute("PRAGMA application_id").fetchone()
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if app_id != APPLICATION_ID:
            raise StoreError(
                f"{path} is an SQLite database but not a telltales one; "
                "refusing to touch it (use another --db path)"
            )
        if recovering:
            found = [row[0] for row in conn.execute("PRAGMA quick_check(1)")]
            if found != ["ok"]:
                lines = [line for text in found for line in text.splitlines()]
                raise StoreError(_foreign_wal(path, lines[-1]))
        db = Database(conn, recursive_triggers=False, execute_plugins=False)
        return {
            migration_set.name: [migration.name for migration in migration_set.applied(db)]
            for migration_set in sets
        }
    except sqlite3.DatabaseError as error:
        if recovering:
            raise StoreError(_foreign_wal(path, str(error))) from error
        raise (damage(path, error) or StoreError(f"cannot read {path}: {error}")) from error
    finally:
        conn.close()


def _foreign_wal(path: Path, problem: str) -> str:
    return (
        f"{path} with the write-ahead log {path}-wal beside it is damaged ({problem}); if "
        f"that -wal file came from another database, move it away, else {RESTORE_HINT}"
    )
