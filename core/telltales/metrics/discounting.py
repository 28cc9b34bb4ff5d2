"""Discounting on at-risk renewals: the average discount of flagged renewals vs the others."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import msgspec

from telltales.config import MetricSettings
from telltales.metrics.common import MetricFilter, ratio, resolve, summarize_groups, today_utc
from telltales.metrics.flags import (
    DEFAULT_LOOKBACK_DAYS,
    FLAG_DEFINITION,
    FlaggedRenewal,
    check_lookback,
    flagged_renewals,
)
from telltales.metrics.uncertainty import (
    Comparison,
    Interval,
    Sample,
    Uncertainty,
    mean_estimate,
)
from telltales.store import Store

DEFINITION = (
    "Over the renewals due in the period that renewed (a churned account got no deal, so "
    "its discount means nothing and it is left out, counted), the mean discount percent of "
    "flagged renewals and of the others, unweighted, and the difference in points. "
    + FLAG_DEFINITION
)


class DiscountNumbers(msgspec.Struct, kw_only=True):
    renewals: int
    """Renewed renewals in the set: the denominator."""
    discount_percent_total: float
    mean_discount_percent: float | None
    """discount_percent_total / renewals; null when there is none."""
    sample: Sample
    mean_interval: Interval | None
    """Normal interval of the mean; null below ``sample.minimum``."""


class DiscountRow(msgspec.Struct, kw_only=True):
    group: str | None
    """The group's value under ``group_by``; None on the overall row."""
    flagged: DiscountNumbers
    not_flagged: DiscountNumbers
    difference_points: float | None
    """flagged mean minus not_flagged mean, in percentage points."""
    difference: Comparison
    """The same difference with its interval, when both sides rest on enough renewals."""
    churned_left_out: int


class Discounting(msgspec.Struct, kw_only=True):
    metric: str = "discounting"
    definition: str = DEFINITION
    lookback_days: int
    confidence: float
    """Of every interval in the report."""
    filters: MetricFilter
    overall: DiscountRow
    groups: list[DiscountRow]


def _numbers(found: Sequence[FlaggedRenewal], uncertainty: Uncertainty) -> DiscountNumbers:
    values = [r.discount_percent for r in found]
    sample = uncertainty.sample(len(found), "renewals")
    return DiscountNumbers(
        renewals=len(found),
        discount_percent_total=sum(values),
        mean_discount_percent=ratio(sum(values), len(found)),
        sample=sample,
        mean_interval=uncertainty.mean(values, sample),
    )


def discounting(
    store: Store,
    metric_filter: MetricFilter,
    *,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    today: date | None = None,
    settings: MetricSettings | None = None,
) -> Discounting:
    uncertainty = Uncertainty(settings or MetricSettings())
    check_lookback(lookback_days)
    applied = resolve(metric_filter, today or today_utc())
    renewals = flagged_renewals(store, applied, lookback_days)

    def summarize(found: Sequence[FlaggedRenewal], group: str | None) -> DiscountRow:
        renewed = [r for r in found if r.outcome == "renewed"]
        sides = ([r for r in renewed if r.flagged], [r for r in renewed if not r.flagged])
        flagged, others = (_numbers(side, uncertainty) for side in sides)
        difference = (
            flagged.mean_discount_percent - others.mean_discount_percent
            if flagged.mean_discount_percent is not None
            and others.mean_discount_percent is not None
            else None
        )
        return DiscountRow(
            group=group,
            flagged=flagged,
            not_flagged=others,
            difference_points=difference,
            difference=uncertainty.estimate_difference(
                "mean_discount_percent",
                ("flagged", "not_flagged"),
                (
                    mean_estimate([r.discount_percent for r in sides[0]]),
                    mean_estimate([r.discount_percent for r in sides[1]]),
                ),
                (flagged.sample, others.sample),
            ),
            churned_left_out=len(found) - len(renewed),
        )

    overall, groups = summarize_groups(renewals, applied.group_by, summarize)
    return Discounting(
        lookback_days=lookback_days,
        confidence=uncertainty.settings.confidence,
        filters=applied,
        overall=overall,
        groups=groups,
    )
