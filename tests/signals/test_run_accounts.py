"""What ``accounts`` means to a signal source during a run, and that it means it only then.

A plugin's SQL reads ``accounts`` unchanged; during a run the name stands for the
run day's version of each account live that day (store.history). After the run, even
one whose source failed mid-query or overran its time limit, the connection reads
the real table again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from telltales import BATCH_TABLE, Signal, SignalBatch, SignalSpec, hookimpl
from telltales.engine.pipeline import run
from telltales.playbooks.plan import EngineSpec
from telltales.plugins import Registry, load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store, open_store
from telltales.store.queries import signals_for

DAY = date(2026, 6, 1)
ACCOUNTS = [
    {"account_id": "a1", "name": "A", "as_of": "2026-01-01", "renewal_date": "2026-12-01"},
    {"account_id": "a1", "name": "A", "as_of": "2026-07-01", "renewal_date": "2027-12-01"},
    {"account_id": "a2", "name": "B", "as_of": "2026-01-01", "lifecycle": "churned"},
    {"account_id": "a3", "name": "C", "customer_since": "2026-08-01"},
    {"account_id": "a4", "name": "D"},
    {"account_id": "a5", "name": "E"},
]
"""On DAY: a1 in its first version, a4 and a5 live; a2 churned, a3 not a customer yet."""


class Reader:
    """A source that reads ``accounts`` as any plugin may: one signal per row it sees.

    Failing or hanging at the first row leaves its query open (SQLite has the next
    row ready), as a real source's would be.
    """

    name = "reader"
    signals = (SignalSpec(key="reader.row", dimension="fit", description="a row seen"),)

    def __init__(self) -> None:
        self.fail = False
        self.hang: threading.Event | None = None

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        rows = batch.db.execute(
            f"SELECT a.account_id, a.renewal_date, (SELECT count(*) FROM accounts) "
            f"FROM accounts a JOIN {BATCH_TABLE} b USING (account_id)"
        )
        for account_id, renewal, seen in rows:
            if self.fail:
                raise RuntimeError("the source broke halfway")
            if self.hang is not None:
                self.hang.wait(10)
            yield Signal(
                account_id=account_id,
                key="reader.row",
                value=seen,
                dimension="fit",
                evidence=f"renews {renewal}",
            )


class Plugin:
    def __init__(self, source: Reader) -> None:
        self.source = source

    @hookimpl
    def register_signal_sources(self, register: object) -> None:
        register(self.source)  # type: ignore[operator]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Store, Registry, Reader]]:
    reader = Reader()
    registry = load_registry(extra=[("reader", Plugin(reader))], use_entry_points=False)
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(tmp_path / "t.db", migrations, create=True) as store:
        ingest(store, registry, "accounts", convert_records(registry, "accounts", ACCOUNTS))
        yield store, registry, reader


def _real_count(store: Store) -> int:
    (count,) = store.reader.execute("SELECT count(*) FROM accounts").fetchone()
    return int(count)


def test_a_source_reads_the_days_versions_of_the_live_accounts(
    world: tuple[Store, Registry, Reader],
) -> None:
    store, registry, _ = world
    result = run(store, registry, DAY)
    assert (result.accounts, result.not_live) == (3, 2)
    (seen,) = [s for s in signals_for(store, "a1", DAY) if s.key == "reader.row"]
    assert (seen.value, seen.evidence) == (3, "renews 2026-12-01")
    assert _real_count(store) == 5


def test_after_a_source_failed_mid_query_the_real_table_is_read_again(
    world: tuple[Store, Registry, Reader],
) -> None:
    store, registry, reader = world
    reader.fail = True
    assert run(store, registry, DAY).status == "degraded"
    assert _real_count(store) == 5


def test_after_a_source_overran_its_limit_mid_query_the_real_table_is_read_again(
    world: tuple[Store, Registry, Reader],
) -> None:
    store, registry, reader = world
    reader.hang = threading.Event()
    try:
        limits = EngineSpec(source_time_limits={"reader": 0.2})
        result = run(store, registry, DAY, limits=limits)
        assert result.status == "degraded"
        assert _real_count(store) == 5
    finally:
        reader.hang.set()
