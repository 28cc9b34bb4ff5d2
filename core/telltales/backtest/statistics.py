"""The figures of a backtest: pure functions over numbers, no I/O, no dates.

Observations are given as *tie groups*: the observations of equal risk together,
riskiest first, each group as the weight of its churning (``pos``) and
non-churning (``neg``) observations. A plain set of observations has weight 1
each; a bootstrap resample weighs each observation by how many times its account
was drawn (:mod:`telltales.backtest.bootstrap`). Grouping ties once lets every
resample reuse the one sort, and makes ties count half, as the definitions want
(/work/shared/domain.md: "Predictive quality of a score or rule").
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import msgspec

from telltales.metrics import intervals

Z_95 = 1.959963984540054
"""The normal quantile of a two-sided 95% interval."""


class Spread(msgspec.Struct, kw_only=True, frozen=True):
    """The median and the interquartile range of a set of values."""

    count: int
    median: float
    q1: float
    q3: float


def roc_auc(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    """The probability that a random churning observation is ranked riskier than a
    random non-churning one, ties counting half; None without both kinds.

    Groups run riskiest first: a churn in group g outranks every non-churn in the
    groups after it and ties with those of g.
    """
    total_pos, total_neg = math.fsum(pos), math.fsum(neg)
    if total_pos <= 0 or total_neg <= 0:
        return None
    below = total_neg
    wins = 0.0
    for p, n in zip(pos, neg, strict=True):
        below -= n
        wins += p * (below + 0.5 * n)
    return wins / (total_pos * total_neg)


def average_precision(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    """The area under the precision-recall curve, as a step sum: over each distinct
    risk threshold (a tie group), the recall it adds times the precision of
    flagging everything at least that risky. None without a churn."""
    total_pos = math.fsum(pos)
    if total_pos <= 0:
        return None
    flagged_pos = flagged = area = 0.0
    for p, n in zip(pos, neg, strict=True):
        flagged_pos += p
        flagged += p + n
        if p > 0:
            area += p / total_pos * (flagged_pos / flagged)
    return area


def top_share_rate(pos: Sequence[float], neg: Sequence[float], share: float = 0.1) -> float | None:
    """The churn rate among the riskiest ``share`` of the observations.

    The cut falls exactly at ``share`` of the total weight; a tie group straddling it
    counts in proportion, which is the rate a random order within the tie would give
    on average. None when there is no observation.
    """
    total = math.fsum(pos) + math.fsum(neg)
    if total <= 0:
        return None
    room = share * total
    taken_pos = 0.0
    left = room
    for p, n in zip(pos, neg, strict=True):
        size = p + n
        if size <= 0:
            continue
        if size >= left:
            taken_pos += p * left / size
            break
        taken_pos += p
        left -= size
    return taken_pos / room


def top_decile_lift(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    """The churn rate of the riskiest tenth over the base rate; None without a churn."""
    total_pos = math.fsum(pos)
    total = total_pos + math.fsum(neg)
    top = top_share_rate(pos, neg, 0.1)
    if top is None or total_pos <= 0:
        return None
    return top / (total_pos / total)


def brier(probabilities: Sequence[float], churned: Sequence[bool]) -> float | None:
    """The mean squared difference between the probability and what happened (1 or 0)."""
    if not probabilities:
        return None
    return math.fsum(
        (p - float(y)) ** 2 for p, y in zip(probabilities, churned, strict=True)
    ) / len(probabilities)


def wilson(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (:func:`telltales.metrics.intervals.wilson`,
    the one the metrics use), or None without trials."""
    return intervals.wilson(successes, trials, z) if trials > 0 else None


def spread(values: Sequence[float]) -> Spread | None:
    """Median and quartiles (inclusive method: the quartiles of the values themselves)."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        only = float(ordered[0])
        return Spread(count=1, median=only, q1=only, q3=only)
    q1, median, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return Spread(count=len(ordered), median=median, q1=q1, q3=q3)


def percentile_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` of ``values`` (linear interpolation between order statistics)."""
    ordered = sorted(values)
    tail = (1 - level) / 2
    return _quantile(ordered, tail), _quantile(ordered, 1 - tail)


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
