"""The plugin's tables: one row per CSM activity and one per success-plan outcome."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("engagement")


@migrations()
def m001_activities_and_outcomes(db: Database) -> None:
    db.table("engagement_activities").create(
        {
            "activity_id": str,
            "account_id": str,
            "day": str,
            "kind": str,
            "by": str,
            "summary": str,
        },
        pk="activity_id",
        not_null={"account_id", "day", "kind"},
        foreign_keys=[("account_id", "accounts", "account_id")],
    )
    # The source reads an account's activities up to a day: latest touch, window counts.
    db.table("engagement_activities").create_index(["account_id", "day"])
    db.table("engagement_outcomes").create(
        {
            "outcome_id": str,
            "account_id": str,
            "title": str,
            "planned_on": str,
            "due": str,
            "status": str,
            "verified_on": str,
            "metric": str,
        },
        pk="outcome_id",
        not_null={"account_id", "title", "planned_on", "due", "status"},
        foreign_keys=[("account_id", "accounts", "account_id")],
    )
    # Outcomes exist from the day they were planned: the source filters on it per account.
    db.table("engagement_outcomes").create_index(["account_id", "planned_on"])


@migrations()
def m002_history_dropped_on(db: Database) -> None:
    """The day an outcome was dropped, so a run as of an earlier day still counts it.

    An outcome stored as dropped before this migration counted as dropped on every
    day; it is given its ``planned_on`` as the day, so replays read what they read.
    """
    db.execute("ALTER TABLE engagement_outcomes ADD COLUMN dropped_on TEXT")
    db.execute("UPDATE engagement_outcomes SET dropped_on = planned_on WHERE status = 'dropped'")
