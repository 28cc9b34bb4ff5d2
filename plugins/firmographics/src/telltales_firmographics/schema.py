"""The ``firmographics`` migrations: one table of dated snapshots per account."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("firmographics")


@migrations()
def m001_snapshots(db: Database) -> None:
    # The primary key (account_id, as_of) is also the index every query of the source
    # walks: "latest snapshot of each batch account on or before a day" is a range scan
    # per account. WITHOUT ROWID keeps the rows in that order on disk.
    db.execute(
        """
        CREATE TABLE firmographics_snapshots (
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            as_of TEXT NOT NULL,
            employee_count INTEGER,
            annual_revenue REAL,
            industry TEXT NOT NULL,
            region TEXT NOT NULL,
            country TEXT,
            products TEXT NOT NULL DEFAULT '[]',
            source TEXT,
            PRIMARY KEY (account_id, as_of)
        ) WITHOUT ROWID
        """
    )
