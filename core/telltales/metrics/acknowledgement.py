"""Time to acknowledge risk: from entering At-Risk to the first task of its playbook done."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple

import msgspec

from telltales.metrics.common import (
    ENTERED_AT_RISK,
    PERCENTILE_METHOD,
    MetricFilter,
    conditions,
    group_column,
    percentile,
    resolve,
    summarize_groups,
    today_utc,
)
from telltales.store import Store

DEFINITION = (
    "For each entry into At-Risk in the period that started at least one live playbook run, "
    "the hours from the transition to the completion of the run's first task (the earliest "
    "such completion when it started several runs); median and 90th percentile over the "
    "acknowledged episodes, with the ones not acknowledged counted apart."
)


class AcknowledgementCounts(msgspec.Struct, kw_only=True):
    group: str | None
    """The group's value under ``group_by``; None on the overall row."""
    episodes: int
    """Entries into At-Risk in the period that started a live playbook run."""
    acknowledged: int
    """Episodes whose playbook had its first task done: the hours are theirs."""
    unacknowledged_open: int
    """Not acknowledged yet, a run still open: the clock is running."""
    closed_unacknowledged: int
    """Not acknowledged, every run over (its first task dismissed, or no task at all)."""
    median_hours: float | None
    p90_hours: float | None


class TimeToAcknowledge(msgspec.Struct, kw_only=True):
    metric: str = "time-to-acknowledge"
    definition: str = DEFINITION
    percentile_method: str = PERCENTILE_METHOD
    filters: MetricFilter
    overall: AcknowledgementCounts
    groups: list[AcknowledgementCounts]


class _Episode(NamedTuple):
    group: str | None
    hours: float | None
    open: bool


def time_to_acknowledge(
    store: Store, metric_filter: MetricFilter, *, today: date | None = None
) -> TimeToAcknowledge:
    applied = resolve(metric_filter, today or today_utc())
    where, params = conditions(applied, "e", "as_of")
    rows = store.reader.execute(
        f"""
        SELECT e.transition_id, {group_column(applied, "e")}, e.at, p.acknowledged_at, p.state
        FROM transitions e
        JOIN playbook_runs p ON p.transition_id = e.transition_id AND p.mode = 'live'
        WHERE {ENTERED_AT_RISK.format(t="e")} AND {where}
        """,
        params,
    ).fetchall()
    by_transition: dict[int, list[tuple[str | None, str, str | None, str]]] = {}
    for transition_id, group, at, acknowledged_at, state in rows:
        by_transition.setdefault(transition_id, []).append((group, at, acknowledged_at, state))
    episodes = []
    for runs in by_transition.values():
        group, at = runs[0][0], datetime.fromisoformat(runs[0][1])
        acknowledged = [datetime.fromisoformat(r[2]) for r in runs if r[2] is not None]
        hours = (min(acknowledged) - at).total_seconds() / 3600 if acknowledged else None
        episodes.append(_Episode(group, hours, any(r[3] == "open" for r in runs)))

    def summarize(found: Sequence[_Episode], group: str | None) -> AcknowledgementCounts:
        hours = [e.hours for e in found if e.hours is not None]
        waiting = [e for e in found if e.hours is None]
        open_count = sum(1 for e in waiting if e.open)
        return AcknowledgementCounts(
            group=group,
            episodes=len(found),
            acknowledged=len(hours),
            unacknowledged_open=open_count,
            closed_unacknowledged=len(waiting) - open_count,
            median_hours=percentile(hours, 0.5),
            p90_hours=percentile(hours, 0.9),
        )

    overall, groups = summarize_groups(episodes, applied.group_by, summarize)
    return TimeToAcknowledge(filters=applied, overall=overall, groups=groups)
