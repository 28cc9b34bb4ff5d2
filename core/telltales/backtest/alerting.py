"""How loud and how early the statuses are: the share of live accounts At-Risk on a
replayed day, and the churns flagged well before they happened.

These are the figures a CS team sets targets on (docs/backtest.md, "Targets of the
shipped defaults"): a status that puts a third of the book At-Risk trains people to
ignore it, and one that turns At-Risk the week before the churn is too late to act.
Pure functions over the observation table, like :mod:`telltales.backtest.statistics`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from telltales.backtest import statistics
from telltales.backtest.observations import Observation
from telltales.backtest.statistics import Spread

EARLY_DAYS = 60
"""A churn is flagged early when the account was flagged at least this many days before it."""
NOT_HEALTHY = ("concern", "at_risk")


class Share(msgspec.Struct, kw_only=True, frozen=True):
    """A share of a count, with its 95% Wilson interval; None below the minimum."""

    count: int
    of: int
    value: float | None = None
    low: float | None = None
    high: float | None = None
    reason: str | None = None


class DailyShares(msgspec.Struct, kw_only=True, frozen=True):
    """Per replayed day, the share of the live accounts in a status: median and quartiles."""

    days: int
    at_risk: Spread | None
    """The share At-Risk after the day's run."""
    not_healthy: Spread | None
    """The share Concern or At-Risk."""


class EarlyFlags(msgspec.Struct, kw_only=True, frozen=True):
    """Churns flagged at least ``lead_days`` before they happened."""

    lead_days: int
    churns: int
    """Churns with at least one judged observation ``lead_days`` or more before them
    (within the horizon): the ones that could have been flagged that early."""
    at_risk: Share
    """Of those, the churns whose account was At-Risk on such a day."""
    not_healthy: Share
    """Of those, the churns whose account was Concern or At-Risk on such a day."""


def daily_shares(in_span: Sequence[Observation]) -> DailyShares:
    """The share of live accounts At-Risk (and not Healthy) on each replayed day."""
    by_day: dict[object, list[str]] = {}
    for observation in in_span:
        by_day.setdefault(observation.day, []).append(observation.status)
    at_risk = [sum(s == "at_risk" for s in found) / len(found) for found in by_day.values()]
    not_healthy = [sum(s in NOT_HEALTHY for s in found) / len(found) for found in by_day.values()]
    return DailyShares(
        days=len(by_day),
        at_risk=statistics.spread(at_risk),
        not_healthy=statistics.spread(not_healthy),
    )


def early_flags(judged: Sequence[Observation], reason: str | None) -> EarlyFlags:
    """Churns flagged at least :data:`EARLY_DAYS` ahead, by status.

    Only churns that an observation reached that early are counted (a churn in the
    first weeks of the span had no replayed day 60 days before it). ``reason``: why
    the cut has too few churns to judge; the counts are still given.
    """
    reachable: set[tuple[str, object]] = set()
    by_at_risk: set[tuple[str, object]] = set()
    by_not_healthy: set[tuple[str, object]] = set()
    for o in judged:
        if not o.outcome or o.outcome_day is None:
            continue
        if (o.outcome_day - o.day).days < EARLY_DAYS:
            continue
        event = (o.account_id, o.outcome_day)
        reachable.add(event)
        if o.status == "at_risk":
            by_at_risk.add(event)
        if o.status in NOT_HEALTHY:
            by_not_healthy.add(event)
    return EarlyFlags(
        lead_days=EARLY_DAYS,
        churns=len(reachable),
        at_risk=share(len(by_at_risk), len(reachable), reason),
        not_healthy=share(len(by_not_healthy), len(reachable), reason),
    )


def share(count: int, of: int, reason: str | None) -> Share:
    if reason is not None:
        return Share(count=count, of=of, reason=reason)
    bounds = statistics.wilson(count, of)
    if bounds is None:
        return Share(count=count, of=of, reason="none to count")
    return Share(count=count, of=of, value=count / of, low=bounds[0], high=bounds[1])
