"""Valid time for accounts: versions from the day they became true, read as of any day."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Migrations
from telltales import clock
from telltales.default_plugins.schema import migrations as core_migrations
from telltales.errors import InputError
from telltales.models import FIRST_DAY, Account
from telltales.plugins import Registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store, history, open_store, queries

BASE: dict[str, Any] = {"account_id": "a1", "name": "Alpha", "renewal_date": "2027-03-01"}


def _ingest(store: Store, registry: Registry, *records: dict[str, Any]) -> int:
    return ingest(
        store, registry, "accounts", convert_records(registry, "accounts", records)
    ).stored


def _versions(store: Store) -> list[tuple[str, str, str | None]]:
    return [
        (a.account_id, str(a.as_of), str(a.renewal_date))
        for a in history.versions_of(store.db, "a1")
    ]


def test_a_later_version_leaves_earlier_days_as_they_were(store: Store, registry: Registry) -> None:
    _ingest(store, registry, {**BASE, "as_of": "2026-01-01"})
    _ingest(store, registry, {**BASE, "as_of": "2026-04-01", "renewal_date": "2028-03-01"})
    early = queries.get_account(store, "a1", date(2026, 3, 31))
    late = queries.get_account(store, "a1", date(2026, 4, 1))
    assert (early.as_of, early.renewal_date) == (date(2026, 1, 1), date(2027, 3, 1))
    assert (late.as_of, late.renewal_date) == (date(2026, 4, 1), date(2028, 3, 1))
    # The accounts table keeps the latest version, for every foreign key and plugin.
    (latest,) = store.db.execute("SELECT renewal_date FROM accounts").fetchone()
    assert latest == "2028-03-01"


def test_sending_a_version_again_stores_nothing_new(store: Store, registry: Registry) -> None:
    # Each batch's record is held as one version (stored 1, as an upsert would say);
    # equal to the version in force on its day, it adds none, on a later day neither.
    for record in (
        {**BASE, "as_of": "2026-01-01"},
        {**BASE, "as_of": "2026-01-01"},
        {**BASE, "as_of": "2026-02-01"},
        BASE,
    ):
        assert _ingest(store, registry, record) == 1
        assert len(_versions(store)) == 1


def test_counts_tell_new_accounts_from_new_versions(store: Store) -> None:
    first = history.store_versions(store.db, [Account(account_id="a1", name="A")])
    again = history.store_versions(
        store.db,
        [Account(account_id="a1", name="A"), Account(account_id="a1", name="B")],
        today=date(2026, 5, 1),
    )
    assert (first.created, first.changed, first.unchanged) == (1, 0, 0)
    assert (again.created, again.changed, again.unchanged) == (0, 1, 1)


def test_a_first_version_without_a_day_holds_from_the_start_or_its_customer_since(
    store: Store, registry: Registry
) -> None:
    _ingest(
        store, registry, BASE, {"account_id": "a2", "name": "B", "customer_since": "2026-02-01"}
    )
    assert queries.get_account(store, "a1", date(1990, 1, 1)).as_of == FIRST_DAY
    assert queries.get_account(store, "a2", date(2026, 2, 1)).as_of == date(2026, 2, 1)


def test_a_later_version_without_a_day_is_true_from_today(store: Store, registry: Registry) -> None:
    _ingest(store, registry, BASE)
    _ingest(store, registry, {**BASE, "renewal_date": "2029-01-01"})
    today = clock.today()
    assert _versions(store) == [
        ("a1", str(FIRST_DAY), "2027-03-01"),
        ("a1", str(today), "2029-01-01"),
    ]


def test_a_second_record_for_a_day_corrects_it(store: Store, registry: Registry) -> None:
    _ingest(store, registry, {**BASE, "as_of": "2026-01-01"})
    _ingest(store, registry, {**BASE, "as_of": "2026-01-01", "renewal_date": "2027-04-01"})
    assert _versions(store) == [("a1", "2026-01-01", "2027-04-01")]


def test_live_accounts_are_customers_neither_churned_nor_paused(
    store: Store, registry: Registry
) -> None:
    _ingest(
        store,
        registry,
        {"account_id": "new", "name": "N", "customer_since": "2026-06-01"},
        {"account_id": "gone", "name": "G", "as_of": "2026-01-01"},
        {"account_id": "gone", "name": "G", "as_of": "2026-05-01", "lifecycle": "churned"},
        {"account_id": "rest", "name": "R", "as_of": "2026-01-01"},
        {"account_id": "rest", "name": "R", "as_of": "2026-03-01", "lifecycle": "paused"},
        {"account_id": "rest", "name": "R", "as_of": "2026-04-01"},
    )
    assert history.live_ids(store.db, date(2026, 3, 15)) == ["gone"]
    assert history.live_ids(store.db, date(2026, 4, 15)) == ["gone", "rest"]
    assert history.live_ids(store.db, date(2026, 6, 1)) == ["new", "rest"]
    assert history.live_ids(store.db, date(2025, 12, 31)) == []


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"mrr": 100, "arr": 5000}, "field 'mrr': 100 a month is 1200 a year, but arr is 5000"),
        (
            {"term_start": "2026-02-01", "term_end": "2026-01-01"},
            "field 'term_end' (2026-01-01) is before term_start (2026-02-01)",
        ),
        ({"lifecycle": "gone"}, "field 'lifecycle'"),
        ({"mrr": 1e308}, "field 'mrr': 1e\\+308 a month is too large a number"),
        ({"discount_percent": 120}, "field 'discount_percent'"),
    ],
)
def test_contract_fields_are_checked_by_name(
    registry: Registry, record: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        convert_records(registry, "accounts", [{**BASE, **record}])


def test_mrr_alone_gives_the_arr(registry: Registry) -> None:
    (account,) = convert_records(registry, "accounts", [{**BASE, "mrr": 250}])
    assert account.arr == 3000


def test_an_existing_database_keeps_its_accounts_as_versions_from_the_start(
    tmp_path: Path, registry: Registry
) -> None:
    older = Migrations("telltales")
    older._migrations = [m for m in core_migrations._migrations if m.name < "m007"]
    path = tmp_path / "old.db"
    with open_store(path, [older], create=True) as store:
        store.db.execute(
            "INSERT INTO accounts (account_id, name, renewal_date, updated_at) "
            "VALUES ('a1', 'Alpha', '2027-03-01', '2026-06-01T10:00:00+00:00')"
        )
    with open_store(path, [entry.obj for entry in registry.migrations.values()]) as store:
        (row,) = store.db.execute(
            "SELECT account_id, as_of, renewal_date, source, recorded_at FROM account_versions"
        ).fetchall()
        assert row == ("a1", "1900-01-01", "2027-03-01", "migration", "2026-06-01T10:00:00+00:00")
        assert queries.get_account(store, "a1", date(2020, 1, 1)).renewal_date == date(2027, 3, 1)
        assert history.live_ids(store.db, date(2020, 1, 1)) == ["a1"]
