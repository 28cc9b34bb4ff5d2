"""Usage rows and their bulk ingester: a day re-sent for an account replaces that day."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any

import msgspec
from sqlite_utils import Database
from telltales import Ingester, hookimpl

from .schema import EPOCH

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
    transaction; ``temp.telemetry_replaced`` remembers which account-days this batch
    already cleared, so a day split across two chunks is cleared once, not twice.
    Rows repeated within a batch (same account, user, feature and day) keep the last,
    and are counted once: since the batch's account-days are cleared first, the rows
    stored are what those days hold after it (counted through their index, chunk by
    chunk), not the records received.
    """

    name = "telemetry.usage"
    record_type = UsageRow

    def begin(self, db: Database) -> None:
        db.execute(_PAIRS_TABLE.format(name="temp.telemetry_replaced"))
        db.execute("DELETE FROM temp.telemetry_replaced")

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
        conn = db.conn
        conn.execute(_PAIRS_TABLE.format(name="temp.telemetry_replaced"))
        conn.execute(_PAIRS_TABLE.format(name="temp.telemetry_chunk"))
        conn.execute("DELETE FROM temp.telemetry_chunk")
        conn.executemany(
            "INSERT OR IGNORE INTO temp.telemetry_chunk VALUES (?, ?)",
            {(row[0], row[3]) for row in rows},
        )
        # The chunk's account-days this batch has not cleared yet: clear them.
        conn.execute(
            "DELETE FROM telemetry_usage WHERE (account_id, day) IN "
            "(SELECT account_id, day FROM temp.telemetry_chunk EXCEPT "
            "SELECT account_id, day FROM temp.telemetry_replaced)"
        )
        conn.execute(
            "INSERT OR IGNORE INTO temp.telemetry_replaced SELECT * FROM temp.telemetry_chunk"
        )
        before = _rows_of_chunk_days(conn)
        conn.executemany(
            "INSERT INTO telemetry_usage "
            "(account_id, user_id, feature, day, team, events, logins) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account_id, user_id, feature, day) DO UPDATE SET "
            "team = excluded.team, events = excluded.events, logins = excluded.logins",
            rows,
        )
        return _rows_of_chunk_days(conn) - before


def _rows_of_chunk_days(conn: Any) -> int:
    """Rows stored for the chunk's account-days (all of this batch: they were cleared)."""
    row = conn.execute(
        "SELECT count(*) FROM temp.telemetry_chunk c CROSS JOIN telemetry_usage u "
        "ON u.account_id = c.account_id AND u.day = c.day"
    ).fetchone()
    return int(row[0])


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(UsageIngester())
