"""A demo book built into a database for tests, with the demo's own configuration."""

from __future__ import annotations

from pathlib import Path

from telltales.config import load_config
from telltales.demo.replay import DemoOptions, DemoResult, build
from telltales.playbooks.plan import load_plan
from telltales.plugins import load_registry
from telltales.signals.settings import scorer_settings, source_settings
from telltales.store import open_store

DEMO_CONFIG = Path(__file__).parents[2] / "core" / "telltales" / "demo" / "demo.toml"


def build_book(path: Path, options: DemoOptions) -> DemoResult:
    """Generate and replay the demo book of ``options`` into a new database at ``path``."""
    registry = load_registry()
    config = load_config(DEMO_CONFIG)
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(path, migrations, create=True) as store:
        return build(
            store,
            registry,
            load_plan(config, registry),
            options,
            source_settings=source_settings(config, registry),
            scorer_settings=scorer_settings(config, registry),
        )
