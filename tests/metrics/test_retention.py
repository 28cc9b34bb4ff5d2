"""Gross and net dollar retention, against renewals worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from support.metric_history import MetricHistory, documented_example, rounded
from support.metric_stories import write_retention_history
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
