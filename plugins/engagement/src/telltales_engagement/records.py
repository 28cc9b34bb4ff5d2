"""The records the plugin ingests, and the ingesters that upsert them.

Both record types carry their source system's own id, so an export can be sent
again (or an outcome's status moved on) without creating duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Literal

import msgspec
from sqlite_utils import Database
from telltales import new_in_batch
from telltales.models import check_dates

Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]

ActivityKind = Literal["call", "email", "meeting", "value_review", "business_review", "onsite"]

ACTIVITY_KINDS: tuple[ActivityKind, ...] = ActivityKind.__args__  # type: ignore[attr-defined]

OutcomeStatus = Literal["planned", "verified", "missed", "dropped"]


class Activity(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One thing a CSM did with the customer, as the CRM's activity log records it."""

    activity_id: Identifier
    account_id: Identifier
    day: date
    kind: ActivityKind
    by: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    """The CSM who did it (email or name)."""
    summary: Annotated[str, msgspec.Meta(max_length=5000)] | None = None


class Outcome(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One outcome of an account's success plan, with where it stands now.

    ``verified_on`` is what makes ROI replayable: a run as of an earlier day counts
    the outcome as verified only from that day on.
    """

    outcome_id: Identifier
    account_id: Identifier
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    planned_on: date
    """The day the customer agreed to the outcome; before it, the outcome does not exist."""
    due: date
    status: OutcomeStatus
    verified_on: date | None = None
    dropped_on: date | None = None
    """The day the outcome was dropped (status ``dropped`` only). Left out, it is the
    day the drop is first stored; for an outcome first sent already dropped, its
    ``planned_on`` (it never counted)."""
    metric: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    """How achievement is measured, e.g. "report build time, minutes"."""

    def __post_init__(self) -> None:
        # msgspec reports these at the record's index; "field 'name': " moves them onto
        # the field. A day out of range is refused as such before any comparison.
        check_dates(self)
        if self.due < self.planned_on:
            raise ValueError(f"field 'due': {self.due} is before planned_on {self.planned_on}")
        if self.status == "verified":
            if self.verified_on is None:
                raise ValueError("field 'verified_on': required when status is 'verified'")
            if self.verified_on < self.planned_on:
                raise ValueError(
                    f"field 'verified_on': {self.verified_on} is before planned_on "
                    f"{self.planned_on}"
                )
        elif self.verified_on is not None:
            raise ValueError(
                "field 'verified_on': only allowed when status is 'verified' "
                f"(status is {self.status!r})"
            )
        if self.dropped_on is not None:
            if self.status != "dropped":
                raise ValueError(
                    f"field 'dropped_on' is only allowed when status is 'dropped' "
                    f"(status is {self.status!r})"
                )
            if self.dropped_on < self.planned_on:
                raise ValueError(
                    f"field 'dropped_on' ({self.dropped_on}) is before planned_on "
                    f"({self.planned_on})"
                )


class ActivitiesIngester:
    """Upserts by ``activity_id``: a corrected activity replaces the old one."""

    name = "engagement.activities"
    record_type = Activity

    def store(self, db: Database, records: Sequence[Activity]) -> int:
        db.conn.executemany(
            """
            INSERT INTO engagement_activities (activity_id, account_id, day, kind, "by", summary)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (activity_id) DO UPDATE SET
                account_id = excluded.account_id, day = excluded.day, kind = excluded.kind,
                "by" = excluded."by", summary = excluded.summary
            """,
            [
                (r.activity_id, r.account_id, r.day.isoformat(), r.kind, r.by, r.summary)
                for r in records
            ],
        )
        return new_in_batch(db, ((r.activity_id,) for r in records))


class OutcomesIngester:
    """Upserts by ``outcome_id``: re-sending an outcome with a new status replaces it.

    Each status carries the day it became true, so a run as of an earlier day reads the
    outcome as it stood then: ``planned_on``, ``verified_on``, the due date for a miss,
    and ``dropped_on`` for a drop, which is kept from the first time it was stored.
    """

    name = "engagement.outcomes"
    record_type = Outcome

    def store(self, db: Database, records: Sequence[Outcome]) -> int:
        dropped = _dropped_days(db, records)
        db.conn.executemany(
            """
            INSERT INTO engagement_outcomes (outcome_id, account_id, title, planned_on, due,
                status, verified_on, metric, dropped_on)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (outcome_id) DO UPDATE SET
                account_id = excluded.account_id, title = excluded.title,
                planned_on = excluded.planned_on, due = excluded.due,
                status = excluded.status, verified_on = excluded.verified_on,
                metric = excluded.metric, dropped_on = excluded.dropped_on
            """,
            [
                (
                    r.outcome_id,
                    r.account_id,
                    r.title,
                    r.planned_on.isoformat(),
                    r.due.isoformat(),
                    r.status,
                    r.verified_on.isoformat() if r.verified_on else None,
                    r.metric,
                    dropped.get(r.outcome_id),
                )
                for r in records
            ],
        )
        return new_in_batch(db, ((r.outcome_id,) for r in records))


def _dropped_days(db: Database, records: Sequence[Outcome]) -> dict[str, str]:
    """The day each dropped outcome of the batch was dropped, as it will be stored.

    Given, it is taken; otherwise the day already stored for a drop sent before, the
    outcome's ``planned_on`` when it was never stored other than dropped, and else
    today: the day telltales learned of the drop ("true from today").
    """
    ids = [r.outcome_id for r in records if r.status == "dropped"]
    stored = {
        outcome_id: (status, dropped_on)
        for outcome_id, status, dropped_on in db.execute(
            "SELECT outcome_id, status, dropped_on FROM engagement_outcomes "
            "WHERE outcome_id IN (SELECT value FROM json_each(?))",
            [msgspec.json.encode(ids).decode()],
        )
    }
    today = datetime.now(UTC).date().isoformat()
    days: dict[str, str] = {}
    for record in records:
        if record.status != "dropped":
            days.pop(record.outcome_id, None)
            stored[record.outcome_id] = (record.status, None)
            continue
        before = stored.get(record.outcome_id)
        if record.dropped_on is not None:
            day = record.dropped_on.isoformat()
        elif before is None:
            day = record.planned_on.isoformat()
        elif before[0] == "dropped" and before[1] is not None:
            day = before[1]
        else:
            day = today
        days[record.outcome_id] = day
        stored[record.outcome_id] = ("dropped", day)
    return days
