"""The ``account`` source's contract signals, each read from the version in force that day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from telltales.engine.pipeline import run
from telltales.models import Signal
from telltales.plugins import Registry, load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store, open_store
from telltales.store.queries import signals_for

FIRST_TERM: dict[str, Any] = {
    "account_id": "a1",
    "name": "Alpha",
    "as_of": "2025-01-01",
    "customer_since": "2025-01-01",
    "arr": 40000,
    "list_price": 50000,
    "discount_percent": 20,
    "term_start": "2025-01-01",
    "term_end": "2025-12-31",
    "renewal_date": "2026-01-01",
    "seats_purchased": 50,
    "seats_assigned": 30,
}
SECOND_TERM: dict[str, Any] = {
    **FIRST_TERM,
    "as_of": "2026-01-01",
    "arr": 46000,
    "list_price": 46000,
    "discount_percent": None,
    "term_start": "2026-01-01",
    "term_end": "2026-12-31",
    "renewal_date": "2027-01-01",
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, Registry]]:
    registry = load_registry(use_entry_points=False)
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(tmp_path / "t.db", migrations, create=True) as store:
        records = convert_records(registry, "accounts", [FIRST_TERM, SECOND_TERM])
        ingest(store, registry, "accounts", records)
        yield store, registry


def _signals(world: tuple[Store, Registry], day: date) -> dict[str, Signal]:
    store, registry = world
    run(store, registry, day)
    return {s.key: s for s in signals_for(store, "a1", day)}


def test_the_first_term_as_it_stood(world: tuple[Store, Registry]) -> None:
    found = _signals(world, date(2025, 3, 1))
    assert {key: s.value for key, s in found.items()} == {
        "account.seat_deployment": 0.6,
        "account.days_to_renewal": 306,
        "account.term_position": 0.1644,
        "account.discount": 0.2,
        "account.customer_days": 60,
    }
    assert found["account.term_position"].evidence == (
        "day 60 of the 365-day term from 2025-01-01 to 2025-12-31 (16% gone by)"
    )
    assert found["account.discount"].evidence == (
        "20% discount on a list price of 50,000 (ARR 40,000)"
    )
    assert found["account.customer_days"].evidence == (
        "customer for 60 days (since 2025-01-01): trend not yet meaningful; usage windows "
        "start at the customer-since day, not 90 days back"
    )


def test_the_renewal_brings_a_new_term_and_its_price_change(
    world: tuple[Store, Registry],
) -> None:
    found = _signals(world, date(2026, 2, 1))
    assert found["account.price_change_at_renewal"].value == 0.15
    assert found["account.price_change_at_renewal"].evidence == (
        "ARR 46,000 in the term from 2026-01-01, against 40,000 in the term from 2025-01-01 (+15%)"
    )
    assert found["account.discount"].value == 0
    assert found["account.discount"].evidence == (
        "ARR 46,000 against a list price of 46,000: 0% off"
    )
    assert found["account.days_to_renewal"].value == 334
    assert found["account.customer_days"].evidence == "customer for 397 days (since 2025-01-01)"
