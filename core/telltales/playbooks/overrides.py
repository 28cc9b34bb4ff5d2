"""A person's overrides of an account's status: set through a last day, and read back.

People name the last day an override holds ("At-Risk through 31 March"); the store
keeps the moment it expires, the start of the next day in UTC. The command line
(``telltales override``) and the account page both set one through
:func:`override_through`, so the two record the same override and transition.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import msgspec

from telltales.models import Account, HealthStatus, StatusTransition
from telltales.playbooks.statuses import override_status
from telltales.store import Store


class Override(msgspec.Struct, kw_only=True, frozen=True):
    """One override as stored: in force until it expires, is replaced, or ends."""

    override_id: int
    account_id: str
    status: HealthStatus
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    """``expired`` (the first run after it ended it) or ``replaced`` (a newer override)."""


def expiry_after(last_day: date) -> datetime:
    """When an override that holds through ``last_day`` expires: the next day's start, UTC."""
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC)


def override_through(
    store: Store, account: Account, status: str, *, reason: str, last_day: date, by: str
) -> StatusTransition:
    """Pin the account's status through ``last_day`` (checked and recorded as
    :func:`telltales.playbooks.statuses.override_status` does)."""
    return override_status(
        store, account, status, reason=reason, until=expiry_after(last_day), by=by
    )


_COLUMNS = (
    "override_id, account_id, status, reason, created_by, created_at, expires_at, "
    "ended_at, end_reason"
)


def overrides_of(store: Store, account_id: str) -> list[Override]:
    """Every override of the account, newest first."""
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM overrides WHERE account_id = ? ORDER BY override_id DESC",
        [account_id],
    )
    names = _COLUMNS.split(", ")
    return [
        msgspec.convert(dict(zip(names, row, strict=True)), Override, strict=False) for row in rows
    ]
