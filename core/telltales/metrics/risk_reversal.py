"""Risk status reversal rate: how many risk episodes ended back at Healthy within W days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import msgspec

from telltales.config import MetricSettings
from telltales.metrics.common import (
    MetricFilter,
    MetricInputError,
    ratio,
    resolve,
    summarize_groups,
    today_utc,
)
from telltales.metrics.episodes import Episode, at_risk_episodes, judged
from telltales.metrics.uncertainty import Comparison, Interval, Sample, Uncertainty
from telltales.store import Store

WINDOWS = (30, 60)
DEFINITION = (
    "Of the risk episodes that began in the period (a transition into At-Risk from any other "
    "status; an override At-Risk -> At-Risk is none) and are at least W days old on as_of, "
    "the share whose account had a transition to Healthy within W days of entering At-Risk. "
    "At-Risk -> Concern is no reversal; a later Concern -> Healthy within the W days is. "
    "An account that stopped being live (Inactive) ended its episode: no reversal."
)


class ReversalCounts(msgspec.Struct, kw_only=True):
    group: str | None
    """The group's value under ``group_by``; None on the overall row."""
    episodes: int
    """Entries into At-Risk in the period."""
    old_enough: int
    """Episodes that began at least W days before as_of: the denominator."""
    too_young: int
    """Episodes less than W days old: not counted yet."""
    reversed: int
    """Old-enough episodes back at Healthy within W days: the numerator."""
    not_reversed: int
    rate: float | None
    """reversed / old_enough; null when no episode is old enough."""
    sample: Sample
    """The old-enough episodes the rate rests on."""
    rate_interval: Interval | None
    """Wilson interval; null below ``sample.minimum``."""


class RiskReversal(msgspec.Struct, kw_only=True):
    metric: str = "risk-reversal"
    definition: str = DEFINITION
    window_days: int
    as_of: date
    confidence: float
    """Of every interval in the report."""
    filters: MetricFilter
    overall: ReversalCounts
    groups: list[ReversalCounts]
    comparisons: list[Comparison]
    """Under ``group_by=cohort``: the pilot's rate minus the control group's."""


def risk_reversal(
    store: Store,
    metric_filter: MetricFilter,
    *,
    window_days: int = 30,
    as_of: date | None = None,
    today: date | None = None,
    settings: MetricSettings | None = None,
) -> RiskReversal:
    """The reversal rate over ``window_days`` (30 or 60) of the episodes in the period."""
    uncertainty = Uncertainty(settings or MetricSettings())
    if window_days not in WINDOWS:
        raise MetricInputError("window_days", f"must be 30 or 60, got {window_days}")
    today = today or today_utc()
    as_of = as_of or today
    applied = resolve(metric_filter, today)
    # The first later transition to Healthy or to Inactive, in the order transitions
    # happened: read through the account's own transitions (left to itself, SQLite
    # would scan every account's later ones by the status index, once per episode). An
    # account that ended (churned, paused) ended the episode: a later return to Healthy
    # after it resumed is no reversal.
    episodes = at_risk_episodes(
        store,
        applied,
        """
        SELECT CASE WHEN h.to_status = 'healthy' THEN h.as_of END
        FROM transitions h INDEXED BY transitions_account
        WHERE h.account_id = e.account_id AND h.to_status IN ('healthy', 'inactive')
          AND (h.as_of, h.at, h.transition_id) > (e.as_of, e.at, e.transition_id)
        ORDER BY h.as_of, h.at, h.transition_id LIMIT 1
        """,
    )

    def summarize(found: Sequence[Episode], group: str | None) -> ReversalCounts:
        old, back = judged(found, window_days, as_of)
        sample = uncertainty.sample(old, "episodes")
        return ReversalCounts(
            group=group,
            episodes=len(found),
            old_enough=old,
            too_young=len(found) - old,
            reversed=back,
            not_reversed=old - back,
            rate=ratio(back, old),
            sample=sample,
            rate_interval=uncertainty.share(back, sample),
        )

    overall, groups = summarize_groups(episodes, applied.group_by, summarize)
    comparisons = []
    if applied.group_by == "cohort":
        pilot, control = (
            summarize([e for e in episodes if e.group == cohort], cohort)
            for cohort in ("pilot", "control")
        )
        comparisons.append(
            uncertainty.share_difference(
                "rate",
                ("pilot", "control"),
                (pilot.reversed, control.reversed),
                (pilot.sample, control.sample),
            )
        )
    return RiskReversal(
        window_days=window_days,
        as_of=as_of,
        confidence=uncertainty.settings.confidence,
        filters=applied,
        overall=overall,
        groups=groups,
        comparisons=comparisons,
    )
