"""What every request shares: the store, the plugins and the checked configuration.

Built once when the app starts, so a bad configuration stops the server with one
clear line instead of failing requests one by one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar.di import NamedDependency
from telltales.config import LoadedConfig, config_path, load_config
from telltales.errors import ConfigError
from telltales.playbooks.plan import Plan, load_plan
from telltales.plugins import Registry
from telltales.signals.scorecards import HEALTH_SCORER, Scoring, load_scoring
from telltales.signals.settings import scorer_settings, source_settings
from telltales.store import Store, default_path, open_for_plugins

from telltales_api.health_cache import DEFAULT_MAX_BYTES as DEFAULT_HEALTH_CACHE
from telltales_api.health_cache import HealthCache
from telltales_api.key_cache import KeyCache

MAX_BODY_ENV = "TELLTALES_API_MAX_BODY"
DEFAULT_MAX_BODY = 16 * 1024 * 1024
"""Bytes a request body may hold: room for an ingest batch of ~50,000 usage rows."""
HEALTH_CACHE_ENV = "TELLTALES_API_HEALTH_CACHE"


@dataclass(frozen=True)
class ApiSettings:
    """Where the database and configuration are, and the request limits."""

    db: Path = field(default_factory=default_path)
    config: Path | None = None
    """None: ``$TELLTALES_CONFIG``, else ``telltales.toml`` if present, else defaults."""
    max_body_bytes: int = DEFAULT_MAX_BODY
    health_cache_bytes: int = DEFAULT_HEALTH_CACHE
    """Per server thread; 0 turns the health cache off."""
    create_db: bool = False
    """Create (and migrate) the database if it does not exist."""

    @classmethod
    def from_env(cls) -> ApiSettings:
        """``$TELLTALES_DB``, ``$TELLTALES_CONFIG``, ``$TELLTALES_API_MAX_BODY`` and
        ``$TELLTALES_API_HEALTH_CACHE``."""
        return cls(
            max_body_bytes=_bytes(MAX_BODY_ENV, DEFAULT_MAX_BODY, least=1),
            health_cache_bytes=_bytes(HEALTH_CACHE_ENV, DEFAULT_HEALTH_CACHE, least=0),
        )


def _bytes(variable: str, default: int, *, least: int) -> int:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < least:
        raise ConfigError(f"{variable}={text!r}: give a number of bytes, at least {least}")
    return int(text)


class ApiContext:
    """The open store, the loaded plugins and the plan, for the app's lifetime.

    A plain class, not a dataclass: litestar checks a dependency's value against its
    annotation, and for a dataclass that means converting every field on every
    request.
    """

    __slots__ = (
        "config",
        "database_file",
        "health",
        "keys",
        "plan",
        "registry",
        "scorer_settings",
        "scoring",
        "settings",
        "source_settings",
        "store",
    )

    def __init__(
        self,
        settings: ApiSettings,
        registry: Registry,
        config: LoadedConfig,
        plan: Plan,
        sources: dict[str, Any],
        scorers: dict[str, Any],
        store: Store,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.config = config
        self.plan = plan
        self.source_settings = sources
        self.scorer_settings = scorers
        found = scorers.get(HEALTH_SCORER)
        self.scoring: Scoring = (
            found if isinstance(found, Scoring) else load_scoring(config, registry)
        )
        """The checked scorecards, for health's "compared with what"."""
        self.store = store
        opened = os.stat(store.path)
        self.database_file = (opened.st_dev, opened.st_ino)
        """Which file the store opened: the path may later name another, or none."""
        self.keys = KeyCache()
        self.health = HealthCache(settings.health_cache_bytes)

    @classmethod
    def open(cls, settings: ApiSettings, registry: Registry) -> ApiContext:
        config = load_config(config_path(settings.config))

        def checked() -> tuple[Plan, dict[str, Any], dict[str, Any]]:
            return (
                load_plan(config, registry),
                source_settings(config, registry),
                scorer_settings(config, registry),
            )

        # Decoded and checked once, before the database is touched: a bad table stops
        # the server, and a run over the API does not decode the configuration again.
        plan, sources, scorers = checked()
        known = len(registry.failures)
        store = open_for_plugins(settings.db, registry, create=settings.create_db)
        if len(registry.failures) > known:  # a plugin's migrations failed: check without it
            try:
                plan, sources, scorers = checked()
            except BaseException:
                store.close()
                raise
        return cls(settings, registry, config, plan, sources, scorers, store)

    def database_replaced(self) -> str | None:
        """Why the database's path no longer names the file this server opened; None if it does.

        SQLite goes on answering from an open file after it is deleted or replaced (a
        demo rebuilt under a running server did both), so only the path can tell that
        what the server answers from is no longer what everything else reads and writes.
        """
        path = self.store.path
        try:
            now = os.stat(path)
        except FileNotFoundError:
            return f"the database file {path} is gone: restart the server"
        except OSError as error:
            return f"the database file {path} cannot be read ({error.strerror})"
        if (now.st_dev, now.st_ino) != self.database_file:
            return f"the database file {path} was replaced: restart the server"
        return None

    def close(self) -> None:
        self.store.close()


Context = NamedDependency[ApiContext]
"""A handler's ``context`` parameter: the app's :class:`ApiContext`."""
