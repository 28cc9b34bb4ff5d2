"""What every metric shares: the filter, the period, the SQL conditions, rates and percentiles.

A metric is cut by the snapshot recorded with each event (the CSM group, segment and
pilot cohort the account had when the transition, playbook run, rule hit or renewal
happened), not by the account's group today: moving an account to another team must
not rewrite last quarter's numbers of either team.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol, TypeVar

import msgspec

from telltales.errors import InputError
from telltales.models import FIRST_DAY

Cohort = Literal["pilot", "control", "none"]
GroupBy = Literal["csm_group", "segment", "cohort"]
GROUP_COLUMNS: dict[GroupBy, str] = {
    "csm_group": "csm_group",
    "segment": "segment",
    "cohort": "cohort",
}
DEFAULT_PERIOD_DAYS = 90
"""Without ``from``, the period is the 90 days that end on ``to`` (a quarter's view)."""
ENTERED_AT_RISK = "{t}.to_status = 'at_risk' AND {t}.from_status IS NOT 'at_risk'"
"""A transition that starts a risk episode; an override At-Risk -> At-Risk does not."""
PERCENTILE_METHOD = (
    "linear interpolation between the two nearest ranks (Hyndman-Fan type 7, as numpy's "
    "default and Excel's PERCENTILE.INC)"
)


class MetricFilter(msgspec.Struct, kw_only=True, frozen=True):
    """Which events a metric counts; in a report, the filter as applied (period resolved)."""

    csm_group: str | None = None
    segment: str | None = None
    cohort: Cohort | None = None
    """``pilot`` (treatment group of a pilot), ``control`` (held out of one) or ``none``."""
    from_: date | None = msgspec.field(default=None, name="from")
    """First day of the period (inclusive); default: ``to`` minus 89 days (not before
    1900-01-01)."""
    to: date | None = None
    """Last day of the period (inclusive); default: today (UTC)."""
    group_by: GroupBy | None = None
    """Also report one row per CSM group, segment or cohort."""
    limited_to: tuple[str, ...] | None = None
    """The CSM groups the caller may see (an API key limited to groups); None for all."""


class MetricInputError(InputError):
    """A metric's parameter is invalid; ``field`` names it as the caller spelled it."""

    field: str

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field)
        self.reason = reason


def today_utc() -> date:
    return datetime.now(UTC).date()


def resolve(metric_filter: MetricFilter, today: date) -> MetricFilter:
    """The filter with its period made concrete, so a report says exactly what it covers."""
    to = metric_filter.to or today
    # The default period stops at the first day telltales reasons about: a report never
    # states a day its own schema refuses.
    start = metric_filter.from_ or max(FIRST_DAY, to - timedelta(days=DEFAULT_PERIOD_DAYS - 1))
    if start > to:
        raise MetricInputError("from", f"{start} is after to ({to}); the period would be empty")
    limited = metric_filter.limited_to
    return msgspec.structs.replace(
        metric_filter,
        from_=start,
        to=to,
        limited_to=None if limited is None else tuple(sorted(limited)),
    )


def period(applied: MetricFilter) -> tuple[date, date]:
    """The first and last day of a filter that :func:`resolve` returned."""
    if applied.from_ is None or applied.to is None:
        raise ValueError("the filter's period is not resolved")
    return applied.from_, applied.to


def conditions(applied: MetricFilter, alias: str, day_column: str) -> tuple[str, list[object]]:
    """SQL conditions on ``alias``'s day and snapshot columns for a resolved filter."""
    start, end = period(applied)
    parts = [f"{alias}.{day_column} BETWEEN ? AND ?"]
    params: list[object] = [start.isoformat(), end.isoformat()]
    for column in ("csm_group", "segment", "cohort"):
        value = getattr(applied, column)
        if value is not None:
            parts.append(f"{alias}.{column} = ?")
            params.append(value)
    if applied.limited_to is not None:
        marks = ", ".join("?" for _ in applied.limited_to)
        parts.append(f"{alias}.csm_group IN ({marks})")
        params.extend(applied.limited_to)
    return " AND ".join(parts), params


def group_column(metric_filter: MetricFilter, alias: str) -> str:
    """The SQL expression of a row's group: its ``group_by`` column, or NULL."""
    if metric_filter.group_by is None:
        return "NULL"
    return f"{alias}.{GROUP_COLUMNS[metric_filter.group_by]}"


class Grouped(Protocol):
    @property
    def group(self) -> str | None: ...


RowT = TypeVar("RowT", bound=Grouped)
ResultT = TypeVar("ResultT")


def summarize_groups(
    rows: Sequence[RowT],
    group_by: GroupBy | None,
    summarize: Callable[[Sequence[RowT], str | None], ResultT],
) -> tuple[ResultT, list[ResultT]]:
    """The overall summary, and one per group (sorted by name) when ``group_by`` is set."""
    overall = summarize(rows, None)
    if group_by is None:
        return overall, []
    groups: dict[str, list[RowT]] = {}
    for row in rows:
        groups.setdefault(row.group or "", []).append(row)
    return overall, [summarize(groups[name], name) for name in sorted(groups)]


def ratio(part: float, whole: float) -> float | None:
    """``part / whole``, or None when there is nothing to divide by."""
    return part / whole if whole else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` quantile (0.5 = median) by :data:`PERCENTILE_METHOD`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
