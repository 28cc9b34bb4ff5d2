"""The plugin's tables, as a migration set applied whenever a database is opened."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("support")


@migrations()
def m001_tickets(db: Database) -> None:
    # Timestamps are UTC ISO 8601 text, so comparing them with an ISO day ("2026-11-21")
    # selects by UTC day without parsing; the index serves every window of the batch query.
    tickets = db.table("support_tickets")
    tickets.create(
        {
            "ticket_id": str,
            "account_id": str,
            "priority": str,
            "opened_at": str,
            "closed_at": str,
            "subject": str,
            "status": str,
        },
        pk="ticket_id",
        not_null={"account_id", "priority", "opened_at"},
        foreign_keys=[("account_id", "accounts", "account_id")],
    )
    tickets.create_index(["account_id", "opened_at"])
