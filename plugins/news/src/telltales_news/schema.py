"""The ``news`` migrations: one table of news items, keyed by the feed's own id."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("news")


@migrations()
def m001_items(db: Database) -> None:
    db.table("news_items").create(
        {
            "item_id": str,
            "account_id": str,
            "kind": str,
            "day": str,
            "headline": str,
            "url": str,
            "source": str,
            "severity": float,
        },
        pk="item_id",
        not_null={"account_id", "kind", "day", "headline", "url", "source", "severity"},
        foreign_keys=[("account_id", "accounts", "account_id")],
    )
    # The source reads every account of a batch over a range of days.
    db.table("news_items").create_index(["account_id", "day"])
