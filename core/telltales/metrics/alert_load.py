"""Alert load: rules fired per CSM per week, live and shadow apart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

import msgspec

from telltales.metrics.common import (
    MetricFilter,
    conditions,
    group_column,
    period,
    ratio,
    resolve,
    summarize_groups,
    today_utc,
)
from telltales.store import Store

DEFINITION = (
    "Rule firings (the day a rule starts to hold after its hold days, not the days it "
    "stays active) in the period per account owner per week, where weeks = days in the "
    "period / 7. Live firings reached people; shadow firings were only recorded (outside "
    "a pilot, or its control group) and show the load a rollout would add. Mean and max "
    "are over the owners with at least one firing, live or shadow."
)


class OwnerLoad(msgspec.Struct, kw_only=True):
    owner: str
    """The account owner (CSM) when the rule fired; empty for unowned accounts."""
    fired_live: int
    fired_shadow: int
    live_per_week: float
    shadow_per_week: float


class AlertLoadRow(msgspec.Struct, kw_only=True):
    group: str | None
    """The group's value under ``group_by``; None on the overall row."""
    owners: int
    """Owners with at least one firing: the mean's denominator."""
    fired_live: int
    fired_shadow: int
    mean_live_per_week: float | None
    """fired_live / owners / weeks."""
    max_live_per_week: float | None
    """The highest owner's live firings / weeks."""
    mean_shadow_per_week: float | None
    max_shadow_per_week: float | None


class AlertLoad(msgspec.Struct, kw_only=True):
    metric: str = "alert-load"
    definition: str = DEFINITION
    days: int
    weeks: float
    filters: MetricFilter
    overall: AlertLoadRow
    groups: list[AlertLoadRow]
    by_owner: list[OwnerLoad]
    """Every owner with a firing, the most live firings per week first."""


class _Count(NamedTuple):
    group: str | None
    owner: str
    mode: str
    fired: int


def _by_owner(found: Sequence[_Count], weeks: float) -> list[OwnerLoad]:
    live: dict[str, int] = {}
    shadow: dict[str, int] = {}
    for count in found:
        target = live if count.mode == "live" else shadow
        target[count.owner] = target.get(count.owner, 0) + count.fired
    owners = sorted(live.keys() | shadow.keys())
    loads = [
        OwnerLoad(
            owner=owner,
            fired_live=live.get(owner, 0),
            fired_shadow=shadow.get(owner, 0),
            live_per_week=live.get(owner, 0) / weeks,
            shadow_per_week=shadow.get(owner, 0) / weeks,
        )
        for owner in owners
    ]
    return sorted(loads, key=lambda load: (-load.live_per_week, -load.shadow_per_week, load.owner))


def alert_load(
    store: Store, metric_filter: MetricFilter, *, today: date | None = None
) -> AlertLoad:
    applied = resolve(metric_filter, today or today_utc())
    start, end = period(applied)
    days = (end - start).days + 1
    weeks = days / 7
    where, params = conditions(applied, "h", "as_of")
    rows = store.reader.execute(
        f"""
        SELECT {group_column(applied, "h")} AS grp, h.owner, h.mode, count(*)
        FROM rule_hits h WHERE h.state = 'fired' AND {where}
        GROUP BY grp, h.owner, h.mode
        """,
        params,
    ).fetchall()
    counts = [_Count(*row) for row in rows]

    def summarize(found: Sequence[_Count], group: str | None) -> AlertLoadRow:
        loads = _by_owner(found, weeks)
        live = sum(load.fired_live for load in loads)
        shadow = sum(load.fired_shadow for load in loads)
        return AlertLoadRow(
            group=group,
            owners=len(loads),
            fired_live=live,
            fired_shadow=shadow,
            mean_live_per_week=ratio(live, len(loads) * weeks),
            max_live_per_week=max((load.live_per_week for load in loads), default=None),
            mean_shadow_per_week=ratio(shadow, len(loads) * weeks),
            max_shadow_per_week=max((load.shadow_per_week for load in loads), default=None),
        )

    overall, groups = summarize_groups(counts, applied.group_by, summarize)
    return AlertLoad(
        days=days,
        weeks=weeks,
        filters=applied,
        overall=overall,
        groups=groups,
        by_owner=_by_owner(counts, weeks),
    )
