"""No read as of a day sees a record from after it: for every built-in source and score.

Two databases agree on everything known by ``CUT``; one of them then learned newer
account versions (a renewal date moved, a price raised, a segment changed, a churn,
a new customer) and newer plugin records. Runs as of ``CUT`` and before must store
exactly the same signals and scores in both (tests/support/history_world.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from telltales.config import load_config
from telltales.engine import pipeline
from telltales.plugins import Registry
from telltales.signals.settings import scorer_settings, source_settings
from telltales.store import Store

from tests.support.history_world import CUT, build_known, build_learned

DAYS = (CUT - timedelta(days=30), CUT)
SOURCES = ("account", "telemetry", "firmographics", "news", "contacts", "support", "engagement")


def _run_days(store: Store, registry: Registry) -> None:
    config = load_config(None)
    for day in DAYS:
        pipeline.run(
            store,
            registry,
            day,
            settings=source_settings(config, registry),
            scorer_settings=scorer_settings(config, registry),
        )


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Store]]:
    folder: Path = tmp_path_factory.mktemp("as_of")
    known, registry = build_known(folder / "known.db")
    learned, _ = build_learned(folder / "learned.db")
    _run_days(known, registry)
    _run_days(learned, registry)
    yield known, learned
    known.close()
    learned.close()


def _signals(store: Store, source: str) -> list[tuple[object, ...]]:
    return store.db.execute(
        "SELECT as_of, account_id, key, value, dimension, evidence FROM signals "
        "WHERE source = ? ORDER BY as_of, account_id, key",
        [source],
    ).fetchall()


@pytest.mark.parametrize("source", SOURCES)
def test_a_source_as_of_a_day_reads_nothing_learned_after_it(
    worlds: tuple[Store, Store], source: str
) -> None:
    known, learned = worlds
    expected = _signals(known, source)
    assert expected, f"the example data gives {source} signals to compare"
    assert _signals(learned, source) == expected


def test_scores_as_of_a_day_read_nothing_learned_after_it(worlds: tuple[Store, Store]) -> None:
    known, learned = worlds
    sql = (
        "SELECT as_of, scorer, account_id, value, grade, coverage, breakdown, config_id "
        "FROM scores ORDER BY as_of, scorer, account_id"
    )
    expected = known.db.execute(sql).fetchall()
    assert len(expected) == 2 * 6
    assert learned.db.execute(sql).fetchall() == expected


def test_a_renewal_date_moved_later_does_not_leak(worlds: tuple[Store, Store]) -> None:
    """The issue's example: the signal says the days that were true then."""
    _, learned = worlds
    (evidence,) = learned.db.execute(
        "SELECT evidence FROM signals WHERE account_id = 'northwind' "
        "AND key = 'account.days_to_renewal' AND as_of = ?",
        [CUT.isoformat()],
    ).fetchone()
    days = (date(2027, 3, 31) - CUT).days
    assert evidence == f"renews in {days} days (renewal date 2027-03-31, as of {CUT})"


def test_a_customer_from_after_the_day_is_neither_scored_nor_a_peer(
    worlds: tuple[Store, Store],
) -> None:
    _, learned = worlds
    runs = learned.db.execute("SELECT accounts FROM runs ORDER BY run_id").fetchall()
    assert runs == [(6,), (6,)]
    (scored,) = learned.db.execute(
        "SELECT count(*) FROM scores WHERE account_id = 'latecomer'"
    ).fetchone()
    assert scored == 0
