"""``[plugins.news]``: how much each kind of news weighs and how fast it fades."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .records import Kind

Impact = Annotated[float, msgspec.Meta(ge=0, le=1)]


class BaseImpact(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The impact of a fresh item of each kind, 0..1, before severity and fading.

    Being bought puts a renewal most at risk (new owners consolidate vendors); buying
    someone else mostly brings new users, so it weighs least.
    """

    acquired: Impact = 1.0
    merger: Impact = 0.8
    layoffs: Impact = 0.7
    industry_disruption: Impact = 0.6
    leadership_change: Impact = 0.5
    acquirer: Impact = 0.3

    def of(self, kind: Kind) -> float:
        value: float = getattr(self, kind)
        return value


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[plugins.news]`` in telltales.toml; ``[plugins.news.base_impact]`` per kind."""

    base_impact: BaseImpact = msgspec.field(default_factory=BaseImpact)
    half_life_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 45
    """Days after which an item's impact has halved."""
    horizon_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 180
    """Items older than this are ignored entirely, however strong they were."""
