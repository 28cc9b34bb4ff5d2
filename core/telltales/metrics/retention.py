"""Gross and net dollar retention over the renewals due in the period."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, NamedTuple, Protocol, TypeVar

import msgspec

from telltales.config import MetricSettings
from telltales.metrics.common import (
    MetricFilter,
    conditions,
    group_column,
    ratio,
    resolve,
    summarize_groups,
    today_utc,
)
from telltales.metrics.uncertainty import (
    Comparison,
    Interval,
    Sample,
    Uncertainty,
    ratio_estimate,
)
from telltales.store import Store

DEFINITION = (
    "Over the renewals due in the period (renewal date within it, as recorded): "
    "GRR = sum(min(ARR after, ARR before)) / sum(ARR before); "
    "NRR = sum(ARR after) / sum(ARR before); logo renewal rate = renewed / renewals. "
    "A churned renewal has ARR after 0."
)


class RenewalNumbers(msgspec.Struct, kw_only=True):
    """Counts and sums of a set of renewals, and the rates they give."""

    group: str | None
    """The group's value under ``group_by``; None on the overall row."""
    renewals: int
    renewed: int
    churned: int
    logo_renewal_rate: float | None
    """renewed / renewals."""
    arr_before: float
    """sum(ARR before): the denominator of GRR and NRR."""
    arr_after: float
    """sum(ARR after): NRR's numerator (expansion included)."""
    arr_retained: float
    """sum(min(ARR after, ARR before)): GRR's numerator (expansion left out)."""
    grr: float | None
    nrr: float | None
    sample: Sample
    """The renewals the rates rest on, and whether they are enough to read them."""
    logo_renewal_rate_interval: Interval | None
    """Wilson interval; null below ``sample.minimum``."""
    grr_interval: Interval | None
    """Ratio-estimator interval over renewals, at most 1; null below ``sample.minimum``."""
    nrr_interval: Interval | None


class Retention(msgspec.Struct, kw_only=True):
    metric: str = "retention"
    definition: str = DEFINITION
    confidence: float
    """Of every interval in the report."""
    filters: MetricFilter
    overall: RenewalNumbers
    groups: list[RenewalNumbers]
    comparisons: list[Comparison]
    """Under ``group_by=cohort``: pilot minus control, for logo rate, GRR and NRR."""


NumbersT = TypeVar("NumbersT", bound=RenewalNumbers)


class Renewal(Protocol):
    @property
    def outcome(self) -> str: ...
    @property
    def arr_before(self) -> float: ...
    @property
    def arr_after(self) -> float: ...


def _sums(found: Sequence[Renewal]) -> tuple[list[float], list[float], list[float]]:
    """Per renewal: ARR retained (GRR's numerator), ARR after (NRR's), ARR before."""
    return (
        [min(r.arr_after, r.arr_before) for r in found],
        [r.arr_after for r in found],
        [r.arr_before for r in found],
    )


def renewal_numbers(
    found: Sequence[Renewal],
    kind: Callable[..., NumbersT],
    group: str | None,
    uncertainty: Uncertainty,
    **extra: Any,
) -> NumbersT:
    """The :class:`RenewalNumbers` of ``found``, as ``kind`` with the ``extra`` fields."""
    renewed = sum(1 for r in found if r.outcome == "renewed")
    retained_each, after_each, before_each = _sums(found)
    before, after, retained = sum(before_each), sum(after_each), sum(retained_each)
    sample = uncertainty.sample(len(found), "renewals")
    return kind(
        renewals=len(found),
        renewed=renewed,
        churned=len(found) - renewed,
        logo_renewal_rate=ratio(renewed, len(found)),
        arr_before=before,
        arr_after=after,
        arr_retained=retained,
        grr=ratio(retained, before),
        nrr=ratio(after, before),
        sample=sample,
        logo_renewal_rate_interval=uncertainty.share(renewed, sample),
        grr_interval=uncertainty.ratio(retained_each, before_each, sample, upper=1.0),
        nrr_interval=uncertainty.ratio(after_each, before_each, sample),
        group=group,
        **extra,
    )


def compare_renewals(
    uncertainty: Uncertainty,
    names: tuple[str, str],
    first: Sequence[Renewal],
    second: Sequence[Renewal],
) -> list[Comparison]:
    """Logo renewal rate, GRR and NRR of ``first`` minus those of ``second``."""
    samples = (
        uncertainty.sample(len(first), "renewals"),
        uncertainty.sample(len(second), "renewals"),
    )
    renewed = (
        sum(1 for r in first if r.outcome == "renewed"),
        sum(1 for r in second if r.outcome == "renewed"),
    )
    sums = (_sums(first), _sums(second))
    return [
        uncertainty.share_difference("logo_renewal_rate", names, renewed, samples),
        *(
            uncertainty.estimate_difference(
                figure,
                names,
                (
                    ratio_estimate(sums[0][index], sums[0][2]),
                    ratio_estimate(sums[1][index], sums[1][2]),
                ),
                samples,
            )
            for figure, index in (("grr", 0), ("nrr", 1))
        ),
    ]


class _Renewal(NamedTuple):
    group: str | None
    outcome: str
    arr_before: float
    arr_after: float


def retention(
    store: Store,
    metric_filter: MetricFilter,
    *,
    today: date | None = None,
    settings: MetricSettings | None = None,
) -> Retention:
    uncertainty = Uncertainty(settings or MetricSettings())
    applied = resolve(metric_filter, today or today_utc())
    where, params = conditions(applied, "r", "renewal_date")
    rows = store.reader.execute(
        f"SELECT {group_column(applied, 'r')}, r.outcome, r.arr_before, r.arr_after "
        f"FROM renewals r WHERE {where}",
        params,
    ).fetchall()

    def summarize(found: Sequence[_Renewal], group: str | None) -> RenewalNumbers:
        return renewal_numbers(found, RenewalNumbers, group, uncertainty)

    renewals = [_Renewal(*r) for r in rows]
    overall, groups = summarize_groups(renewals, applied.group_by, summarize)
    comparisons = []
    if applied.group_by == "cohort":
        comparisons = compare_renewals(
            uncertainty,
            ("pilot", "control"),
            [r for r in renewals if r.group == "pilot"],
            [r for r in renewals if r.group == "control"],
        )
    return Retention(
        confidence=uncertainty.settings.confidence,
        filters=applied,
        overall=overall,
        groups=groups,
        comparisons=comparisons,
    )
