"""Two databases that agree on everything known by a day, one of which learned more later.

``known`` holds the example data as it stood on ``CUT``: every record dated after it
left out, and every record as it was then (an outcome verified later was still
planned, a ticket closed later still open). ``learned`` holds all of the example data
and, besides, newer versions of accounts and of plugin records dated after ``CUT``:
a renewal date moved, a price raised at a renewal, a segment changed, a churn, a new
customer, a later snapshot, a sponsor leaving. A read as of ``CUT`` (or before) must
give the same answer from both.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from telltales.plugins import Registry, load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store, open_store

EXAMPLE_DATA = Path(__file__).parents[2] / "examples" / "data"
CUT = date(2026, 11, 6)
"""The day both databases must agree on; the example data runs to 2026-11-20."""

Record = dict[str, Any]

DAY_FIELD = {
    "telemetry.usage": "day",
    "contacts.people": "as_of",
    "contacts.meetings": "day",
    "firmographics.snapshots": "as_of",
    "news.items": "day",
    "support.tickets": "opened_at",
    "engagement.activities": "day",
    "engagement.outcomes": "planned_on",
}
"""The day each plugin record type is dated by."""


def _day(value: str) -> date:
    """The day of a date, or of a timestamp in UTC (as the support plugin reads it)."""
    if "T" not in value:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo is None else moment.astimezone(UTC)).date()


def example_records() -> dict[str, list[Record]]:
    """The example data by ingester name, accounts first."""
    found: dict[str, list[Record]] = {}
    for file in sorted(EXAMPLE_DATA.iterdir(), key=lambda p: (p.stem != "accounts", p.name)):
        if file.suffix == ".json":
            found[file.stem] = json.loads(file.read_text())
        elif file.suffix == ".jsonl":
            found[file.stem] = [json.loads(line) for line in file.read_text().splitlines() if line]
    return found


def as_known_on(name: str, record: Record, day: date) -> Record | None:
    """The record as it stood on ``day``: None if it did not exist yet."""
    field = DAY_FIELD.get(name)
    if field is not None and _day(record[field]) > day:
        return None
    if name == "support.tickets" and record.get("closed_at") and _day(record["closed_at"]) > day:
        return {**record, "closed_at": None, "status": "open"}
    if name == "engagement.outcomes":
        verified = record.get("verified_on")
        if verified and _day(verified) > day:
            return {**record, "status": "planned", "verified_on": None}
    return record


LATER: dict[str, list[Record]] = {
    "accounts": [
        # The issue's own example: the renewal date moved a year out after the cut.
        {"account_id": "northwind", "as_of": "2026-11-10", "renewal_date": "2028-03-31"},
        # A renewal at a higher price, a new term: its price change is news after the cut.
        {
            "account_id": "bluepeak",
            "as_of": "2026-11-12",
            "arr": 260000,
            "term_start": "2026-11-12",
            "term_end": "2027-11-11",
        },
        # Moved to another segment: its percentiles' peers change after the cut only.
        {"account_id": "ferrum", "as_of": "2026-11-09", "segment": "enterprise"},
        # Churned after the cut.
        {"account_id": "tidewater", "as_of": "2026-11-15", "lifecycle": "churned"},
    ],
    "firmographics.snapshots": [
        {
            "account_id": "northwind",
            "as_of": "2026-11-18",
            "employee_count": 400,
            "industry": "retail",
            "region": "apac",
            "products": [],
        }
    ],
    "contacts.people": [
        {
            "contact_id": "later-sponsor",
            "account_id": "bluepeak",
            "as_of": "2026-11-14",
            "name": "Lee Later",
            "roles": ["executive_sponsor"],
            "status": "active",
        }
    ],
    "engagement.outcomes": [
        # Dropped after the cut: open on the cut, not left out of it.
        {
            "outcome_id": "out-nor-5",
            "account_id": "northwind",
            "title": "Reporting rolled out to finance",
            "planned_on": "2026-08-25",
            "due": "2027-01-31",
            "status": "dropped",
            "dropped_on": "2026-11-12",
        },
        {
            "outcome_id": "later-outcome",
            "account_id": "northwind",
            "title": "Planned after the cut",
            "planned_on": "2026-11-16",
            "due": "2026-11-18",
            "status": "verified",
            "verified_on": "2026-11-18",
        },
    ],
    "news.items": [
        {
            "item_id": "later-news",
            "account_id": "northwind",
            "kind": "acquired",
            "day": "2026-11-17",
            "headline": "Northwind acquired",
            "url": "https://news.example/northwind-acquired",
            "source": "Wire",
            "severity": 0.9,
        }
    ],
    "support.tickets": [
        {
            "ticket_id": "later-ticket",
            "account_id": "northwind",
            "priority": "urgent",
            "opened_at": "2026-11-19T10:00:00Z",
        }
    ],
}
"""Records dated after ``CUT``; account entries are changes to the example version."""

NEW_CUSTOMER: Record = {
    "account_id": "latecomer",
    "name": "Latecomer Ltd",
    "segment": "mid-market",
    "csm_group": "emea-midmarket",
    "seats_purchased": 40,
    "customer_since": "2026-11-13",
    "core_features": ["dashboards"],
}
"""A customer from after the cut: not live, not a peer, not listed as of the cut."""


def _later_accounts(examples: list[Record]) -> list[Record]:
    by_id = {record["account_id"]: record for record in examples}
    versions = [{**by_id[change["account_id"]], **change} for change in LATER["accounts"]]
    return [*versions, NEW_CUSTOMER]


def open_world(path: Path, registry: Registry | None = None) -> tuple[Store, Registry]:
    registry = registry or load_registry()
    migrations = [entry.obj for entry in registry.migrations.values()]
    return open_store(path, migrations, create=True), registry


def _store(store: Store, registry: Registry, name: str, records: list[Record]) -> None:
    if records:
        ingest(store, registry, name, convert_records(registry, name, records))


def build_known(path: Path, day: date = CUT) -> tuple[Store, Registry]:
    """The example data as it stood on ``day``."""
    store, registry = open_world(path)
    for name, records in example_records().items():
        kept = [r for r in (as_known_on(name, record, day) for record in records) if r]
        _store(store, registry, name, kept)
    return store, registry


def build_learned(path: Path) -> tuple[Store, Registry]:
    """Everything: the example data, then what was learned after ``CUT``."""
    store, registry = open_world(path)
    examples = example_records()
    for name, records in examples.items():
        _store(store, registry, name, records)
    _store(store, registry, "accounts", _later_accounts(examples["accounts"]))
    for name, records in LATER.items():
        if name != "accounts":
            _store(store, registry, name, records)
    return store, registry
