"""Renewal rate by risk cohort: flagged and treated, flagged and not, never flagged."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

import msgspec

from telltales.config import MetricSettings
from telltales.metrics.common import MetricFilter, resolve, summarize_groups, today_utc
from telltales.metrics.flags import (
    DEFAULT_LOOKBACK_DAYS,
    FLAG_DEFINITION,
    PLAYBOOK_RAN_DEFINITION,
    FlaggedRenewal,
    check_lookback,
    flagged_renewals,
)
from telltales.metrics.retention import RenewalNumbers, compare_renewals, renewal_numbers
from telltales.metrics.uncertainty import Comparison, Uncertainty
from telltales.store import Store

RiskCohort = Literal["flagged_with_playbook", "flagged_without_playbook", "not_flagged"]
RISK_COHORTS: tuple[RiskCohort, ...] = (
    "flagged_with_playbook",
    "flagged_without_playbook",
    "not_flagged",
)
DEFINITION = (
    "Renewals due in the period, split into (a) flagged_with_playbook, (b) "
    "flagged_without_playbook (control group, shadow mode, held back) and (c) not_flagged; "
    "for each, the logo renewal rate (renewed / renewals), GRR and NRR as in retention. "
    + FLAG_DEFINITION
    + " "
    + PLAYBOOK_RAN_DEFINITION
)


class RenewalCohortRow(RenewalNumbers, kw_only=True):
    risk_cohort: RiskCohort


class RenewalByCohort(msgspec.Struct, kw_only=True):
    metric: str = "renewal-by-cohort"
    definition: str = DEFINITION
    lookback_days: int
    confidence: float
    """Of every interval in the report."""
    filters: MetricFilter
    overall: list[RenewalCohortRow]
    """One row per risk cohort, always all three, in the order (a), (b), (c)."""
    groups: list[RenewalCohortRow]
    """Three rows per group under ``group_by``."""
    comparisons: list[Comparison]
    """Over all renewals: flagged_with_playbook minus flagged_without_playbook (the
    playbook's effect on flagged renewals), for logo rate, GRR and NRR."""


def risk_cohort(renewal: FlaggedRenewal) -> RiskCohort:
    if renewal.treated:
        return "flagged_with_playbook"
    return "flagged_without_playbook" if renewal.flagged else "not_flagged"


def renewal_by_cohort(
    store: Store,
    metric_filter: MetricFilter,
    *,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    today: date | None = None,
    settings: MetricSettings | None = None,
) -> RenewalByCohort:
    uncertainty = Uncertainty(settings or MetricSettings())
    check_lookback(lookback_days)
    applied = resolve(metric_filter, today or today_utc())
    renewals = flagged_renewals(store, applied, lookback_days)

    def summarize(found: Sequence[FlaggedRenewal], group: str | None) -> list[RenewalCohortRow]:
        return [
            renewal_numbers(
                [r for r in found if risk_cohort(r) == cohort],
                RenewalCohortRow,
                group,
                uncertainty,
                risk_cohort=cohort,
            )
            for cohort in RISK_COHORTS
        ]

    overall, groups = summarize_groups(renewals, applied.group_by, summarize)
    return RenewalByCohort(
        lookback_days=lookback_days,
        confidence=uncertainty.settings.confidence,
        filters=applied,
        overall=overall,
        groups=[row for rows in groups for row in rows],
        comparisons=compare_renewals(
            uncertainty,
            ("flagged_with_playbook", "flagged_without_playbook"),
            [r for r in renewals if risk_cohort(r) == "flagged_with_playbook"],
            [r for r in renewals if risk_cohort(r) == "flagged_without_playbook"],
        ),
    )
