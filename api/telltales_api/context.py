"""What every request shares: the store, the plugins and the checked configuration.

Built once when the app starts, so a bad configuration stops the server with one
clear line instead of failing requests one by one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from litestar.di import NamedDependency
from telltales.config import LoadedConfig, config_path, load_config
from telltales.plan import Plan, load_plan
from telltales.plugins import Registry
from telltales.store import Store, default_path, open_store

MAX_BODY_ENV = "TELLTALES_API_MAX_BODY"
DEFAULT_MAX_BODY = 16 * 1024 * 1024
"""Bytes a request body may hold: room for an ingest batch of ~50,000 usage rows."""


@dataclass(frozen=True)
class ApiSettings:
    """Where the database and configuration are, and the request limits."""

    db: Path = field(default_factory=default_path)
    config: Path | None = None
    """None: ``$TELLTALES_CONFIG``, else ``telltales.toml`` if present, else defaults."""
    max_body_bytes: int = DEFAULT_MAX_BODY
    create_db: bool = False
    """Create (and migrate) the database if it does not exist."""

    @classmethod
    def from_env(cls) -> ApiSettings:
        max_body = os.environ.get(MAX_BODY_ENV)
        return cls(max_body_bytes=int(max_body) if max_body else DEFAULT_MAX_BODY)


@dataclass
class ApiContext:
    """The open store, the loaded plugins and the plan, for the app's lifetime."""

    settings: ApiSettings
    registry: Registry
    config: LoadedConfig
    plan: Plan
    store: Store

    @classmethod
    def open(cls, settings: ApiSettings, registry: Registry) -> ApiContext:
        config = load_config(config_path(settings.config))
        plan = load_plan(config, registry)
        migrations = [entry.obj for entry in registry.migrations.values()]
        store = open_store(settings.db, migrations, create=settings.create_db)
        return cls(settings=settings, registry=registry, config=config, plan=plan, store=store)

    def close(self) -> None:
        self.store.close()


Context = NamedDependency[ApiContext]
"""A handler's ``context`` parameter: the app's :class:`ApiContext`."""
