"""Risk episodes: entries into At-Risk in a period, and the day each one ended, if it did.

The flap rate and the reversal rate both count the episodes old enough to judge and
those that ended within a window of their start; they differ only in what ends an
episode, which each gives as the SQL of the ending day (see :func:`at_risk_episodes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import NamedTuple

from telltales.metrics.common import ENTERED_AT_RISK, MetricFilter, conditions, group_column
from telltales.store import Store


class Episode(NamedTuple):
    group: str | None
    entered: date
    ended_on: date | None
    """The day of the transition that ended it as the metric counts endings, if any."""


def at_risk_episodes(store: Store, applied: MetricFilter, ended_on: str) -> list[Episode]:
    """Every entry ``e`` into At-Risk that ``applied`` selects, with ``ended_on``: a SQL
    expression over ``e`` (a scalar subquery) giving the day it ended, or NULL."""
    where, params = conditions(applied, "e", "as_of")
    rows = store.reader.execute(
        f"""
        SELECT {group_column(applied, "e")}, e.as_of, ({ended_on})
        FROM transitions e
        WHERE {ENTERED_AT_RISK.format(t="e")} AND {where}
        """,
        params,
    ).fetchall()
    return [
        Episode(group, date.fromisoformat(entered), date.fromisoformat(end) if end else None)
        for group, entered, end in rows
    ]


def judged(found: Sequence[Episode], window_days: int, as_of: date) -> tuple[int, int]:
    """(old enough: ``window_days`` or more before ``as_of``; of those, ended within
    ``window_days`` of their start)."""
    window = timedelta(days=window_days)
    old = [e for e in found if e.entered + window <= as_of]
    ended = sum(1 for e in old if e.ended_on and e.ended_on - e.entered <= window)
    return len(old), ended
