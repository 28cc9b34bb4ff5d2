"""Gross and net dollar retention, against renewals worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from support.metric_history import MetricHistory, documented_example, rounded
from telltales.metrics import MetricFilter, retention
from telltales.store import Store

QUARTER = MetricFilter(from_=date(2026, 1, 1), to=date(2026, 3, 31))
EMEA = MetricFilter(csm_group="emea", from_=date(2026, 1, 1), to=date(2026, 3, 31))


def write_history(history: MetricHistory) -> None:
    """Renewals due in Q1 2026 (ARR before -> after):

    emea  d1 100 -> 130 (expansion: retained 100)
          d2 200 -> 150 (contraction: retained 150)
          d3 100 -> 0   (churn: retained 0)
          d4 100 -> 100 (flat: retained 100)
    amer  g1 100 -> 150 (expansion: retained 100)
    not counted: d5, due 10 April 2026.

    emea: before 500, after 380, retained 350 -> GRR 0.70, NRR 0.76; 3 of 4 renewed.
    amer: before 100, after 150, retained 100 -> GRR 1.0, NRR 1.5 (expansion > 1).
    all:  before 600, after 530, retained 450 -> GRR 0.75, NRR 530/600 = 0.8833.
    """
    for account in ("d1", "d2", "d3", "d4", "d5"):
        history.account(account)
    history.account("g1", csm_group="amer", owner="bob")
    history.renewal("d1", "2026-01-15", 100, 130)
    history.renewal("d2", "2026-02-01", 200, 150)
    history.renewal("d3", "2026-02-15", 100, 0)
    history.renewal("d4", "2026-03-31", 100, 100)
    history.renewal("d5", "2026-04-10", 100, 0)
    history.renewal("g1", "2026-03-01", 100, 150)


@pytest.fixture
def history(store: Store) -> MetricHistory:
    history = MetricHistory(store)
    write_history(history)
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
