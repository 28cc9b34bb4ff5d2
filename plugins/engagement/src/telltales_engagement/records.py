"""The records the plugin ingests, and the ingesters that upsert them.

Both record types carry their source system's own id, so an export can be sent
again (or an outcome's status moved on) without creating duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
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
    """Upserts by ``outcome_id``: re-sending an outcome with a new status replaces it."""

    name = "engagement.outcomes"
    record_type = Outcome

    def store(self, db: Database, records: Sequence[Outcome]) -> int:
        db.conn.executemany(
            """
            INSERT INTO engagement_outcomes
                (outcome_id, account_id, title, planned_on, due, status, verified_on, metric)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (outcome_id) DO UPDATE SET
                account_id = excluded.account_id, title = excluded.title,
                planned_on = excluded.planned_on, due = excluded.due,
                status = excluded.status, verified_on = excluded.verified_on,
                metric = excluded.metric
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
                )
                for r in records
            ],
        )
        return new_in_batch(db, ((r.outcome_id,) for r in records))
