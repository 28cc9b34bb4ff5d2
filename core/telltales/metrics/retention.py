"""Gross and net dollar retention over the renewals due in the period."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, NamedTuple, Protocol, TypeVar

import msgspec

from telltales.metrics.common import (
    MetricFilter,
    conditions,
    group_column,
    ratio,
    resolve,
    summarize_groups,
    today_utc,
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


class Retention(msgspec.Struct, kw_only=True):
    metric: str = "retention"
    definition: str = DEFINITION
    filters: MetricFilter
    overall: RenewalNumbers
    groups: list[RenewalNumbers]


NumbersT = TypeVar("NumbersT", bound=RenewalNumbers)


class Renewal(Protocol):
    @property
    def outcome(self) -> str: ...
    @property
    def arr_before(self) -> float: ...
    @property
    def arr_after(self) -> float: ...


def renewal_numbers(
    found: Sequence[Renewal], kind: Callable[..., NumbersT], group: str | None, **extra: Any
) -> NumbersT:
    """The :class:`RenewalNumbers` of ``found``, as ``kind`` with the ``extra`` fields."""
    renewed = sum(1 for r in found if r.outcome == "renewed")
    before = sum(r.arr_before for r in found)
    after = sum(r.arr_after for r in found)
    retained = sum(min(r.arr_after, r.arr_before) for r in found)
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
        group=group,
        **extra,
    )


class _Renewal(NamedTuple):
    group: str | None
    outcome: str
    arr_before: float
    arr_after: float


def retention(store: Store, metric_filter: MetricFilter, *, today: date | None = None) -> Retention:
    applied = resolve(metric_filter, today or today_utc())
    where, params = conditions(applied, "r", "renewal_date")
    rows = store.reader.execute(
        f"SELECT {group_column(applied, 'r')}, r.outcome, r.arr_before, r.arr_after "
        f"FROM renewals r WHERE {where}",
        params,
    ).fetchall()

    def summarize(found: Sequence[_Renewal], group: str | None) -> RenewalNumbers:
        return renewal_numbers(found, RenewalNumbers, group=group)

    overall, groups = summarize_groups([_Renewal(*r) for r in rows], applied.group_by, summarize)
    return Retention(filters=applied, overall=overall, groups=groups)
