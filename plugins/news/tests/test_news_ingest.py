"""news.items: validation, unknown accounts and idempotent upserts."""

from __future__ import annotations

from typing import Any

import pytest
import telltales_news
from telltales.errors import InputError
from telltales.testing import PluginHarness


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_news, name="news")
    telltales_env.add_accounts({"ferrum": "Ferrum Manufacturing"})
    return telltales_env


def item(item_id: str = "n1", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "item_id": item_id,
        "account_id": "ferrum",
        "kind": "acquired",
        "day": "2026-10-02",
        "headline": "Ferrum Manufacturing to be acquired by Castellan Group",
        "url": "https://reuters.example/ferrum-castellan",
    }
    record.update(fields)
    return record


def stored(env: PluginHarness) -> list[tuple[Any, ...]]:
    return list(env.store.db.execute("SELECT * FROM news_items ORDER BY item_id"))


def test_an_item_is_stored_with_its_defaults(env: PluginHarness) -> None:
    assert env.ingest("news.items", [item()]) == 1
    assert stored(env) == [
        (
            "n1",
            "ferrum",
            "acquired",
            "2026-10-02",
            "Ferrum Manufacturing to be acquired by Castellan Group",
            "https://reuters.example/ferrum-castellan",
            "",
            1.0,
        )
    ]


def test_resending_the_same_items_changes_nothing(env: PluginHarness) -> None:
    batch = [item("n1"), item("n2", kind="layoffs", severity=0.5, source="Reuters")]
    env.ingest("news.items", batch)
    before = stored(env)
    env.ingest("news.items", batch)
    assert stored(env) == before
    assert len(before) == 2


def test_a_corrected_item_replaces_the_first_version(env: PluginHarness) -> None:
    env.ingest("news.items", [item(headline="Ferrum in talks with Castellan")])
    env.ingest("news.items", [item(day="2026-10-03", severity=0.9)])
    rows = stored(env)
    assert len(rows) == 1
    assert rows[0][3:5] == ("2026-10-03", "Ferrum Manufacturing to be acquired by Castellan Group")
    assert rows[0][7] == 0.9


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "bankruptcy"}, "kind"),
        ({"url": "ftp://reuters.example/ferrum"}, "url"),
        ({"url": "reuters.example/ferrum"}, "url"),
        ({"url": "https:// spaces.example"}, "url"),
        ({"headline": ""}, "headline"),
        ({"headline": "   "}, "headline"),
        ({"severity": 1.5}, "severity"),
        ({"severity": -0.1}, "severity"),
        ({"day": "2026-13-01"}, "day"),
        ({"item_id": ""}, "item_id"),
    ],
)
def test_a_bad_record_is_refused_by_index_and_field_and_nothing_is_stored(
    env: PluginHarness, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError, match=f"^record 2, field '{field}': "):
        env.ingest("news.items", [item("n1"), {**item("n2"), **fields}])
    assert stored(env) == []


def test_an_unknown_field_is_refused(env: PluginHarness) -> None:
    with pytest.raises(InputError, match="record 1, field 'impact': unknown field"):
        env.ingest("news.items", [item(impact=0.9)])


def test_an_unknown_account_is_refused_and_nothing_is_stored(env: PluginHarness) -> None:
    with pytest.raises(
        InputError, match="^record 2, field 'account_id': unknown account 'castellan'"
    ):
        env.ingest("news.items", [item("n1"), item("n2", account_id="castellan")])
    assert stored(env) == []
