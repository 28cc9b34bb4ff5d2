"""The configuration: ``telltales.toml`` read once per load, with the line of every key.

``loading`` reads and checks the file, ``document`` maps each key to its line for
messages, ``components`` decodes each plugin's own table. What the tables mean is
checked where it is used: scorecards by ``telltales.signals``, rules and playbooks
by ``telltales.playbooks.plan``.
"""

from telltales.config.components import component_settings
from telltales.config.loading import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    Config,
    LoadedConfig,
    config_path,
    load_config,
)
from telltales.config.metric_settings import MetricSettings

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG",
    "Config",
    "LoadedConfig",
    "MetricSettings",
    "component_settings",
    "config_path",
    "load_config",
]
