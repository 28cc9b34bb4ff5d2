"""Intervals by a cluster bootstrap: resample accounts, not observations.

The observations of one account (the same account on many days) are not
independent: its score today is close to its score last week, and it churns once
for all of them. Resampling observations one by one would treat them as
independent and give intervals far too narrow. Each resample draws as many
accounts as there are, with replacement, and takes every observation of each
drawn account as many times as it was drawn; the interval is the central 95% of
the figure over the resamples. The draws come from one seeded generator, so the
same observations always give the same intervals.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from telltales.backtest.statistics import percentile_interval

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 18

Weights = Sequence[int]
"""How many times each account (by index) was drawn in one resample."""


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    resamples: int
    """The resamples in which the figure was defined (one without a churn has no AUC)."""


@dataclass(frozen=True)
class Ranked:
    """Observations in tie groups, riskiest first, each observation as its account's
    index: what the tie-group statistics of :mod:`~telltales.backtest.statistics`
    need, for the sample itself and for any resample."""

    pos: tuple[tuple[int, ...], ...]
    """Per group, the account of each churning observation."""
    neg: tuple[tuple[int, ...], ...]
    """Per group, the account of each observation that did not churn."""

    def sums(self, weights: Weights | None = None) -> tuple[list[float], list[float]]:
        """Each group's weight of churning and of non-churning observations."""
        if weights is None:
            return [float(len(g)) for g in self.pos], [float(len(g)) for g in self.neg]
        get = weights.__getitem__
        return (
            [float(sum(map(get, g))) for g in self.pos],
            [float(sum(map(get, g))) for g in self.neg],
        )


def rank(risks: Sequence[float], churned: Sequence[bool], accounts: Sequence[int]) -> Ranked:
    """Group observations (risk, outcome, account index) by equal risk, riskiest first."""
    groups: dict[float, tuple[list[int], list[int]]] = {}
    for risk, outcome, account in zip(risks, churned, accounts, strict=True):
        pair = groups.setdefault(risk, ([], []))
        pair[0 if outcome else 1].append(account)
    ordered = sorted(groups.items(), key=lambda item: -item[0])
    return Ranked(
        pos=tuple(tuple(pair[0]) for _, pair in ordered),
        neg=tuple(tuple(pair[1]) for _, pair in ordered),
    )


def resamples(accounts: int, count: int, seed: int) -> Iterator[list[int]]:
    """``count`` resamples of ``accounts`` accounts: how often each was drawn."""
    rng = random.Random(seed)
    population = range(accounts)
    for _ in range(count):
        weights = [0] * accounts
        for drawn in rng.choices(population, k=accounts):
            weights[drawn] += 1
        yield weights


def intervals(
    figures: Callable[[Weights], Mapping[str, float | None]],
    accounts: int,
    count: int,
    seed: int,
) -> dict[str, Interval | None]:
    """The 95% interval of each figure ``figures`` computes, over ``count`` resamples
    of the accounts (one call per resample computes them all, so work they share,
    such as a sort, is done once).

    None for a figure defined in fewer than half of the resamples: an interval from
    the few that happen to hold both outcomes would claim more than the data says.
    """
    found: dict[str, list[float]] = {}
    for weights in resamples(accounts, count, seed):
        for name, value in figures(weights).items():
            values = found.setdefault(name, [])
            if value is not None:
                values.append(value)
    result: dict[str, Interval | None] = {}
    for name, values in found.items():
        if len(values) * 2 < count:
            result[name] = None
            continue
        low, high = percentile_interval(values)
        result[name] = Interval(low=low, high=high, resamples=len(values))
    return result
