"""The settings every signal source and scorer of a run is given, checked before it starts."""

from __future__ import annotations

from typing import Any

from telltales.config import LoadedConfig, component_settings
from telltales.plugins import Registry
from telltales.signals.scorecards import HEALTH_SCORER, SHADOW_SCORER, load_scoring


def source_settings(config: LoadedConfig, registry: Registry) -> dict[str, Any]:
    """Decode each ``[plugins.<source>]`` table for its source; refuse unknown sources."""
    return component_settings(
        config.document,
        "plugins",
        "signal source",
        registry.sources,
        config.values.plugins,
        registry,
    )


def scorer_settings(config: LoadedConfig, registry: Registry) -> dict[str, Any]:
    """Each scorer's settings: the checked scorecards for the health scorer, and each
    ``[scorers.<name>]`` table decoded for its plugin scorer.

    The scorecards are checked against the installed sources here, before a run
    starts, so a misspelt signal key stops the run instead of scoring nothing.
    """
    for core in (HEALTH_SCORER, SHADOW_SCORER):
        if core in config.values.scorers:
            raise config.document.error(
                ("scorers", core),
                f"[scorers.{core}]: the {core.replace('_', ' ')} scorer is configured by "
                "[scoring] and [scorecards.<name>] (see docs/scorecards.md)",
            )
    settings = component_settings(
        config.document,
        "scorers",
        "scorer",
        registry.scorers,
        config.values.scorers,
        registry,
    )
    if HEALTH_SCORER in registry.scorers or SHADOW_SCORER in registry.scorers:
        scoring = load_scoring(config, registry)
        for core in (HEALTH_SCORER, SHADOW_SCORER):
            if core in registry.scorers:
                settings[core] = scoring
    return settings
