"""The figures of a backtest against independent, brute-force computations.

Each figure is computed here the slow, obvious way (every pair, every threshold,
every order of a tie) and compared with telltales.backtest.statistics, which works
on tie groups so that a bootstrap can reuse one sort.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import pytest
from telltales.backtest import statistics
from telltales.backtest.bootstrap import Interval, intervals, rank


def _groups(risks: Sequence[float], churned: Sequence[bool]) -> tuple[list[float], list[float]]:
    ranked = rank(risks, churned, [0] * len(risks))
    return ranked.sums()


def _pairwise_auc(risks: Sequence[float], churned: Sequence[bool]) -> float:
    pos = [r for r, c in zip(risks, churned, strict=True) if c]
    neg = [r for r, c in zip(risks, churned, strict=True) if not c]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _threshold_ap(risks: Sequence[float], churned: Sequence[bool]) -> float:
    total = sum(churned)
    area, recall_before = 0.0, 0.0
    for threshold in sorted(set(risks), reverse=True):
        flagged = [c for r, c in zip(risks, churned, strict=True) if r >= threshold]
        recall = sum(flagged) / total
        area += (recall - recall_before) * (sum(flagged) / len(flagged))
        recall_before = recall
    return area


def _random_book(seed: int, size: int) -> tuple[list[float], list[bool]]:
    rng = random.Random(seed)
    risks = [float(rng.randint(0, 12)) for _ in range(size)]  # few values: many ties
    churned = [rng.random() < 0.1 + r / 30 for r in risks]
    return risks, churned


@pytest.mark.parametrize("seed", range(8))
def test_auc_and_average_precision_equal_the_brute_force_ones(seed: int) -> None:
    risks, churned = _random_book(seed, 120)
    pos, neg = _groups(risks, churned)
    assert statistics.roc_auc(pos, neg) == pytest.approx(_pairwise_auc(risks, churned))
    assert statistics.average_precision(pos, neg) == pytest.approx(_threshold_ap(risks, churned))


def test_hand_built_figures() -> None:
    risks, churned = [0.9, 0.8, 0.7, 0.6], [True, False, True, False]
    pos, neg = _groups(risks, churned)
    assert statistics.roc_auc(pos, neg) == pytest.approx(3 / 4)
    assert statistics.average_precision(pos, neg) == pytest.approx(1 * 0.5 + 2 / 3 * 0.5)
    # Every churn tied with every non-churn: a coin toss.
    assert statistics.roc_auc(*_groups([1, 1, 1], [True, False, False])) == 0.5
    assert statistics.roc_auc(*_groups([1, 2], [True, True])) is None
    assert statistics.average_precision(*_groups([1, 2], [False, False])) is None


def test_lift_of_the_riskiest_tenth() -> None:
    risks = [float(20 - i) for i in range(20)]
    churned = [i < 2 or i in (10, 15) for i in range(20)]  # base rate 4/20
    assert statistics.top_decile_lift(*_groups(risks, churned)) == pytest.approx(1 / 0.2)


def test_lift_shares_a_straddling_tie_as_a_random_order_would() -> None:
    # 10 observations: the riskiest tenth is one of the three tied at the top.
    risks = [5.0, 5.0, 5.0, 4, 3, 2, 1, 0, 0, 0]
    churned = [True, False, False, True, False, False, False, False, False, False]
    orders = list(itertools.permutations(range(3)))
    expected = sum(churned[order[0]] for order in orders) / len(orders)  # 1/3
    base = sum(churned) / len(churned)
    assert statistics.top_decile_lift(*_groups(risks, churned)) == pytest.approx(expected / base)


def test_brier_wilson_and_spread() -> None:
    assert statistics.brier([0.9, 0.2], [True, False]) == pytest.approx((0.01 + 0.04) / 2)
    low, high = statistics.wilson(0, 10) or (0, 0)
    assert (low, round(high, 4)) == (0.0, 0.2775)
    low, high = statistics.wilson(5, 10) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    assert statistics.wilson(0, 0) is None
    found = statistics.spread([4, 1, 3, 2])
    assert found is not None
    assert (found.q1, found.median, found.q3) == (1.75, 2.5, 3.25)


def _by_account(seed: int, accounts: int, days: int) -> list[tuple[int, float, bool]]:
    rng = random.Random(seed)
    rows = []
    for account in range(accounts):
        level = rng.randint(0, 10)
        churns = rng.random() < 0.1 + level / 25
        rows += [(account, float(level + rng.randint(-1, 1)), churns) for _ in range(days)]
    return rows


def _auc_interval(rows: Sequence[tuple[int, float, bool]], accounts: int) -> Interval | None:
    ranked = rank([r for _, r, _ in rows], [c for _, _, c in rows], [a for a, _, _ in rows])

    def figures(weights: Sequence[int]) -> dict[str, float | None]:
        return {"auc": statistics.roc_auc(*ranked.sums(weights))}

    return intervals(figures, accounts, 200, seed=5)["auc"]


def test_the_bootstrap_resamples_accounts_not_observations() -> None:
    """Seeing each account's days twice over adds no information: the interval stays."""
    rows = _by_account(1, 60, 3)
    doubled = rows + rows
    assert _auc_interval(rows, 60) == _auc_interval(doubled, 60)


def test_the_bootstrap_interval_equals_a_brute_force_one_on_the_same_draws() -> None:
    rows = _by_account(2, 40, 2)
    found = _auc_interval(rows, 40)
    rng = random.Random(5)
    values = []
    for _ in range(200):
        drawn = rng.choices(range(40), k=40)
        sample = [row for account in drawn for row in rows if row[0] == account]
        if any(c for _, _, c in sample) and not all(c for _, _, c in sample):
            values.append(_pairwise_auc([r for _, r, _ in sample], [c for _, _, c in sample]))
    values.sort()
    assert isinstance(found, Interval)
    assert found.resamples == len(values)
    assert found.low == pytest.approx(_percentile(values, 0.025))
    assert found.high == pytest.approx(_percentile(values, 0.975))


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between the order statistics around ``q``."""
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
