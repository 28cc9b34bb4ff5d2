"""The news source: faded impacts, their evidence, the horizon, as-of days and settings."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import telltales_news
from telltales.errors import ConfigError
from telltales.testing import PluginHarness
from telltales_news.signals import NewsSource

DAY = date(2026, 11, 20)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "data"


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_news, name="news")
    telltales_env.add_accounts({"alpha": "Alpha", "beta": "Beta", "gamma": "Gamma"})
    return telltales_env


def item(item_id: str, kind: str, day: str, headline: str, **fields: Any) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "account_id": "alpha",
        "kind": kind,
        "day": day,
        "headline": headline,
        "url": f"https://news.example/{item_id}",
        **fields,
    }


# Ages as of 2026-11-20: 2026-10-06 is 45 days, 2026-08-22 90, 2026-07-08 135,
# 2026-05-24 180 (the last day of the default horizon) and 2026-05-23 181.
ALPHA_NEWS = [
    item("acq", "acquired", "2026-10-06", "Alpha to be acquired by Omega", source="Newswire"),
    item("lay1", "layoffs", "2026-08-22", "Alpha cuts 20% of staff", severity=0.8),
    item("lay2", "layoffs", "2026-11-20", "Alpha trims one office", severity=0.1),
    item("mrg", "merger", "2026-11-20", "Alpha and Gamma agree to merge", source="Wire"),
    item("buy", "acquirer", "2026-10-06", "Alpha buys Delta"),
    item("ceo", "leadership_change", "2026-07-08", "Alpha names new CEO"),
    item("dis", "industry_disruption", "2026-05-24", "New rules upend Alpha's market"),
    item("old", "merger", "2026-05-23", "Alpha explores a merger"),
]


def test_every_key_is_declared_as_a_current_state_signal() -> None:
    specs = {spec.key: spec for spec in NewsSource.signals}
    assert set(specs) == {
        "news.acquired",
        "news.acquirer",
        "news.merger",
        "news.layoffs",
        "news.leadership_change",
        "news.industry_disruption",
        "news.impact",
        "news.items_180d",
    }
    assert {spec.dimension for spec in specs.values()} == {"current_state"}
    assert specs["news.items_180d"].higher_is_better is None
    assert all(
        spec.higher_is_better is False for key, spec in specs.items() if key != "news.items_180d"
    )


def test_the_brief_example_fades_an_acquisition_over_49_days(env: PluginHarness) -> None:
    env.ingest(
        "news.items",
        [
            item(
                "fe1",
                "acquired",
                "2026-10-02",
                "Ferrum to be acquired by Castellan Group",
                source="reuters.example",
            )
        ],
    )
    result = env.run(DAY)
    assert result.status == "ok"
    assert result.failures == ()
    # 1.0 x 0.5^(49/45) = 0.5 x 2^(-4/45) = 0.5 x 0.94028 = 0.47014
    assert env.observed("alpha", "news.acquired", DAY) == (
        0.4701,
        "'Ferrum to be acquired by Castellan Group' (2026-10-02, 49 days ago, "
        "reuters.example, https://news.example/fe1): impact 0.47 = 1.0 x 0.5^(49/45)",
    )
    assert env.signal("alpha", "news.acquired", DAY).dimension == "current_state"


def test_each_kind_gives_its_strongest_faded_item(env: PluginHarness) -> None:
    env.ingest("news.items", ALPHA_NEWS)
    assert env.run(DAY).status == "ok"
    signals = env.signals("alpha", DAY, source="news")
    values = {key: signal.value for key, signal in signals.items()}
    assert values == {
        "news.acquired": 0.5,  # 1.0 x 0.5^(45/45)
        "news.layoffs": 0.14,  # max(0.7 x 0.8 x 0.5^(90/45) = 0.14, 0.7 x 0.1 x 0.5^0 = 0.07)
        "news.merger": 0.8,  # 0.8 x 0.5^0; the 181-day-old merger is ignored
        "news.acquirer": 0.15,  # 0.3 x 0.5^(45/45)
        "news.leadership_change": 0.0625,  # 0.5 x 0.5^(135/45) = 0.5 / 8
        "news.industry_disruption": 0.0375,  # 0.6 x 0.5^(180/45) = 0.6 / 16
        "news.impact": 0.8,  # the merger of today
        "news.items_180d": 7,  # all but the 181-day-old merger
    }
    assert signals["news.acquired"].evidence == (
        "'Alpha to be acquired by Omega' (2026-10-06, 45 days ago, Newswire, "
        "https://news.example/acq): impact 0.50 = 1.0 x 0.5^(45/45)"
    )
    assert signals["news.layoffs"].evidence == (
        "'Alpha cuts 20% of staff' (2026-08-22, 90 days ago, https://news.example/lay1): "
        "impact 0.14 = 0.7 x severity 0.8 x 0.5^(90/45); "
        "the strongest of 2 layoffs items up to 180 days old"
    )
    assert signals["news.merger"].evidence == (
        "'Alpha and Gamma agree to merge' (2026-11-20, today, Wire, https://news.example/mrg): "
        "impact 0.80 = 0.8 x 0.5^(0/45)"
    )
    assert signals["news.acquirer"].evidence == (
        "'Alpha buys Delta' (2026-10-06, 45 days ago, https://news.example/buy): "
        "impact 0.15 = 0.3 x 0.5^(45/45)"
    )
    assert signals["news.leadership_change"].evidence == (
        "'Alpha names new CEO' (2026-07-08, 135 days ago, https://news.example/ceo): "
        "impact 0.06 = 0.5 x 0.5^(135/45)"
    )
    assert signals["news.industry_disruption"].evidence == (
        "'New rules upend Alpha's market' (2026-05-24, 180 days ago, https://news.example/dis): "
        "impact 0.04 = 0.6 x 0.5^(180/45)"
    )


def test_impact_names_the_strongest_item_of_any_kind(env: PluginHarness) -> None:
    env.ingest("news.items", ALPHA_NEWS)
    env.run(DAY)
    # merger today: 0.8 x 0.5^(0/45) = 0.8, above the acquisition's 1.0 x 0.5^(45/45) = 0.5
    assert env.observed("alpha", "news.impact", DAY) == (
        0.8,
        "merger: 'Alpha and Gamma agree to merge' (2026-11-20, today, Wire, "
        "https://news.example/mrg): impact 0.80 = 0.8 x 0.5^(0/45), "
        "the strongest of 7 news items up to 180 days old",
    )


def test_items_180d_counts_the_items_in_the_horizon_by_kind(env: PluginHarness) -> None:
    env.ingest("news.items", ALPHA_NEWS)
    env.run(DAY)
    # 8 items, less the merger of 2026-05-23 (181 days old) = 7
    assert env.observed("alpha", "news.items_180d", DAY) == (
        7,
        "7 news items dated 2026-05-24 to 2026-11-20 (up to 180 days old): 1 acquired, "
        "1 acquirer, 1 merger, 2 layoffs, 1 leadership_change, 1 industry_disruption",
    )


def test_a_lone_item_is_called_the_only_one(env: PluginHarness) -> None:
    env.ingest("news.items", [item("buy", "acquirer", "2026-10-06", "Alpha buys Delta")])
    env.run(DAY)
    # 0.3 x 0.5^(45/45) = 0.15
    assert env.observed("alpha", "news.impact", DAY) == (
        0.15,
        "acquirer: 'Alpha buys Delta' (2026-10-06, 45 days ago, https://news.example/buy): "
        "impact 0.15 = 0.3 x 0.5^(45/45), the only news item up to 180 days old",
    )
    assert env.signal("alpha", "news.items_180d", DAY).evidence == (
        "1 news item dated 2026-05-24 to 2026-11-20 (up to 180 days old): 1 acquirer"
    )


def test_equal_impacts_are_settled_by_the_most_recent_item(env: PluginHarness) -> None:
    env.ingest(
        "news.items",
        [
            # 1.0 x 1.0 x 0.5^(45/45) = 0.5 and 1.0 x 0.5 x 0.5^(0/45) = 0.5
            item("a-old", "acquired", "2026-10-06", "Omega bids for Alpha"),
            item("a-new", "acquired", "2026-11-20", "Alpha board backs sale", severity=0.5),
        ],
    )
    env.run(DAY)
    signal = env.signal("alpha", "news.acquired", DAY)
    assert signal.value == 0.5
    assert signal.evidence.startswith("'Alpha board backs sale' (2026-11-20, today,")


def test_one_query_reads_the_news_of_every_account_of_the_batch(env: PluginHarness) -> None:
    env.ingest("news.items", ALPHA_NEWS)
    env.ingest(
        "news.items",
        [item("g1", "layoffs", "2026-11-01", "Gamma cuts staff", account_id="gamma")],
    )
    statements: list[str] = []
    env.store.reader.conn.set_trace_callback(statements.append)
    env.run(DAY)
    env.store.reader.conn.set_trace_callback(None)
    assert len([s for s in statements if "news_items" in s]) == 1
    assert env.signal("gamma", "news.items_180d", DAY).value == 1


def test_an_account_without_news_in_the_horizon_gets_no_signal(env: PluginHarness) -> None:
    env.ingest(
        "news.items",
        [item("old", "merger", "2026-05-23", "Gamma explores a merger", account_id="gamma")],
    )
    assert env.run(DAY).status == "ok"
    assert env.signals("beta", DAY, source="news") == {}
    assert env.signals("gamma", DAY, source="news") == {}


def test_a_future_item_is_ignored_until_its_day(env: PluginHarness) -> None:
    env.ingest("news.items", [item("acq", "acquired", "2026-11-25", "Omega buys Alpha")])
    env.run(DAY)
    assert env.signals("alpha", DAY, source="news") == {}
    later = date(2026, 11, 25)
    env.run(later)
    # 1.0 x 0.5^(0/45) = 1.0 on the day it is published
    assert env.signal("alpha", "news.acquired", later).value == 1.0


def test_a_run_as_of_an_earlier_day_sees_only_the_items_published_by_then(
    env: PluginHarness,
) -> None:
    env.ingest("news.items", ALPHA_NEWS)
    earlier = date(2026, 10, 6)
    env.run(earlier)
    signals = env.signals("alpha", earlier, source="news")
    # As of 2026-10-06: acq and buy are 0 days old, lay1 45, ceo 90, dis 135, old 136;
    # lay2 and mrg (2026-11-20) are still in the future.
    assert signals["news.items_180d"].value == 6
    assert "news.merger" in signals  # the old merger is back inside the horizon
    # 0.8 x 0.5^(136/45) = 0.8 x 0.125 x 2^(-1/45) = 0.1 x 0.98472 = 0.09847
    assert signals["news.merger"].value == 0.0985
    assert signals["news.layoffs"].value == 0.28  # 0.7 x 0.8 x 0.5^(45/45)
    assert signals["news.impact"].value == 1.0  # acquired, 0 days old


def test_resending_the_items_changes_no_signal(env: PluginHarness) -> None:
    env.ingest("news.items", ALPHA_NEWS)
    env.run(DAY)
    before = env.signals("alpha", DAY, source="news")
    env.ingest("news.items", ALPHA_NEWS)
    (count,) = env.store.db.execute("SELECT count(*) FROM news_items").fetchone()
    env.run(DAY)
    assert count == len(ALPHA_NEWS)
    assert env.signals("alpha", DAY, source="news") == before


def test_settings_change_the_weights_the_fade_and_the_horizon(env: PluginHarness) -> None:
    env.configure_toml(
        "[plugins.news]\nhalf_life_days = 90\nhorizon_days = 100\n\n"
        "[plugins.news.base_impact]\nacquired = 0.5\n"
    )
    env.ingest("news.items", ALPHA_NEWS)
    assert env.run(DAY).status == "ok"
    # 0.5 x 0.5^(45/90) = 0.5 / sqrt(2) = 0.35355
    assert env.observed("alpha", "news.acquired", DAY) == (
        0.3536,
        "'Alpha to be acquired by Omega' (2026-10-06, 45 days ago, Newswire, "
        "https://news.example/acq): impact 0.35 = 0.5 x 0.5^(45/90)",
    )
    # 0.7 x 0.8 x 0.5^(90/90) = 0.28
    assert env.signal("alpha", "news.layoffs", DAY).value == 0.28
    # Within 100 days: acq (45), lay1 (90), lay2 (0), mrg (0), buy (45); ceo and dis drop out.
    assert env.observed("alpha", "news.items_180d", DAY) == (
        5,
        "5 news items dated 2026-08-12 to 2026-11-20 (up to 100 days old): "
        "1 acquired, 1 acquirer, 1 merger, 2 layoffs",
    )
    signals = env.signals("alpha", DAY, source="news")
    assert "news.leadership_change" not in signals
    assert "news.industry_disruption" not in signals


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "[plugins.news.base_impact]\nbankruptcy = 1.0\n",
            "plugins.news.base_impact: object contains unknown field `bankruptcy`",
        ),
        ("[plugins.news.base_impact]\nlayoffs = 1.5\n", "plugins.news.base_impact.layoffs"),
        ("[plugins.news]\nhalf_life_days = 0\n", "plugins.news.half_life_days"),
    ],
)
def test_bad_settings_are_refused_with_their_field(
    env: PluginHarness, table: str, message: str
) -> None:
    env.configure_toml(table)
    with pytest.raises(ConfigError, match=message):
        env.run(DAY)


def test_the_example_data_tells_its_story(telltales_env: PluginHarness) -> None:
    telltales_env.register(telltales_news, name="news")
    telltales_env.add_accounts(json.loads((EXAMPLES / "accounts.json").read_text()))
    telltales_env.ingest("news.items", json.loads((EXAMPLES / "news.items.json").read_text()))
    assert telltales_env.run(DAY).status == "ok"
    ferrum = telltales_env.signals("ferrum", DAY, source="news")
    # Ferrum: acquired 49 days ago, 1.0 x 0.5^(49/45) = 0.47014, the strongest of its 3 items
    assert ferrum["news.impact"].value == 0.4701
    assert ferrum["news.items_180d"].value == 3
    # Northwind's only item (a merger of 2026-03-10) is 255 days old; Quillworks has none.
    assert telltales_env.signals("northwind", DAY, source="news") == {}
    assert telltales_env.signals("quillworks", DAY, source="news") == {}
    assert set(telltales_env.signals("solstice", DAY, source="news")) == {
        "news.acquirer",
        "news.impact",
        "news.items_180d",
    }
