"""``[plugins.support]`` in telltales.toml: every window and threshold of the source."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .records import Priority

Days = Annotated[int, msgspec.Meta(ge=1, le=3650)]


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How the support source reads an account's tickets."""

    window_days: Days = 30
    """The recent window, ending on the run day (inclusive)."""
    baseline_days: Days = 180
    """The period just before the window: the account's own normal ticket rate."""
    high_priorities: Annotated[list[Priority], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["high", "urgent"]
    )
    """The priorities that count as high-priority."""
    min_baseline: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    """Floor of the baseline, in tickets per window: an account with no history would
    otherwise show an infinite spike on its first ticket."""
    resolution_window_days: Days = 90
    """How far back closed tickets count towards the median resolution time."""
