"""The TOML configuration: read once, checked whole, before anything is written.

``[plugins.<source>]`` tables configure signal sources and ``[scorers.<name>]``
tables configure plugin scorers: one that declares a ``settings_type`` gets its
table decoded into it, so a typo or a wrong type is an error naming the file, the
line and the field rather than a silent default. ``[scoring]`` and
``[scorecards.<name>]`` configure the core's health scorer (docs/scorecards.md);
rules, statuses, playbooks, actions and the outbox are checked by ``plan``
(docs/playbooks.md).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from .errors import ConfigError
from .plugins import Entry, Registry
from .scorecards import HEALTH_SCORER, load_scoring
from .toml_lines import TomlDocument, TomlPath, dotted

CONFIG_ENV = "TELLTALES_CONFIG"
DEFAULT_CONFIG = "telltales.toml"


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole configuration file."""

    plugins: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """Settings per signal source, keyed by source name."""
    scorers: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """Settings per plugin scorer, keyed by scorer name."""
    scoring: dict[str, Any] = msgspec.field(default_factory=dict)
    """Which scorecard scores which segment (checked by ``scorecards``)."""
    scorecards: dict[str, Any] = msgspec.field(default_factory=dict)
    """The user's own scorecards, keyed by name (checked by ``scorecards``)."""
    statuses: dict[str, Any] = msgspec.field(default_factory=dict)
    """Labels of the health statuses; the tables below are checked by ``plan``."""
    rules: dict[str, Any] = msgspec.field(default_factory=dict)
    playbooks: dict[str, Any] = msgspec.field(default_factory=dict)
    actions: dict[str, Any] = msgspec.field(default_factory=dict)
    crm: dict[str, Any] = msgspec.field(default_factory=dict)
    csm_groups: dict[str, Any] = msgspec.field(default_factory=dict)
    alerts: dict[str, Any] = msgspec.field(default_factory=dict)
    outbox: dict[str, Any] = msgspec.field(default_factory=dict)
    links: dict[str, Any] = msgspec.field(default_factory=dict)
    engine: dict[str, Any] = msgspec.field(default_factory=dict)
    """Time limits of signal sources and scorers (checked by ``plan``)."""


class LoadedConfig(msgspec.Struct, kw_only=True, frozen=True):
    """A validated configuration and where it came from."""

    values: Config
    source: str = "(defaults)"
    """The file it was read from, for messages."""
    config_id: str = "defaults"
    """A short hash of the file's bytes: scores record it so they can be reproduced."""
    text: str = ""
    """The file's text, so later checks can name the line of a mistake."""


def config_path(option: Path | None) -> Path | None:
    """``--config``, else ``$TELLTALES_CONFIG``, else ``./telltales.toml`` if it exists."""
    if option is not None:
        return option
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    default = Path(DEFAULT_CONFIG)
    return default if default.exists() else None


def load_config(path: Path | None) -> LoadedConfig:
    """Read and validate a configuration file; None gives the defaults."""
    if path is None:
        return LoadedConfig(values=Config())
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read configuration {path}: {error.strerror}") from error
    try:
        data.decode()
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {error.start}) on line {line}; save the file as UTF-8"
        ) from error
    if data.startswith(b"\xef\xbb\xbf"):
        raise ConfigError(
            f"{path}: starts with a byte-order mark (line 1); save it as UTF-8 without one"
        )
    try:
        values = msgspec.toml.decode(data, type=Config)
    except msgspec.ValidationError as error:
        raise TomlDocument(str(path), data.decode()).invalid((), error) from error
    except msgspec.DecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    return LoadedConfig(
        values=values,
        source=str(path),
        config_id=hashlib.sha256(data).hexdigest()[:12],
        text=data.decode(),
    )


def source_settings(config: LoadedConfig, registry: Registry) -> dict[str, Any]:
    """Decode each ``[plugins.<source>]`` table for its source; refuse unknown sources."""
    return component_settings(
        TomlDocument(config.source, config.text),
        "plugins",
        "signal source",
        registry.sources,
        config.values.plugins,
    )


def scorer_settings(config: LoadedConfig, registry: Registry) -> dict[str, Any]:
    """Each scorer's settings: the checked scorecards for the health scorer, and each
    ``[scorers.<name>]`` table decoded for its plugin scorer.

    The scorecards are checked against the installed sources here, before a run
    starts, so a misspelt signal key stops the run instead of scoring nothing.
    """
    if HEALTH_SCORER in config.values.scorers:
        raise TomlDocument(config.source, config.text).error(
            ("scorers", HEALTH_SCORER),
            f"[scorers.{HEALTH_SCORER}]: the health scorer is configured by [scoring] and "
            "[scorecards.<name>] (see docs/scorecards.md)",
        )
    settings = component_settings(
        TomlDocument(config.source, config.text),
        "scorers",
        "scorer",
        registry.scorers,
        config.values.scorers,
    )
    if HEALTH_SCORER in registry.scorers:
        settings[HEALTH_SCORER] = load_scoring(config, registry)
    return settings


def component_settings(
    document: TomlDocument,
    section: str,
    kind: str,
    registered: Mapping[str, Entry[Any]],
    tables: Mapping[str, Any],
) -> dict[str, Any]:
    """Each registered component's ``[<section>.<name>]`` table, checked for it.

    A table naming no installed component is refused; one for a component with a
    ``settings_type`` is decoded into it; one for a component that declares no settings
    must be empty, so a key written there is refused rather than silently ignored.
    """
    unknown = sorted(set(tables) - set(registered))
    if unknown:
        known = ", ".join(sorted(registered)) or "none"
        raise document.error(
            (section, unknown[0]),
            f"[{section}.{unknown[0]}] names no installed {kind} (installed: {known})",
        )
    settings: dict[str, Any] = {}
    for name, entry in registered.items():
        table = tables.get(name, {})
        settings_type = getattr(entry.obj, "settings_type", None)
        if settings_type is not None:
            settings[name] = document.decode((section, name), table, settings_type)
            continue
        if table != {}:
            where: TomlPath = (section, name)
            if isinstance(table, Mapping):
                where = (*where, next(iter(table)))
            raise document.error(
                where, f"{dotted(where)}: unknown key; {kind} {name!r} takes no settings"
            )
        settings[name] = {}
    return settings
