"""Playbook completion rate: of the live runs started in the period, the share fully done."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

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
from telltales.metrics.uncertainty import Interval, Sample, Uncertainty
from telltales.store import Store

DEFINITION = (
    "Of the live playbook runs started in the period that gave people tasks, the share whose "
    "tasks were all done (state completed); a dismissed task is not done (state closed), and "
    "runs still open count against the rate until they finish. Runs whose playbook has no "
    "task step are counted apart: there was nothing for a person to complete."
)


class CompletionCounts(msgspec.Struct, kw_only=True):
    group: str | None
    """The group's value under ``group_by``; None on the overall row."""
    runs: int
    """Live runs started in the period, with tasks or without."""
    with_tasks: int
    """Runs that gave people at least one task: the denominator."""
    completed: int
    """Every task done: the numerator."""
    closed: int
    """Over with a task dismissed (or a step that could not even be recorded)."""
    open: int
    """A task still open."""
    without_tasks: int
    """Runs of playbooks with no task step, left out of the rate."""
    tasks_done: int
    tasks_dismissed: int
    tasks_open: int
    rate: float | None
    """completed / with_tasks; null when no run gave a task."""
    sample: Sample
    """The runs with tasks the rate rests on."""
    rate_interval: Interval | None
    """Wilson interval; null below ``sample.minimum``."""


class PlaybookCompletion(msgspec.Struct, kw_only=True):
    metric: str = "playbook-completion"
    definition: str = DEFINITION
    confidence: float
    """Of every interval in the report."""
    filters: MetricFilter
    overall: CompletionCounts
    groups: list[CompletionCounts]


class _Run(NamedTuple):
    group: str | None
    state: str
    done: int
    dismissed: int
    open: int

    @property
    def without_tasks(self) -> bool:
        return self.state != "closed" and self.done + self.dismissed + self.open == 0


def playbook_completion(
    store: Store,
    metric_filter: MetricFilter,
    *,
    today: date | None = None,
    settings: MetricSettings | None = None,
) -> PlaybookCompletion:
    uncertainty = Uncertainty(settings or MetricSettings())
    applied = resolve(metric_filter, today or today_utc())
    where, params = conditions(applied, "p", "as_of")
    rows = store.reader.execute(
        f"""
        SELECT {group_column(applied, "p")}, p.state,
            count(CASE WHEN t.state = 'done' THEN 1 END),
            count(CASE WHEN t.state = 'dismissed' THEN 1 END),
            count(CASE WHEN t.state = 'open' THEN 1 END)
        FROM playbook_runs p
        LEFT JOIN tasks t ON t.playbook_run_id = p.playbook_run_id
        WHERE p.mode = 'live' AND {where}
        GROUP BY p.playbook_run_id
        """,
        params,
    ).fetchall()
    runs = [_Run(*row) for row in rows]

    def summarize(found: Sequence[_Run], group: str | None) -> CompletionCounts:
        counted = [r for r in found if not r.without_tasks]
        completed = sum(1 for r in counted if r.state == "completed")
        closed = sum(1 for r in counted if r.state == "closed")
        sample = uncertainty.sample(len(counted), "runs")
        return CompletionCounts(
            group=group,
            runs=len(found),
            with_tasks=len(counted),
            completed=completed,
            closed=closed,
            open=len(counted) - completed - closed,
            without_tasks=len(found) - len(counted),
            tasks_done=sum(r.done for r in found),
            tasks_dismissed=sum(r.dismissed for r in found),
            tasks_open=sum(r.open for r in found),
            rate=ratio(completed, len(counted)),
            sample=sample,
            rate_interval=uncertainty.share(completed, sample),
        )

    overall, groups = summarize_groups(runs, applied.group_by, summarize)
    return PlaybookCompletion(
        confidence=uncertainty.settings.confidence,
        filters=applied,
        overall=overall,
        groups=groups,
    )
