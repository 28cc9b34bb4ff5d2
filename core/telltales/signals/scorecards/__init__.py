"""Scorecards: measures over signals, grouped into weighted components, graded.

The core's health scorer (``default_plugins.health``) scores every account with the
card of its segment. The format is documented in docs/scorecards.md; the shipped
cards (``dear.toml``, ``fit_current_interest.toml``) sit beside this file and are
written in the same format a user's configuration uses.
"""

from telltales.signals.scorecards.card import Card
from telltales.signals.scorecards.definition import (
    DEFAULT_CARD,
    HEALTH_SCORER,
    SHADOW_SCORER,
    Scoring,
    default_scoring,
    load_scoring,
)

__all__ = [
    "DEFAULT_CARD",
    "HEALTH_SCORER",
    "SHADOW_SCORER",
    "Card",
    "Scoring",
    "default_scoring",
    "load_scoring",
]
