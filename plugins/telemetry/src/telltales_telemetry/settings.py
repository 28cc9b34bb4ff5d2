"""``[plugins.telemetry]`` in telltales.toml: the thresholds the evidence compares with."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Share = Annotated[float, msgspec.Meta(ge=0, le=1)]


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Thresholds and windows; the signal keys name their own fixed windows (14, 30 days)."""

    low_utilization: Share = 0.5
    """Seat utilisation below this deserves a conversation."""
    weak_adoption: Share = 0.3
    """A core feature used by less than this share of seats is weakly adopted."""
    drop_alert: Share = 0.3
    """A fall in a core feature's active users larger than this, over 14 days, is a drop."""
    drop_min_users: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 5
    """``core_feature_drop_14d`` compares only core features with at least this many
    active users in the 14 days before: in a feature two people use, one person's
    holiday is a 50% drop, and a rule on it fires on noise."""
    declining_per_30d: Share = 0.1
    """Core-feature use falling faster than this share per 30 days is declining."""
    flat_logins_band: Share = 0.1
    """Logins changing less than this share per 30 days (or rising) count as flat."""
    warning_window_days: Literal[30, 60, 90] = 60
    """The trend window of the flat-logins-declining-core warning."""
    min_segment_peers: Annotated[int, msgspec.Meta(ge=1)] = 5
    """Fewer accounts than this in a segment with a figure: no percentile for it."""
