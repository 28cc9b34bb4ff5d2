"""Freshness: a run past a source's data is stale, and its signals are missing, not zero.

The example data ends on 2026-11-20 (usage) and 2026-11-19 (tickets). The issue's
quickstart ran it on 2026-12-07: every account At-Risk with "-100%", status ok.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from support.book import build_example, example_registry
from telltales.config import load_config
from telltales.engine.pipeline import run
from telltales.errors import ConfigError
from telltales.models import StaleSource
from telltales.playbooks.plan import Plan, load_plan
from telltales.plugins import Registry
from telltales.store import Store, open_store
from telltales.store.queries import get_run, signals_for

LAST_USAGE = date(2026, 11, 20)
LAST_TICKET = date(2026, 11, 19)
LATER = date(2026, 12, 7)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fresh") / "example.db"
    build_example(path)
    return path


@pytest.fixture
def registry() -> Registry:
    return example_registry()


@pytest.fixture
def store(template: Path, tmp_path: Path, registry: Registry) -> Iterator[Store]:
    path = tmp_path / "example.db"
    shutil.copy(template, path)
    with open_store(path, [e.obj for e in registry.migrations.values()]) as opened:
        yield opened


def plan_with(tmp_path: Path, registry: Registry, toml: str = "") -> Plan:
    config = tmp_path / "telltales.toml"
    config.write_text(toml)
    return load_plan(load_config(config), registry)


def test_a_run_past_the_data_is_stale_and_leaves_the_source_out(
    store: Store, registry: Registry, tmp_path: Path
) -> None:
    result = run(store, registry, LATER, plan=plan_with(tmp_path, registry))
    assert result.status == "stale"
    assert result.stale == (
        StaleSource(source="support", last_day=LAST_TICKET, days_old=18, limit_days=14),
        StaleSource(source="telemetry", last_day=LAST_USAGE, days_old=17, limit_days=3),
    )
    assert get_run(store, result.run_id) == result
    keys = {s.key for s in signals_for(store, "northwind", LATER)}
    assert not any(key.startswith(("telemetry.", "support.")) for key in keys)
    assert "account.days_to_renewal" in keys
    # No rule reads three weeks of silence as a collapse of use.
    assert drops(store) == 0


def drops(store: Store) -> int:
    (count,) = store.db.execute(
        "SELECT count(*) FROM rule_hits WHERE as_of = ? AND rule = 'core_feature_drop'",
        [LATER.isoformat()],
    ).fetchone()
    return int(count)


def test_without_freshness_the_silence_reads_as_a_collapse(
    store: Store, registry: Registry, tmp_path: Path
) -> None:
    """What the issue saw, with the limits turned off: every account "-100%"."""
    plan = plan_with(tmp_path, registry, "[freshness]\ntelemetry = 0\nsupport = 0\n")
    assert run(store, registry, LATER, plan=plan).status == "ok"
    drop = {s.key: s for s in signals_for(store, "northwind", LATER)}
    assert drop["telemetry.core_feature_drop_14d"].value == -1
    assert drops(store) == 6


def test_within_the_limit_the_run_is_ok(store: Store, registry: Registry, tmp_path: Path) -> None:
    result = run(
        store, registry, LAST_USAGE + timedelta(days=3), plan=plan_with(tmp_path, registry)
    )
    assert (result.status, result.stale) == ("ok", ())
    keys = {s.key for s in signals_for(store, "northwind", LAST_USAGE + timedelta(days=3))}
    assert "telemetry.seat_utilization_30d" in keys


def test_the_limit_is_configured_per_source_and_zero_turns_it_off(
    store: Store, registry: Registry, tmp_path: Path
) -> None:
    plan = plan_with(tmp_path, registry, "[freshness]\ntelemetry = 30\nsupport = 0\n")
    result = run(store, registry, LATER, plan=plan)
    assert (result.status, result.stale) == ("ok", ())
    plan = plan_with(tmp_path, registry, "[freshness]\ncontacts = 1\n")
    assert {s.source for s in run(store, registry, LATER, plan=plan).stale} == {
        "contacts",
        "support",
        "telemetry",
    }


def test_a_replay_sees_the_freshness_its_day_had(
    store: Store, registry: Registry, tmp_path: Path
) -> None:
    """As of a past day, data after that day does not make the source fresh."""
    early = date(2026, 8, 1)  # the example usage starts in late August
    result = run(store, registry, early, plan=plan_with(tmp_path, registry))
    assert "telemetry" not in {s.source for s in result.stale}


def test_a_run_without_a_plan_uses_each_sources_default(store: Store, registry: Registry) -> None:
    assert run(store, registry, LATER).status == "stale"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[freshness]\ntelemetri = 3\n",
            "line 2: [freshness] telemetri: is no installed signal source; sources with "
            "freshness: contacts, engagement, firmographics, news, support, telemetry",
        ),
        ("[freshness]\naccount = 3\n", "[freshness] account: declares no freshness"),
        ("[freshness]\ntelemetry = -1\n", "line 2: freshness.telemetry: expected `int` >= 0"),
    ],
)
def test_a_mistake_in_freshness_names_its_line(
    registry: Registry, tmp_path: Path, toml: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan_with(tmp_path, registry, toml)
