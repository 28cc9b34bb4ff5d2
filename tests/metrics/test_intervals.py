"""The interval functions against published values and hand computations.

Wilson and Newcombe values are the worked examples of Newcombe (1998), Statistics in
Medicine 17: "Two-sided confidence intervals for the single proportion" (method 3)
and "Interval estimation for the difference between independent proportions"
(method 10), at 95%, to the four decimals printed there.
"""

from __future__ import annotations

import math

import pytest
from telltales.metrics.intervals import (
    difference_interval,
    mean_interval,
    newcombe,
    ratio_interval,
    ratio_variance,
    wilson,
    z_value,
)

Z95 = z_value(0.95)


def test_z_of_a_95_percent_interval() -> None:
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.90) == pytest.approx(1.644854, abs=1e-6)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_1998(successes: int, n: int, low: float, high: float) -> None:
    assert wilson(successes, n, Z95) == pytest.approx((low, high), abs=5e-5)


def test_wilson_at_all_successes_reaches_one_exactly() -> None:
    assert wilson(20, 20)[1] == 1.0
    assert wilson(0, 5)[0] == 0.0


def test_wilson_by_hand() -> None:
    # 3 of 4, z = 1.96: centre (0.75 + 3.8416 / 8) / 1.9604 = 0.627525; half =
    # 1.96 / 1.9604 * sqrt(0.75 * 0.25 / 4 + 3.8416 / 64) = 0.326889.
    assert wilson(3, 4) == pytest.approx((0.300636, 0.954414), abs=1e-6)


@pytest.mark.parametrize("bad", [(1, 0), (-1, 5), (6, 5)])
def test_wilson_refuses_impossible_counts(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        wilson(*bad)


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0000),
    ],
)
def test_newcombe_matches_newcombe_1998(
    a: int, n_a: int, b: int, n_b: int, low: float, high: float
) -> None:
    assert newcombe(a, n_a, b, n_b, Z95) == pytest.approx((low, high), abs=5e-5)


def test_ratio_variance_by_hand() -> None:
    # GRR of docs/metrics.md's example: retained (100, 150, 0, 100) over ARR before
    # (100, 200, 100, 100): R = 350 / 500 = 0.7, residuals y - 0.7 x = (30, 10, -70, 30),
    # squares sum to 6800; v = 4 / 3 * 6800 / 500^2 = 0.0362667.
    assert ratio_variance([100, 150, 0, 100], [100, 200, 100, 100]) == pytest.approx(
        4 / 3 * 6800 / 250_000
    )


def test_ratio_interval_by_hand_and_clipped() -> None:
    half = 1.96 * math.sqrt(4 / 3 * 6800 / 250_000)  # 0.37352
    grr = ratio_interval([100, 150, 0, 100], [100, 200, 100, 100], upper=1.0)
    assert grr == pytest.approx((0.7 - half, 1.0))
    # NRR: after (130, 150, 0, 100), R = 0.76, residuals (54, -2, -76, 24): 9272.
    nrr_half = 1.96 * math.sqrt(4 / 3 * 9272 / 250_000)
    nrr = ratio_interval([130, 150, 0, 100], [100, 200, 100, 100])
    assert nrr == pytest.approx((0.76 - nrr_half, 0.76 + nrr_half))


def test_a_ratio_that_every_unit_shares_has_no_spread() -> None:
    assert ratio_interval([50, 100, 25], [100, 200, 50]) == pytest.approx((0.5, 0.5))


def test_ratio_needs_two_units_and_some_arr() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        ratio_variance([1.0], [1.0])
    with pytest.raises(ValueError, match="more than 0"):
        ratio_variance([0.0, 0.0], [0.0, 0.0])


def test_mean_and_difference_by_hand() -> None:
    # (10, 20, 30): mean 20, s^2 = (100 + 0 + 100) / 2 = 100, se = sqrt(100 / 3).
    se = math.sqrt(100 / 3)
    assert mean_interval([10, 20, 30]) == pytest.approx((20 - 1.96 * se, 20 + 1.96 * se))
    assert difference_interval(5.0, 9.0, 16.0) == pytest.approx((5 - 1.96 * 5, 5 + 1.96 * 5))
