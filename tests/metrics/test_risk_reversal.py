"""Risk status reversal rate, against a history worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import pytest
from support.metric_history import MetricHistory, documented_example, rounded
from support.metric_stories import write_risk_reversal_history
from telltales.config import MetricSettings
from telltales.metrics import MetricFilter, MetricInputError, risk_reversal
from telltales.store import Store

QUARTER = MetricFilter(from_=date(2026, 1, 1), to=date(2026, 3, 31))
AS_OF = date(2026, 3, 31)


@pytest.fixture
def history(store: Store) -> MetricHistory:
    history = MetricHistory(store)
    write_risk_reversal_history(history)
    return history


def test_thirty_days(history: MetricHistory) -> None:
    report = risk_reversal(history.store, QUARTER, window_days=30, as_of=AS_OF)
    overall = report.overall
    assert (overall.episodes, overall.old_enough, overall.too_young) == (6, 5, 1)
    assert (overall.reversed, overall.not_reversed) == (3, 2)
    assert overall.rate == pytest.approx(0.6)
    assert report.window_days == 30
    assert report.as_of == AS_OF


def test_sixty_days(history: MetricHistory) -> None:
    overall = risk_reversal(history.store, QUARTER, window_days=60, as_of=AS_OF).overall
    assert (overall.episodes, overall.old_enough, overall.too_young) == (6, 4, 2)
    assert overall.reversed == 3
    assert overall.rate == pytest.approx(0.75)


def test_cut_by_group_and_grouped(history: MetricHistory) -> None:
    emea = MetricFilter(csm_group="emea", from_=date(2026, 1, 1), to=date(2026, 3, 31))
    overall = risk_reversal(history.store, emea, as_of=AS_OF).overall
    assert (overall.episodes, overall.old_enough, overall.reversed) == (5, 4, 2)
    assert overall.rate == pytest.approx(0.5)
    grouped = MetricFilter(group_by="csm_group", from_=date(2026, 1, 1), to=date(2026, 3, 31))
    rows = risk_reversal(history.store, grouped, as_of=AS_OF).groups
    assert [(r.group, r.episodes, r.old_enough, r.reversed, r.rate) for r in rows] == [
        ("amer", 1, 1, 1, 1.0),
        ("emea", 5, 4, 2, 0.5),
    ]


def test_a_key_limited_to_a_group_counts_that_group_only(history: MetricHistory) -> None:
    limited = MetricFilter(limited_to=("amer",), from_=date(2026, 1, 1), to=date(2026, 3, 31))
    overall = risk_reversal(history.store, limited, as_of=AS_OF).overall
    assert (overall.episodes, overall.reversed, overall.rate) == (1, 1, 1.0)


def test_boundaries(store: Store) -> None:
    """Back at Healthy exactly W days after entering is a reversal, W + 1 days is not;
    an episode exactly W days old on as_of is old enough.

    d1 At-Risk 1 Feb -> Healthy 3 Mar (30 days): reversed
    d2 At-Risk 1 Feb -> Healthy 4 Mar (31 days): not reversed
    d3 At-Risk 1 Mar: 30 days old on 31 Mar, old enough, not reversed
    d4 At-Risk 2 Mar: 29 days old, too young
    -> 4 episodes, 3 old enough, 1 reversed: 1/3.
    """
    history = MetricHistory(store)
    for account, entered, healthy in (
        ("d1", "2026-02-01", "2026-03-03"),
        ("d2", "2026-02-01", "2026-03-04"),
        ("d3", "2026-03-01", None),
        ("d4", "2026-03-02", None),
    ):
        history.account(account)
        history.transition(account, entered, "at_risk")
        if healthy:
            history.transition(account, healthy, "healthy")
    overall = risk_reversal(store, QUARTER, as_of=AS_OF).overall
    assert (overall.episodes, overall.old_enough, overall.too_young) == (4, 3, 1)
    assert overall.reversed == 1
    assert overall.rate == pytest.approx(1 / 3)


def test_same_day_return_counts_once_the_order_is_known(store: Store) -> None:
    """Entered At-Risk at 09:00 and back at Healthy at 17:00 the same day: 0 days, reversed.
    A Healthy transition earlier that day (before the entry) is not a return."""
    history = MetricHistory(store)
    history.account("e1")
    history.transition("e1", "2026-01-05", "healthy", at="2026-01-05T08:00:00+00:00")
    history.transition("e1", "2026-01-05", "at_risk", at="2026-01-05T09:00:00+00:00")
    history.account("e2")
    history.transition("e2", "2026-01-05", "at_risk", at="2026-01-05T09:00:00+00:00")
    history.transition("e2", "2026-01-05", "healthy", at="2026-01-05T17:00:00+00:00")
    overall = risk_reversal(store, QUARTER, as_of=AS_OF).overall
    assert (overall.episodes, overall.reversed) == (2, 1)


def test_an_episode_ended_by_churn_or_pause_is_no_reversal(store: Store) -> None:
    """f1 At-Risk 1 Feb, paused 5 Feb, resumed Healthy 10 Feb: ended, not reversed.
    f2 At-Risk 1 Feb, Healthy 5 Feb, paused 10 Feb: reversed before it ended."""
    history = MetricHistory(store)
    for account, steps in (
        ("f1", (("2026-02-01", "at_risk"), ("2026-02-05", "inactive"), ("2026-02-10", "healthy"))),
        ("f2", (("2026-02-01", "at_risk"), ("2026-02-05", "healthy"), ("2026-02-10", "inactive"))),
    ):
        history.account(account)
        for day, status in steps:
            history.transition(account, day, status)
    overall = risk_reversal(store, QUARTER, as_of=AS_OF).overall
    assert (overall.episodes, overall.old_enough, overall.reversed) == (2, 2, 1)


def test_nothing_to_count_gives_a_null_rate(store: Store) -> None:
    overall = risk_reversal(store, QUARTER, as_of=AS_OF).overall
    assert (overall.episodes, overall.old_enough, overall.reversed) == (0, 0, 0)
    assert overall.rate is None


def test_window_must_be_30_or_60(store: Store) -> None:
    with pytest.raises(MetricInputError, match="window_days: must be 30 or 60") as raised:
        risk_reversal(store, QUARTER, window_days=45)
    assert raised.value.field == "window_days"


def test_the_period_defaults_to_the_90_days_to_today(store: Store) -> None:
    report = risk_reversal(store, MetricFilter(), today=date(2026, 3, 31))
    assert (report.filters.from_, report.filters.to) == (date(2026, 1, 1), date(2026, 3, 31))
    assert report.as_of == date(2026, 3, 31)


def test_documented_example(history: MetricHistory) -> None:
    report = risk_reversal(history.store, QUARTER, window_days=30, as_of=AS_OF)
    assert rounded(report.overall) == documented_example("risk-reversal")


def test_the_rate_carries_its_episodes_and_wilson_interval(history: MetricHistory) -> None:
    overall = risk_reversal(history.store, QUARTER, as_of=AS_OF).overall
    assert overall.sample.withheld == "too few episodes yet (5; 20 needed)"
    assert overall.rate_interval is None
    enough = MetricSettings(min_episodes=5)
    overall = risk_reversal(history.store, QUARTER, as_of=AS_OF, settings=enough).overall
    # Wilson, 3 of 5 at z = 1.959964 (95%): centre (0.6 + z^2 / 10) / (1 + z^2 / 5) =
    # 0.556552, half z / (1 + z^2 / 5) * sqrt(0.048 + z^2 / 100) = 0.325828.
    assert overall.rate_interval is not None
    assert (overall.rate_interval.low, overall.rate_interval.high) == pytest.approx(
        (0.230724, 0.882379), abs=1e-5
    )


def test_pilot_against_control(store: Store) -> None:
    """Pilot: 4 episodes, 3 back to Healthy in 30 days; control: 2, none back."""
    history = MetricHistory(store)
    for account, cohort, back in [
        ("p1", "pilot", True),
        ("p2", "pilot", True),
        ("p3", "pilot", True),
        ("p4", "pilot", False),
        ("c1", "control", False),
        ("c2", "control", False),
    ]:
        history.account(account)
        history.transition(account, "2026-01-05", "at_risk", cohort=cohort)
        if back:
            history.transition(account, "2026-01-20", "healthy", cohort=cohort)
    by_cohort = MetricFilter(group_by="cohort", from_=date(2026, 1, 1), to=date(2026, 3, 31))
    report = risk_reversal(store, by_cohort, as_of=AS_OF, settings=MetricSettings(min_episodes=2))
    [gap] = report.comparisons
    assert (gap.figure, gap.first, gap.second) == ("rate", "pilot", "control")
    assert gap.difference == pytest.approx(0.75)
    # Newcombe from Wilson(3, 4) = (0.300642, 0.954413) and Wilson(0, 2) = (0, 0.657620)
    # at z = 1.959964: 0.75 - sqrt(0.449358^2 + 0.657620^2), 0.75 + sqrt(0.204413^2 + 0).
    assert gap.interval is not None
    assert gap.interval.low == pytest.approx(0.75 - math.hypot(0.449358, 0.657620), abs=1e-5)
    assert gap.interval.high == pytest.approx(0.75 + 0.204413, abs=1e-5)
    assert risk_reversal(store, by_cohort, as_of=AS_OF).comparisons[0].interval is None
