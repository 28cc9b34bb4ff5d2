"""``[plugins.engagement]``: the cadence a CS team promises, and what counts as a touch."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .records import ACTIVITY_KINDS, ActivityKind

Days = Annotated[int, msgspec.Meta(ge=1, le=3650)]


def _default_cadence() -> dict[str, int]:
    return {"enterprise": 14, "mid-market": 30, "smb": 60}


def _default_touch_kinds() -> list[ActivityKind]:
    # An email can go unanswered; it is not a conversation with the customer.
    return [kind for kind in ACTIVITY_KINDS if kind != "email"]


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every threshold the engagement signals use, with the defaults a CS team starts from."""

    cadence_days: dict[str, Days] = msgspec.field(default_factory=_default_cadence)
    """Days between touches promised per account segment (matched ignoring case)."""
    default_cadence_days: Days = 30
    """For accounts whose segment is blank or not in ``cadence_days``."""
    touch_kinds: Annotated[list[ActivityKind], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=_default_touch_kinds
    )
    window_days: Annotated[int, msgspec.Meta(ge=1, le=730)] = 90
    """The window over which touches are counted against the cadence."""
    value_review_every_days: Days = 90
    business_review_every_days: Days = 180

    def cadence_for(self, segment: str) -> tuple[str, int]:
        """The cadence of ``segment`` and how to name it ("mid-market" or "default")."""
        by_segment = {name.strip().lower(): days for name, days in self.cadence_days.items()}
        key = segment.strip().lower()
        if key in by_segment:
            return segment.strip(), by_segment[key]
        return "default", self.default_cadence_days
