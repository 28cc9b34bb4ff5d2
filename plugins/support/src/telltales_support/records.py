"""Support tickets as the helpdesk exports them, and how they are stored.

A ticket is sent when it opens and again whenever it changes (closes, reopens,
changes priority); the latest state replaces the earlier one, keyed by ``ticket_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec
from sqlite_utils import Database
from telltales import new_in_batch
from telltales.models import to_utc

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)
"""Every priority, least to most severe: the order evidence lists them in."""

Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Ticket(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One support ticket in its current state.

    ``opened_at`` and ``closed_at`` are normalised to UTC when the record is decoded,
    so everything downstream compares like with like: a naive timestamp is taken as
    UTC (helpdesk exports disagree on whether they carry an offset; one rule for both
    keeps "the day a ticket opened" the same whichever export it came from), and one
    outside 1900..2999 once in UTC is refused by name.
    """

    ticket_id: Identifier
    account_id: Identifier
    priority: Priority
    opened_at: datetime
    closed_at: datetime | None = None
    """None while the ticket is open; whether a ticket was open on a day is read from
    the timestamps, never from ``status``."""
    subject: Annotated[str, msgspec.Meta(max_length=1000)] | None = None
    status: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] | None = None
    """The helpdesk's own status word ("pending", "solved"...), kept for people to read."""

    def __post_init__(self) -> None:
        self.opened_at = to_utc(self.opened_at, "opened_at")
        if self.closed_at is not None:
            self.closed_at = to_utc(self.closed_at, "closed_at")
            if self.closed_at < self.opened_at:
                # msgspec reports a __post_init__ error at the record, not a field: name it.
                raise ValueError(
                    f"field 'closed_at': {self.closed_at.isoformat()} is before "
                    f"opened_at {self.opened_at.isoformat()}"
                )


class TicketsIngester:
    """Upserts by ``ticket_id``: a re-sent ticket replaces its earlier state, never doubles."""

    name = "support.tickets"
    record_type = Ticket

    def store(self, db: Database, records: Sequence[Ticket]) -> int:
        db.conn.executemany(
            """
            INSERT INTO support_tickets (
                ticket_id, account_id, priority, opened_at, closed_at, subject, status
            ) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (ticket_id) DO UPDATE SET
                account_id = excluded.account_id, priority = excluded.priority,
                opened_at = excluded.opened_at, closed_at = excluded.closed_at,
                subject = excluded.subject, status = excluded.status
            """,
            [
                (
                    t.ticket_id,
                    t.account_id,
                    t.priority,
                    t.opened_at.isoformat(),
                    t.closed_at.isoformat() if t.closed_at is not None else None,
                    t.subject,
                    t.status,
                )
                for t in records
            ],
        )
        return new_in_batch(db, ((t.ticket_id,) for t in records))
