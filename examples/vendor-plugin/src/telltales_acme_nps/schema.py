"""The plugin's own table, as a ``sqlite_utils.Migrations`` set named after the plugin."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

# [docs:migrations]
migrations = Migrations("acme_nps")


@migrations()
def m001_responses(db: Database) -> None:
    responses = db.table("acme_nps_responses")
    responses.create(
        {"response_id": str, "account_id": str, "respondent": str, "score": int, "day": str},
        pk="response_id",
        foreign_keys=[("account_id", "accounts", "account_id")],
    )
    # The signal source reads one window of days per account of a batch.
    responses.create_index(["account_id", "day"])
    # [/docs:migrations]
