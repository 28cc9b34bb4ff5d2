"""``telltales accounts``: the filters and sorts of GET /v1/accounts, on the example book."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.health_example import ingested_example, run_example
from telltales.cli import cli
from telltales.config import load_config
from telltales.plugins import load_registry
from telltales.store import open_store


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = ingested_example(tmp_path_factory)
    registry = load_registry()
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(path, migrations) as store:
        run_example(store, registry, load_config(None))
    return path


def listed(book: Path, *options: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(
        cli, ["--db", str(book), "accounts", "--as-of", "2026-11-20", "--json", *options]
    )
    assert result.exit_code == 0, result.output
    accounts: list[dict[str, object]] = json.loads(result.output)
    return accounts


def test_sorting_by_arr_puts_the_most_revenue_first(book: Path) -> None:
    everything = listed(book)
    by_arr = listed(book, "--sort", "-arr")
    assert sorted(a["account_id"] for a in by_arr) == sorted(a["account_id"] for a in everything)
    arrs = [float(str(a["arr"])) for a in by_arr]
    assert arrs == sorted(arrs, reverse=True)
    assert arrs[0] > arrs[-1]


def test_the_filters_keep_only_what_they_name(book: Path) -> None:
    everything = listed(book)
    group = str(everything[0]["csm_group"])
    in_group = listed(book, "--csm-group", group)
    assert {a["account_id"] for a in in_group} == {
        a["account_id"] for a in everything if a["csm_group"] == group
    }
    owner = str(everything[0]["owner"])
    assert {a["owner"] for a in listed(book, "--owner", owner)} == {owner}
    # ferrum renews 2026-12-20 (30 days after the 20th), bluepeak 2027-01-15 (56).
    assert [a["account_id"] for a in listed(book, "--renewal-within", "30")] == ["ferrum"]
    soonest = listed(book, "--renewal-within", "56", "--sort", "-renewal_date")
    assert [a["account_id"] for a in soonest] == ["bluepeak", "ferrum"]


def test_an_unknown_sort_is_refused_by_name(book: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(book), "accounts", "--sort", "health"])
    assert result.exit_code == 2
    assert "Invalid value for '--sort': 'health' is not one of" in result.output
