"""``[plugins.firmographics]``: the ideal customer profile (ICP) and the time windows."""

from __future__ import annotations

from typing import Annotated

import msgspec

Weight = Annotated[float, msgspec.Meta(gt=0)]
Names = list[Annotated[str, msgspec.Meta(min_length=1)]]
Days = Annotated[int, msgspec.Meta(ge=1, le=3650)]
Employees = Annotated[int, msgspec.Meta(ge=0)]


class Weights(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """How much each ICP criterion counts in ``icp_fit``; equal unless told otherwise.

    A weight must be positive: a criterion that should not count is left out of the
    ICP (an empty list), so its absence is visible in the evidence rather than
    hidden behind a zero.
    """

    industry: Weight = 1.0
    employees: Weight = 1.0
    region: Weight = 1.0
    products: Weight = 1.0


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """The ICP the latest snapshot is measured against, and how old data may be."""

    industries: Names = msgspec.field(default_factory=list)
    """Industries that fit; empty means the criterion is not counted."""
    regions: Names = msgspec.field(default_factory=list)
    """Regions that fit; empty means the criterion is not counted."""
    min_employees: Employees = 200
    max_employees: Employees = 20000
    required_products: Names = msgspec.field(default_factory=list)
    """Our products a fitting account owns, all of them; empty means not counted."""
    weights: Weights = msgspec.field(default_factory=Weights)
    stale_after_days: Days = 365
    """A snapshot older than this on the run day describes a company that may no
    longer exist in that shape: no signal is read from it."""
    employee_change_min_days: Days = 180
    """How much older the earlier snapshot of ``employee_change_180d`` must be."""

    def __post_init__(self) -> None:
        # msgspec reports a ValueError raised here as a validation error of the table,
        # without a field path, so the message names the fields itself.
        if self.min_employees > self.max_employees:
            raise ValueError(
                f"min_employees ({self.min_employees}) must not exceed "
                f"max_employees ({self.max_employees})"
            )
