"""The example data run on two Fridays with a pilot, as the health and account tests read it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from telltales.config import LoadedConfig
from telltales.engine.pipeline import run
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.playbooks.plan import load_plan
from telltales.plugins import Registry
from telltales.signals.settings import scorer_settings, source_settings
from telltales.store import Store

from support.book import build_example

FIRST, SECOND = date(2026, 11, 13), date(2026, 11, 20)


def run_example(
    store: Store, registry: Registry, config: LoadedConfig, *, with_plan: bool = True
) -> None:
    """Pilot the At-Risk playbook for apac-midmarket, then run both Fridays at noon."""
    plan = load_plan(config, registry) if with_plan else None
    if plan is not None:
        pilot = NewPilot(
            pilot_id="apac",
            csm_groups=["apac-midmarket"],
            rules=["core_feature_drop", "sponsor_left"],
            playbooks=["at_risk_response"],
            starts_on=date(2026, 11, 1),
        )
        create_pilot(store, plan, pilot, by="ops@vendor.example")
    for day in (FIRST, SECOND):
        run(
            store,
            registry,
            day,
            settings=source_settings(config, registry),
            scorer_settings=scorer_settings(config, registry),
            plan=plan,
            now=datetime.combine(day, time(12), tzinfo=UTC),
        )


def ingested_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example data ingested into a new database, not yet run."""
    path = tmp_path_factory.mktemp("example") / "example.db"
    build_example(path)
    return path
