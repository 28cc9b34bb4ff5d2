"""Usage rows and daily counts, and their bulk ingesters: a day re-sent replaces that day."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any

import msgspec
from sqlite_utils import Database
from telltales import Ingester, hookimpl

from .schema import EPOCH, day_number

Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Name = Annotated[str, msgspec.Meta(max_length=100)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]
"""A count a JSON number holds exactly (and SQLite can store)."""


class UsageRow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What one user did in one feature on one day, as a product-analytics export gives it.

    ``logins`` are the user's sign-ins that day; they are summed over the user's rows
    of the day, so give them on one row (any feature) and 0 on the others.
    """

    account_id: Identifier
    user_id: Identifier
    day: date
    feature: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    events: Count = 0
    logins: Count = 0
    team: Name = ""

    def __post_init__(self) -> None:
        if self.events == 0 and self.logins == 0:
            raise ValueError("a usage row must count at least one event or login")


_PAIRS_TABLE = """
    CREATE TEMP TABLE IF NOT EXISTS {name} (
        account_id TEXT NOT NULL, day INTEGER NOT NULL, PRIMARY KEY (account_id, day)
    ) WITHOUT ROWID
"""


class UsageIngester:
    """Stores usage rows; the account-days of a batch replace what was stored for them.

    A batch (one file, one API request) may arrive in several chunks inside one
    transaction (see :func:`replace_days`). Rows repeated within a batch (same
    account, user, feature and day) keep the last, and are counted once.
    """

    name = "telemetry.usage"
    record_type = UsageRow
    replaced = "temp.telemetry_replaced"

    def begin(self, db: Database) -> None:
        begin_batch(db, self.replaced)

    def store(self, db: Database, records: Sequence[UsageRow]) -> int:
        epoch = EPOCH
        rows = [
            (
                r.account_id,
                r.user_id,
                r.feature,
                r.day.toordinal() - epoch,
                r.team,
                r.events,
                r.logins,
            )
            for r in records
        ]
        return replace_days(
            db,
            "telemetry_usage",
            self.replaced,
            {(row[0], row[3]) for row in rows},
            "INSERT INTO telemetry_usage "
            "(account_id, user_id, feature, day, team, events, logins) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account_id, user_id, feature, day) DO UPDATE SET "
            "team = excluded.team, events = excluded.events, logins = excluded.logins",
            rows,
        )


class DailyCount(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How many users of an account were active on one day (in one feature, or in any).

    For exports that count users instead of listing them. Without user ids, "users
    active in 30 days" can only be bounded from below by the busiest day, and the
    signals say so. ``feature`` left empty means the whole product that day; give
    ``events`` and ``logins`` either on that row or on the feature rows, not both.
    """

    account_id: Identifier
    day: date
    active_users: Count
    feature: Name = ""
    events: Count = 0
    logins: Count = 0

    def __post_init__(self) -> None:
        if self.active_users == 0 and (self.events or self.logins):
            raise ValueError("events or logins counted on a day with no active user")


class DailyCountsIngester:
    """Stores counted usage; the account-days of a batch replace what was stored for them."""

    name = "telemetry.daily_counts"
    record_type = DailyCount
    replaced = "temp.telemetry_counts_replaced"

    def begin(self, db: Database) -> None:
        begin_batch(db, self.replaced)

    def store(self, db: Database, records: Sequence[DailyCount]) -> int:
        rows = [
            (
                r.account_id,
                day_number(r.day),
                r.feature,
                r.active_users,
                r.events,
                r.logins,
            )
            for r in records
        ]
        return replace_days(
            db,
            "telemetry_daily_counts",
            self.replaced,
            {(row[0], row[1]) for row in rows},
            "INSERT INTO telemetry_daily_counts "
            "(account_id, day, feature, active_users, events, logins) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account_id, day, feature) DO UPDATE SET "
            "active_users = excluded.active_users, events = excluded.events, "
            "logins = excluded.logins",
            rows,
        )


def begin_batch(db: Database, replaced: str) -> None:
    """Forget the account-days an earlier batch cleared: each batch replaces its own."""
    db.execute(_PAIRS_TABLE.format(name=replaced))
    db.execute(f"DELETE FROM {replaced}")


def replace_days(
    db: Database,
    table: str,
    replaced: str,
    pairs: set[tuple[str, int]],
    insert: str,
    rows: Sequence[tuple[Any, ...]],
) -> int:
    """Store a chunk's ``rows`` with ``insert``, its account-days (``pairs``) replacing
    what ``table`` held for them; returns how many rows the batch added.

    A batch may arrive in several chunks inside one transaction; ``replaced``
    remembers which account-days this batch already cleared, so a day split across
    two chunks is cleared once, not twice. As the batch's account-days were cleared,
    the rows it stored are what those days hold now (counted through the table's
    index before and after the chunk), not the records received: a row repeated
    within the batch is counted once.
    """
    conn = db.conn
    conn.execute(_PAIRS_TABLE.format(name=replaced))
    conn.execute(_PAIRS_TABLE.format(name="temp.telemetry_chunk"))
    conn.execute("DELETE FROM temp.telemetry_chunk")
    conn.executemany("INSERT OR IGNORE INTO temp.telemetry_chunk VALUES (?, ?)", pairs)
    conn.execute(
        f"DELETE FROM {table} WHERE (account_id, day) IN "
        "(SELECT account_id, day FROM temp.telemetry_chunk EXCEPT "
        f"SELECT account_id, day FROM {replaced})"
    )
    conn.execute(f"INSERT OR IGNORE INTO {replaced} SELECT * FROM temp.telemetry_chunk")
    before = _rows_of_chunk_days(conn, table)
    conn.executemany(insert, rows)
    return _rows_of_chunk_days(conn, table) - before


def _rows_of_chunk_days(conn: Any, table: str) -> int:
    """Rows ``table`` holds for the chunk's account-days."""
    row = conn.execute(
        f"SELECT count(*) FROM temp.telemetry_chunk c CROSS JOIN {table} u "
        "ON u.account_id = c.account_id AND u.day = c.day"
    ).fetchone()
    return int(row[0])


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(UsageIngester())
    register(DailyCountsIngester())
