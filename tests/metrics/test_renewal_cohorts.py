"""Renewal rate by risk cohort and discounting on at-risk renewals, worked out by hand.

Both split renewals by the same flag (At-Risk in the N days before the renewal), so
they share one history.
"""

from __future__ import annotations

from datetime import date

import pytest
from support.metric_history import MetricHistory, documented_example, rounded
from telltales.metrics import MetricFilter, MetricInputError, discounting, renewal_by_cohort
from telltales.store import Store

QUARTER = MetricFilter(from_=date(2026, 1, 1), to=date(2026, 3, 31))


def write_history(history: MetricHistory) -> None:
    """Renewals due in Q1 2026, lookback 90 days (ARR before -> after, discount):

    e1  due 1 Mar (window opens 1 Dec): entered At-Risk 10 Jan, a live At-Risk
        playbook ran that day                                  (a) 100 -> 100, 20%
    e2  due 15 Mar (opens 15 Dec): At-Risk since 1 Nov, a live playbook ran then,
        still At-Risk when the window opened                   (a) 100 -> 0, churned
    e3  due 1 Feb: entered At-Risk 5 Jan in a pilot's control group: the playbook
        ran in shadow only                                     (b) 200 -> 180, 10%
    e6  due 30 Mar (opens 30 Dec): At-Risk 1 Sep (live playbook) -> Healthy 1 Oct
        -> At-Risk 1 Dec, whose run was held back by the weekly cap: the live run
        belongs to an earlier stretch                          (b) 100 -> 0, churned
    e4  due 20 Mar (opens 20 Dec): At-Risk 1 Oct -> Healthy 1 Nov, before the window
                                                               (c) 100 -> 130, 0%
    e5  due 20 Feb: never flagged                              (c) 100 -> 100, 5%
    e7  due 20 Jan: entered Concern (not At-Risk) 2 Jan, a live Concern playbook
                                                               (c) 100 -> 70, 10%

    (a) 2 renewals, 1 renewed: logo 0.5; before 200, after 100, retained 100: GRR 0.5, NRR 0.5
    (b) 2 renewals, 1 renewed: logo 0.5; before 300, after 180, retained 180: GRR 0.6, NRR 0.6
    (c) 3 renewals, 3 renewed: logo 1.0; before 300, after 300, retained 270: GRR 0.9, NRR 1.0

    Discounting (renewed only; e2 and e6 churned, left out): flagged e1 20%, e3 10%
    -> mean 15; others e4 0%, e5 5%, e7 10% -> mean 5; difference +10 points.
    """
    for account in ("e1", "e2", "e3", "e4", "e5", "e6", "e7"):
        history.account(account)
    run = history.playbook_run
    run(history.transition("e1", "2026-01-10", "at_risk"))
    history.renewal("e1", "2026-03-01", 100, 100, discount_percent=20)
    run(history.transition("e2", "2025-11-01", "at_risk"))
    history.renewal("e2", "2026-03-15", 100, 0)
    run(history.transition("e3", "2026-01-05", "at_risk", cohort="control"), mode="shadow")
    history.renewal("e3", "2026-02-01", 200, 180, discount_percent=10)
    run(history.transition("e6", "2025-09-01", "at_risk"))
    history.transition("e6", "2025-10-01", "healthy")
    run(history.transition("e6", "2025-12-01", "at_risk"), mode="held_back")
    history.renewal("e6", "2026-03-30", 100, 0)
    run(history.transition("e4", "2025-10-01", "at_risk"))
    history.transition("e4", "2025-11-01", "healthy")
    history.renewal("e4", "2026-03-20", 100, 130)
    history.renewal("e5", "2026-02-20", 100, 100, discount_percent=5)
    run(history.transition("e7", "2026-01-02", "concern"))
    history.renewal("e7", "2026-01-20", 100, 70, discount_percent=10)


@pytest.fixture
def history(store: Store) -> MetricHistory:
    history = MetricHistory(store)
    write_history(history)
    return history


def test_three_risk_cohorts(history: MetricHistory) -> None:
    report = renewal_by_cohort(history.store, QUARTER)
    assert report.lookback_days == 90
    rows = {row.risk_cohort: row for row in report.overall}
    assert list(rows) == ["flagged_with_playbook", "flagged_without_playbook", "not_flagged"]
    treated, untreated, never = rows.values()
    assert (treated.renewals, treated.renewed, treated.logo_renewal_rate) == (2, 1, 0.5)
    assert (treated.arr_before, treated.arr_after, treated.grr, treated.nrr) == (200, 100, 0.5, 0.5)
    assert (untreated.renewals, untreated.renewed, untreated.logo_renewal_rate) == (2, 1, 0.5)
    assert (untreated.arr_before, untreated.arr_after) == (300, 180)
    assert (untreated.grr, untreated.nrr) == pytest.approx((0.6, 0.6))
    assert (never.renewals, never.renewed, never.logo_renewal_rate) == (3, 3, 1.0)
    assert (never.arr_before, never.arr_after, never.arr_retained) == (300, 300, 270)
    assert (never.grr, never.nrr) == pytest.approx((0.9, 1.0))


def test_discounting_flagged_against_the_others(history: MetricHistory) -> None:
    overall = discounting(history.store, QUARTER).overall
    assert (overall.flagged.renewals, overall.flagged.mean_discount_percent) == (2, 15.0)
    assert (overall.not_flagged.renewals, overall.not_flagged.mean_discount_percent) == (3, 5.0)
    assert overall.difference_points == pytest.approx(10.0)
    assert overall.churned_left_out == 2


def test_flag_window_boundaries(store: Store) -> None:
    """All due 31 Mar 2026; with 90 days the window opens 31 Dec 2025.

    f1 entered At-Risk on 31 Dec, the window's first day          flagged
    f2 At-Risk 1 Dec -> Healthy 30 Dec, the day before it opens     not flagged
    f3 entered At-Risk on 31 Mar, the renewal day                  flagged
    f4 At-Risk 1 Dec -> Healthy 31 Dec: At-Risk when it opened      flagged
    With 30 days (opens 1 Mar): f1 (never left At-Risk) and f3 are flagged, f2 and f4
    had left before.
    """
    history = MetricHistory(store)
    for account in ("f1", "f2", "f3", "f4"):
        history.account(account)
        history.renewal(account, "2026-03-31", 100, 100)
    history.transition("f1", "2025-12-31", "at_risk")
    history.transition("f2", "2025-12-01", "at_risk")
    history.transition("f2", "2025-12-30", "healthy")
    history.transition("f3", "2026-03-31", "at_risk")
    history.transition("f4", "2025-12-01", "at_risk")
    history.transition("f4", "2025-12-31", "healthy")
    overall = discounting(store, QUARTER).overall
    assert (overall.flagged.renewals, overall.not_flagged.renewals) == (3, 1)
    overall = discounting(store, QUARTER, lookback_days=30).overall
    assert (overall.flagged.renewals, overall.not_flagged.renewals) == (2, 2)


def test_grouped_and_limited(store: Store) -> None:
    """emea: h1 flagged and treated, renewed. amer: k1 never flagged, churned."""
    history = MetricHistory(store)
    history.account("h1")
    history.account("k1", csm_group="amer", owner="bob")
    history.playbook_run(history.transition("h1", "2026-01-10", "at_risk"))
    history.renewal("h1", "2026-02-01", 100, 100, discount_percent=25)
    history.renewal("k1", "2026-02-01", 100, 0)
    grouped = MetricFilter(group_by="csm_group", from_=date(2026, 1, 1), to=date(2026, 3, 31))
    rows = renewal_by_cohort(store, grouped).groups
    assert [(r.group, r.risk_cohort, r.renewals, r.renewed) for r in rows] == [
        ("amer", "flagged_with_playbook", 0, 0),
        ("amer", "flagged_without_playbook", 0, 0),
        ("amer", "not_flagged", 1, 0),
        ("emea", "flagged_with_playbook", 1, 1),
        ("emea", "flagged_without_playbook", 0, 0),
        ("emea", "not_flagged", 0, 0),
    ]
    limited = MetricFilter(limited_to=("emea",), from_=date(2026, 1, 1), to=date(2026, 3, 31))
    overall = discounting(store, limited).overall
    assert (overall.flagged.renewals, overall.flagged.mean_discount_percent) == (1, 25.0)
    assert (overall.not_flagged.renewals, overall.churned_left_out) == (0, 0)
    assert overall.difference_points is None


def test_empty_cohorts_give_null_rates(store: Store) -> None:
    for row in renewal_by_cohort(store, QUARTER).overall:
        assert (row.renewals, row.logo_renewal_rate, row.grr, row.nrr) == (0, None, None, None)
    overall = discounting(store, QUARTER).overall
    assert overall.flagged.mean_discount_percent is None
    assert overall.difference_points is None


@pytest.mark.parametrize("days", [0, 731])
def test_lookback_is_bounded(store: Store, days: int) -> None:
    with pytest.raises(MetricInputError, match="lookback_days: must be between 1 and 730"):
        renewal_by_cohort(store, QUARTER, lookback_days=days)


def test_documented_examples(history: MetricHistory) -> None:
    cohorts = renewal_by_cohort(history.store, QUARTER)
    assert rounded(cohorts.overall) == documented_example("renewal-by-cohort")
    discounts = discounting(history.store, QUARTER)
    assert rounded(discounts.overall) == documented_example("discounting")
