"""The TOML configuration: read once, checked whole, before anything is written.

``[plugins.<source>]`` tables configure signal sources; a source that declares a
``settings_type`` gets its table decoded into it, so a typo or a wrong type is an
error naming the file, the table and the field rather than a silent default.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import msgspec

from .errors import ConfigError, split_validation_error
from .plugins import Registry

CONFIG_ENV = "TELLTALES_CONFIG"
DEFAULT_CONFIG = "telltales.toml"


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole configuration file."""

    plugins: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """Settings per signal source, keyed by source name."""


class LoadedConfig(msgspec.Struct, kw_only=True, frozen=True):
    """A validated configuration and where it came from."""

    values: Config
    source: str = "(defaults)"
    """The file it was read from, for messages."""
    config_id: str = "defaults"
    """A short hash of the file's bytes: scores record it so they can be reproduced."""


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
        values = msgspec.toml.decode(data, type=Config)
    except msgspec.ValidationError as error:
        message, field = split_validation_error(error)
        where = field.lstrip(".") or "top level"
        raise ConfigError(f"{path}: {where}: {message}") from error
    except msgspec.DecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    return LoadedConfig(
        values=values, source=str(path), config_id=hashlib.sha256(data).hexdigest()[:12]
    )


def source_settings(config: LoadedConfig, registry: Registry) -> dict[str, Any]:
    """Decode each ``[plugins.<source>]`` table for its source; refuse unknown sources."""
    tables = config.values.plugins
    unknown = sorted(set(tables) - set(registry.sources))
    if unknown:
        known = ", ".join(sorted(registry.sources)) or "none"
        raise ConfigError(
            f"{config.source}: [plugins.{unknown[0]}] names no installed signal source "
            f"(installed: {known})"
        )
    settings: dict[str, Any] = {}
    for name, entry in registry.sources.items():
        table = tables.get(name, {})
        settings_type = getattr(entry.obj, "settings_type", None)
        if settings_type is None:
            settings[name] = table
            continue
        try:
            settings[name] = msgspec.convert(table, settings_type)
        except msgspec.ValidationError as error:
            message, field = split_validation_error(error)
            where = f"plugins.{name}{field}"
            raise ConfigError(f"{config.source}: {where}: {message}") from error
    return settings
