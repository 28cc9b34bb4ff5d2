"""The usage tables: one row per account, user, feature and day; or counts per account-day.

Days are stored as whole days since 1970-01-01 (``day``), not ISO text: the daily
run aggregates tens of millions of rows, and integer days make the windows and the
trend sums plain arithmetic. ``telemetry_usage_by_date`` shows them as dates.

The primary key puts each user's rows for one feature together, so the run's
``GROUP BY account, user, feature`` streams through the table in key order with no
sort; the second index serves "replace this account's day" at ingestion.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlite_utils import Database, Migrations
from telltales import hookimpl

EPOCH = date(1970, 1, 1).toordinal()

migrations = Migrations("telemetry")


def day_number(day: date) -> int:
    """The stored form of a day: whole days since 1970-01-01."""
    return day.toordinal() - EPOCH


def day_of(number: int) -> date:
    return date.fromordinal(number + EPOCH)


@migrations()
def m001_usage(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE telemetry_usage (
            account_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            feature TEXT NOT NULL,
            day INTEGER NOT NULL,
            team TEXT NOT NULL DEFAULT '',
            events INTEGER NOT NULL,
            logins INTEGER NOT NULL,
            PRIMARY KEY (account_id, user_id, feature, day)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX telemetry_usage_account_day ON telemetry_usage (account_id, day)")
    db.execute(
        """
        CREATE VIEW telemetry_usage_by_date AS
        SELECT account_id, user_id, team, feature, date(day * 86400, 'unixepoch') AS day,
               events, logins
        FROM telemetry_usage
        """
    )


@migrations()
def m002_counts_daily(db: Database) -> None:
    """Counted usage: per account, day and feature, how many users were active.

    Warehouses often export counts rather than one row per user. ``feature`` is
    ``''`` for the whole product that day (users active in any feature). The key
    order serves both the run's scan of an account's window and "replace this
    account's day" at ingestion.
    """
    db.execute(
        """
        CREATE TABLE telemetry_daily_counts (
            account_id TEXT NOT NULL,
            day INTEGER NOT NULL,
            feature TEXT NOT NULL DEFAULT '',
            active_users INTEGER NOT NULL,
            events INTEGER NOT NULL,
            logins INTEGER NOT NULL,
            PRIMARY KEY (account_id, day, feature)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE VIEW telemetry_daily_counts_by_date AS
        SELECT account_id, date(day * 86400, 'unixepoch') AS day, feature, active_users,
               events, logins
        FROM telemetry_daily_counts
        """
    )


@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)
