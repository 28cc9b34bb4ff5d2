"""Flap rate: how many entries into At-Risk left it again within 14 days.

A status that flips At-Risk and back within two weeks asked a person to act on
something that was gone before they could: the flap rate is the share of such
entries. The backtest reports the same figure per rule on replayed days
(docs/backtest.md); this one is read from the recorded transitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import msgspec

from telltales.config import MetricSettings
from telltales.metrics.common import (
    MetricFilter,
    resolve,
    summarize_groups,
    today_utc,
)
from telltales.metrics.episodes import Episode, at_risk_episodes, judged
from telltales.metrics.uncertainty import Interval, Sample, Uncertainty
from telltales.store import Store

FLAP_DAYS = 14
DEFINITION = (
    "Of the entries into At-Risk in the period (a transition into At-Risk from any other "
    "status) that are at least 14 days old on as_of, the share whose next transition left "
    "At-Risk for Healthy or Concern, set by the rules (cause rules or override_ended), "
    "within 14 days of the entry. Leaving by a person's override, or by the account "
    "stopping being live (Inactive), is no flap."
)


class FlapCounts(msgspec.Struct, kw_only=True):
    group: str | None
    """The group's value under ``group_by``; None on the overall row."""
    entries: int
    """Entries into At-Risk in the period."""
    old_enough: int
    """Entries at least 14 days before as_of: the denominator."""
    too_young: int
    flapped: int
    """Old-enough entries that the rules moved out of At-Risk within 14 days."""
    rate: float | None
    """flapped / old_enough; null below the sample's minimum (``sample.withheld`` says
    why)."""
    sample: Sample
    rate_interval: Interval | None
    """Wilson interval; null below ``sample.minimum``."""


class FlapRate(msgspec.Struct, kw_only=True):
    metric: str = "flap-rate"
    definition: str = DEFINITION
    window_days: int = FLAP_DAYS
    as_of: date
    confidence: float
    filters: MetricFilter
    overall: FlapCounts
    groups: list[FlapCounts]


def flap_rate(
    store: Store,
    metric_filter: MetricFilter,
    *,
    as_of: date | None = None,
    today: date | None = None,
    settings: MetricSettings | None = None,
) -> FlapRate:
    """The share of the period's At-Risk entries that flapped out within 14 days."""
    uncertainty = Uncertainty(settings or MetricSettings())
    today = today or today_utc()
    as_of = as_of or today
    applied = resolve(metric_filter, today)
    entries = at_risk_episodes(
        store,
        applied,
        """
        SELECT CASE WHEN n.to_status IN ('healthy', 'concern')
            AND n.cause IN ('rules', 'override_ended') THEN n.as_of END
        FROM transitions n INDEXED BY transitions_account
        WHERE n.account_id = e.account_id
          AND (n.as_of, n.at, n.transition_id) > (e.as_of, e.at, e.transition_id)
        ORDER BY n.as_of, n.at, n.transition_id LIMIT 1
        """,
    )

    def summarize(found: Sequence[Episode], group: str | None) -> FlapCounts:
        old, flapped = judged(found, FLAP_DAYS, as_of)
        sample = uncertainty.sample(old, "episodes")
        return FlapCounts(
            group=group,
            entries=len(found),
            old_enough=old,
            too_young=len(found) - old,
            flapped=flapped,
            rate=flapped / old if sample.enough and old else None,
            sample=sample,
            rate_interval=uncertainty.share(flapped, sample),
        )

    overall, groups = summarize_groups(entries, applied.group_by, summarize)
    return FlapRate(
        as_of=as_of,
        confidence=uncertainty.settings.confidence,
        filters=applied,
        overall=overall,
        groups=groups,
    )
