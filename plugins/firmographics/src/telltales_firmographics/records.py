"""The snapshot record and its ingester.

A snapshot describes an account as of one day. Providers refresh on their own
schedule, so the history is kept: a new day adds a snapshot, the same day again
replaces it (a corrected export), and nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated

import msgspec
from sqlite_utils import Database
from telltales import new_in_batch

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Snapshot(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An account's size, industry, region and products owned, as of one day."""

    account_id: Text
    as_of: date
    """The day the snapshot describes (not the day it was sent)."""
    employee_count: Annotated[int, msgspec.Meta(ge=0)] | None = None
    annual_revenue: Annotated[float, msgspec.Meta(ge=0)] | None = None
    industry: Text
    region: Text
    country: Text | None = None
    products: list[Text]
    """Our products the account owns; an empty list is a real observation (none)."""
    source: Text | None = None
    """Where the snapshot came from (``clearbit``, ``crm``), for the reader's trust."""


def distinct_products(products: Sequence[str]) -> list[str]:
    """Drop repeats, ignoring case, keeping the first spelling and the order.

    "API" and "api" are one product: counting both would inflate products owned.
    """
    seen: set[str] = set()
    kept: list[str] = []
    for product in products:
        folded = product.casefold()
        if folded not in seen:
            seen.add(folded)
            kept.append(product)
    return kept


class SnapshotsIngester:
    """Upserts on (account_id, as_of): re-sending replaces that day, new days add history."""

    name = "firmographics.snapshots"
    record_type = Snapshot

    def store(self, db: Database, records: Sequence[Snapshot]) -> int:
        db.conn.executemany(
            """
            INSERT INTO firmographics_snapshots (
                account_id, as_of, employee_count, annual_revenue, industry, region,
                country, products, source
            ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (account_id, as_of) DO UPDATE SET
                employee_count = excluded.employee_count,
                annual_revenue = excluded.annual_revenue,
                industry = excluded.industry, region = excluded.region,
                country = excluded.country, products = excluded.products,
                source = excluded.source
            """,
            [
                (
                    r.account_id,
                    r.as_of.isoformat(),
                    r.employee_count,
                    r.annual_revenue,
                    r.industry,
                    r.region,
                    r.country,
                    msgspec.json.encode(distinct_products(r.products)).decode(),
                    r.source,
                )
                for r in records
            ],
        )
        return new_in_batch(db, ((r.account_id, r.as_of) for r in records))
