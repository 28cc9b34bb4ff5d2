"""Reading the TOML configuration: once, checked whole, before anything is written.

``[plugins.<source>]`` tables configure signal sources and ``[scorers.<name>]``
tables configure plugin scorers: one that declares a ``settings_type`` gets its
table decoded into it, so a typo or a wrong type is an error naming the file, the
line and the field rather than a silent default. ``[scoring]`` and
``[scorecards.<name>]`` configure the core's health scorer (docs/scorecards.md);
rules, statuses, playbooks, actions and the outbox are checked by ``plan``
(docs/playbooks.md); ``[metrics]`` is checked here, whole (``metric_settings``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import msgspec

from telltales.config.document import TomlDocument
from telltales.config.metric_settings import MetricSettings
from telltales.errors import ConfigError

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
    freshness: dict[str, Any] = msgspec.field(default_factory=dict)
    """Days each source's data may be behind a run's day (checked by ``plan``)."""
    metrics: MetricSettings = msgspec.field(default_factory=MetricSettings)
    """Minimum samples and confidence of the metrics' intervals (checked here)."""


class LoadedConfig(msgspec.Struct, kw_only=True, frozen=True):
    """A validated configuration and where it came from."""

    values: Config
    source: str = "(defaults)"
    """The file it was read from, for messages."""
    config_id: str = "defaults"
    """A short hash of the file's bytes: scores record it so they can be reproduced."""
    text: str = ""
    """The file's text, so later checks can name the line of a mistake."""

    @property
    def document(self) -> TomlDocument:
        """The file's text with its line map, for messages that name a line.

        The map is built on first use and once per text (``key_lines`` is cached), so
        the configuration, the scorecards and the plan share one scan of the file.
        """
        return TomlDocument(self.source, self.text)


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
