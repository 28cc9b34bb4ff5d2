"""The core schema: accounts, engine runs, signals and scores."""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database, Migrations

from telltales.hookspecs import hookimpl
from telltales.store import APPLICATION_ID

migrations = Migrations("telltales")


def _execute(db: Database, statements: str) -> None:
    """Run ``;``-separated statements one at a time.

    ``executescript()`` would COMMIT the transaction the migration runs in.
    """
    for statement in statements.split(";"):
        if statement.strip():
            db.execute(statement)


@migrations()
def m001_core(db: Database) -> None:
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    _execute(db, _CORE_SCHEMA)


_CORE_SCHEMA = """
        CREATE TABLE accounts (
            account_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            owner TEXT NOT NULL DEFAULT '',
            csm_group TEXT NOT NULL DEFAULT '',
            segment TEXT NOT NULL DEFAULT '',
            industry TEXT NOT NULL DEFAULT '',
            employee_count INTEGER,
            arr REAL NOT NULL DEFAULT 0,
            seats_purchased INTEGER NOT NULL DEFAULT 0,
            seats_assigned INTEGER NOT NULL DEFAULT 0,
            products TEXT NOT NULL DEFAULT '[]',
            lifecycle_stage TEXT NOT NULL DEFAULT 'adoption',
            renewal_date TEXT,
            core_features TEXT NOT NULL DEFAULT '[]',
            updated_at TEXT NOT NULL
        );
        CREATE INDEX accounts_csm_group ON accounts (csm_group);
        CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY,
            as_of TEXT NOT NULL,
            status TEXT NOT NULL,
            accounts INTEGER NOT NULL DEFAULT 0,
            signals INTEGER NOT NULL DEFAULT 0,
            scores INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            failures TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE signals (
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            key TEXT NOT NULL,
            as_of TEXT NOT NULL,
            value REAL NOT NULL,
            dimension TEXT NOT NULL,
            source TEXT NOT NULL,
            evidence TEXT NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (account_id, key, as_of)
        ) WITHOUT ROWID;
        CREATE INDEX signals_as_of ON signals (as_of);
        CREATE TABLE scores (
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            scorer TEXT NOT NULL,
            as_of TEXT NOT NULL,
            value REAL,
            grade TEXT NOT NULL,
            label TEXT NOT NULL,
            coverage REAL NOT NULL,
            breakdown TEXT NOT NULL,
            config_id TEXT NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (account_id, scorer, as_of)
        ) WITHOUT ROWID;
        CREATE INDEX scores_as_of ON scores (as_of);
"""


@migrations()
def m002_signals_by_day(db: Database) -> None:
    """Key signals by day first: a run appends one day, so its rows go to the end of the tree.

    Keyed by account first, every run's rows were scattered among all earlier days'
    rows; with a year of history a run's insert was four times slower (measured with
    143,000 signals over 30 stored days: 4.6 s against 1.0 s).
    """
    _execute(db, _SIGNALS_BY_DAY)


_SIGNALS_BY_DAY = """
        CREATE TABLE signals_new (
            as_of TEXT NOT NULL,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            key TEXT NOT NULL,
            value REAL NOT NULL,
            dimension TEXT NOT NULL,
            source TEXT NOT NULL,
            evidence TEXT NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (as_of, account_id, key)
        ) WITHOUT ROWID;
        INSERT INTO signals_new (as_of, account_id, key, value, dimension, source, evidence, run_id)
        SELECT as_of, account_id, key, value, dimension, source, evidence, run_id FROM signals;
        DROP TABLE signals;
        ALTER TABLE signals_new RENAME TO signals;
        CREATE INDEX signals_account ON signals (account_id, as_of)
"""


@migrations()
def m003_scores_by_day(db: Database) -> None:
    """Key scores by day first, as signals are (m002), for the same reason and one more.

    A run appends one day of scores, each with a breakdown of a few kilobytes; keyed
    by account first, they were scattered among all earlier days' rows, and with 12
    stored days a day's insert of 50,000 scores took 4.0 s against 2.0 s. The
    health scorer's trend reads two whole days of scores, a range scan this way
    (0.7 s against 1.4 s for 100,000 rows).
    """
    _execute(db, _SCORES_BY_DAY)


_SCORES_BY_DAY = """
        CREATE TABLE scores_new (
            as_of TEXT NOT NULL,
            scorer TEXT NOT NULL,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            value REAL,
            grade TEXT NOT NULL,
            label TEXT NOT NULL,
            coverage REAL NOT NULL,
            breakdown TEXT NOT NULL,
            config_id TEXT NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (as_of, scorer, account_id)
        ) WITHOUT ROWID;
        INSERT INTO scores_new (as_of, scorer, account_id, value, grade, label, coverage,
            breakdown, config_id, run_id)
        SELECT as_of, scorer, account_id, value, grade, label, coverage, breakdown, config_id,
            run_id FROM scores;
        DROP TABLE scores;
        ALTER TABLE scores_new RENAME TO scores;
        CREATE INDEX scores_account ON scores (account_id, as_of)
"""


@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)
