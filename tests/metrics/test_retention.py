"""Gross and net dollar retention, against renewals worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import pytest
from support.metric_history import MetricHistory, documented_example, rounded
from support.metric_stories import write_retention_history
from telltales.config import MetricSettings
from telltales.metrics import MetricFilter, retention
from telltales.store import Store

QUARTER = MetricFilter(from_=date(2026, 1, 1), to=date(2026, 3, 31))
EMEA = MetricFilter(csm_group="emea", from_=date(2026, 1, 1), to=date(2026, 3, 31))


@pytest.fixture
def history(store: Store) -> MetricHistory:
    history = MetricHistory(store)
    write_retention_history(history)
    return history


def test_grr_and_nrr_of_one_group(history: MetricHistory) -> None:
    overall = retention(history.store, EMEA).overall
    assert (overall.renewals, overall.renewed, overall.churned) == (4, 3, 1)
    assert (overall.arr_before, overall.arr_after, overall.arr_retained) == (500, 380, 350)
    assert overall.grr == pytest.approx(0.70)
    assert overall.nrr == pytest.approx(0.76)
    assert overall.logo_renewal_rate == pytest.approx(0.75)


def test_expansion_takes_nrr_above_one_but_not_grr(history: MetricHistory) -> None:
    grouped = MetricFilter(group_by="csm_group", from_=date(2026, 1, 1), to=date(2026, 3, 31))
    report = retention(history.store, grouped)
    assert [r.group for r in report.groups] == ["amer", "emea"]
    assert [r.grr for r in report.groups] == pytest.approx([1.0, 0.70])
    assert [r.nrr for r in report.groups] == pytest.approx([1.5, 0.76])
    assert (report.overall.arr_before, report.overall.arr_after) == (600, 530)
    assert report.overall.grr == pytest.approx(0.75)
    assert report.overall.nrr == pytest.approx(530 / 600)


def test_no_renewals_gives_null_rates(store: Store) -> None:
    overall = retention(store, QUARTER).overall
    assert (overall.renewals, overall.arr_before, overall.grr, overall.nrr) == (0, 0, None, None)
    assert overall.logo_renewal_rate is None


def test_documented_example(history: MetricHistory) -> None:
    report = retention(history.store, EMEA)
    assert rounded(report.overall) == documented_example("retention")


def test_below_the_minimum_the_figures_are_withheld_with_the_count(
    history: MetricHistory,
) -> None:
    overall = retention(history.store, EMEA).overall
    assert (overall.sample.n, overall.sample.minimum, overall.sample.enough) == (4, 20, False)
    assert overall.sample.withheld == "too few renewals yet (4; 20 needed)"
    assert (overall.grr_interval, overall.nrr_interval) == (None, None)
    assert overall.logo_renewal_rate_interval is None


def test_intervals_of_the_worked_example(history: MetricHistory) -> None:
    """docs/metrics.md's hand computation, with the minimum lowered to 4."""
    report = retention(history.store, EMEA, settings=MetricSettings(min_renewals=4))
    overall = report.overall
    assert overall.sample.enough
    assert overall.sample.withheld is None
    assert report.confidence == 0.95
    grr_half = 1.959964 * math.sqrt(4 / 3 * 6800 / 500**2)
    nrr_half = 1.959964 * math.sqrt(4 / 3 * 9272 / 500**2)
    assert overall.grr_interval is not None
    assert overall.nrr_interval is not None
    assert (overall.grr_interval.low, overall.grr_interval.high) == pytest.approx(
        (0.70 - grr_half, 1.0)
    )
    assert (overall.nrr_interval.low, overall.nrr_interval.high) == pytest.approx(
        (0.76 - nrr_half, 0.76 + nrr_half)
    )
    assert overall.logo_renewal_rate_interval is not None
    assert overall.logo_renewal_rate_interval.low == pytest.approx(0.3006, abs=1e-4)
    assert overall.logo_renewal_rate_interval.high == pytest.approx(0.9544, abs=1e-4)


def test_pilot_against_control_carries_the_difference_and_its_interval(store: Store) -> None:
    """Pilot: 3 renewals 100 -> 100, 100 -> 100, 100 -> 0; control: 2 of 100 -> 50, 100 -> 0.

    Logo rates 2/3 and 1/2; GRR 2/3 and 1/4. Control's GRR by hand: retained (50, 0)
    over (100, 100), R = 0.25, residuals (25, -25): v = 2 * 1250 / 200^2 = 0.0625.
    Pilot's: residuals (100/3, 100/3, -200/3): 20000/3 * 3/2 / 300^2 = 0.1111.
    """
    history = MetricHistory(store)
    for account, cohort, before, after in [
        ("p1", "pilot", 100, 100),
        ("p2", "pilot", 100, 100),
        ("p3", "pilot", 100, 0),
        ("c1", "control", 100, 50),
        ("c2", "control", 100, 0),
    ]:
        history.account(account)
        history.renewal(account, "2026-02-01", before, after, cohort=cohort)
    by_cohort = MetricFilter(group_by="cohort", from_=date(2026, 1, 1), to=date(2026, 3, 31))
    report = retention(store, by_cohort, settings=MetricSettings(min_renewals=2))
    found = {c.figure: c for c in report.comparisons}
    assert [c.figure for c in report.comparisons] == ["logo_renewal_rate", "grr", "nrr"]
    grr = found["grr"]
    assert (grr.first, grr.second) == ("pilot", "control")
    assert grr.difference == pytest.approx(2 / 3 - 1 / 4)
    half = 1.959964 * math.sqrt(1 / 9 + 0.0625)
    assert grr.interval is not None
    assert (grr.interval.low, grr.interval.high) == pytest.approx(
        (2 / 3 - 1 / 4 - half, 2 / 3 - 1 / 4 + half)
    )
    logo = found["logo_renewal_rate"]
    assert logo.difference == pytest.approx(2 / 3 - 1 / 2)
    assert logo.interval is not None
    assert logo.interval.low < 0 < logo.interval.high
    # With the default minimum (20), the same comparison names both sides' counts.
    withheld = retention(store, by_cohort).comparisons[1]
    assert (withheld.interval, withheld.enough) == (None, False)
    assert withheld.withheld == (
        "pilot: too few renewals yet (3; 20 needed); control: too few renewals yet (2; 20 needed)"
    )


def test_no_comparison_without_cohorts(history: MetricHistory) -> None:
    assert retention(history.store, EMEA).comparisons == []
