"""Confidence intervals for the metrics' rates, ratios, means and their differences.

Pure functions over counts and values, no I/O, so the backtest's statistics can share
them. Each names its method; docs/metrics.md ("How sure a figure is") says why each was
chosen:

- a share (renewal rate, reversal rate, completion rate): the Wilson score interval,
  which stays inside [0, 1] and keeps its coverage at small counts and near 0 or 1,
  where the textbook normal ("Wald") interval fails;
- a difference of two shares: Newcombe's hybrid score interval (his method 10), built
  from the two Wilson intervals;
- a ratio of sums over renewals (GRR, NRR): the ratio estimator's linearization
  (Taylor) variance, each renewal (account) one unit, so an account's ARR weighs as
  much as it does in the figure. It is exact arithmetic, O(n), deterministic, with no
  seed and no resampling cost on an API request;
- a mean (discount percent) and a difference of two ratios or means: the normal
  interval from the standard errors, the two samples independent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

Bounds = tuple[float, float]

WILSON = "Wilson score"
NEWCOMBE = "Newcombe hybrid score (method 10), from the two Wilson intervals"
RATIO = "ratio estimator, linearization (Taylor) variance over renewals (accounts)"
MEAN = "normal interval of the mean, sample standard deviation"
DIFFERENCE = "normal interval of the difference, the two standard errors combined"


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile: 1.95996... for a 95% interval."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of the share ``successes / n``."""
    if n <= 0:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n ({n}), got {successes}")
    share = successes / n
    z2 = z * z
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))
    # At 0 or n successes the bound is exactly 0 or 1; rounding must not move it.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def newcombe(
    successes_a: int, n_a: int, successes_b: int, n_b: int, z: float = 1.96
) -> tuple[float, float]:
    """Newcombe's hybrid score interval of ``successes_a / n_a - successes_b / n_b``."""
    share_a, share_b = successes_a / n_a if n_a else 0.0, successes_b / n_b if n_b else 0.0
    low_a, high_a = wilson(successes_a, n_a, z)
    low_b, high_b = wilson(successes_b, n_b, z)
    difference = share_a - share_b
    return (
        difference - math.sqrt((share_a - low_a) ** 2 + (high_b - share_b) ** 2),
        difference + math.sqrt((high_a - share_a) ** 2 + (share_b - low_b) ** 2),
    )


def ratio_variance(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The linearization variance of ``sum(numerators) / sum(denominators)``.

    With R the ratio and d_i = y_i - R x_i, v(R) = n / (n - 1) * sum(d_i^2) / sum(x)^2
    (Cochran, *Sampling Techniques*, 3rd ed., 6.3, without the finite-population
    correction: the renewals are a sample of what the program would do).
    """
    n = len(numerators)
    if n != len(denominators):
        raise ValueError("numerators and denominators must pair up")
    if n < 2:
        raise ValueError(f"a ratio's variance needs at least 2 units, got {n}")
    total = sum(denominators)
    if total <= 0:
        raise ValueError("the denominators must sum to more than 0")
    ratio = sum(numerators) / total
    residuals = sum((y - ratio * x) ** 2 for y, x in zip(numerators, denominators, strict=True))
    return n / (n - 1) * residuals / (total * total)


def ratio_interval(
    numerators: Sequence[float],
    denominators: Sequence[float],
    z: float = 1.96,
    *,
    upper: float | None = None,
) -> tuple[float, float]:
    """The normal interval of a ratio of sums, clipped to [0, ``upper``].

    GRR cannot pass 1 and no retention goes below 0: the clipped bound is the
    honest one.
    """
    ratio = sum(numerators) / sum(denominators)
    half = z * math.sqrt(ratio_variance(numerators, denominators))
    high = ratio + half if upper is None else min(upper, ratio + half)
    return max(0.0, ratio - half), high


def mean_variance(values: Sequence[float]) -> float:
    """The variance of the mean of ``values``: s^2 / n, s the sample standard deviation."""
    n = len(values)
    if n < 2:
        raise ValueError(f"a mean's variance needs at least 2 values, got {n}")
    mean = sum(values) / n
    return sum((v - mean) ** 2 for v in values) / (n - 1) / n


def mean_interval(values: Sequence[float], z: float = 1.96) -> tuple[float, float]:
    """The normal interval of the mean of ``values``."""
    mean = sum(values) / len(values)
    half = z * math.sqrt(mean_variance(values))
    return mean - half, mean + half


def difference_interval(
    difference: float, variance_a: float, variance_b: float, z: float = 1.96
) -> tuple[float, float]:
    """The normal interval of ``a - b`` for two independent estimates and their variances."""
    half = z * math.sqrt(variance_a + variance_b)
    return difference - half, difference + half
