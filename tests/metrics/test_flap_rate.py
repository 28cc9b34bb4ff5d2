"""Flap rate: entries into At-Risk that the rules moved out again within 14 days."""

from __future__ import annotations

from datetime import date

import pytest
from support.metric_history import MetricHistory, documented_example, rounded
from telltales.config import MetricSettings
from telltales.metrics import MetricFilter, flap_rate
from telltales.store import Store

QUARTER = MetricFilter(from_=date(2026, 1, 1), to=date(2026, 3, 31))
AS_OF = date(2026, 3, 31)
FEW = MetricSettings(min_episodes=1)


def write(history: MetricHistory) -> None:
    """a1 At-Risk 1 Feb, Healthy 10 Feb (9 days: a flap); a2 At-Risk 1 Feb, Concern 15 Feb
    (14 days: a flap, the window includes its last day); a3 At-Risk 1 Feb, Healthy 16 Feb
    (15 days: none); a4 At-Risk 1 Feb, overridden Healthy 3 Feb (a person: none); a5 At-Risk
    1 Feb, churned 5 Feb (Inactive: none); a6 At-Risk 25 Mar (6 days old: too young)."""
    steps = {
        "a1": (("2026-02-01", "at_risk", "rules"), ("2026-02-10", "healthy", "rules")),
        "a2": (("2026-02-01", "at_risk", "rules"), ("2026-02-15", "concern", "rules")),
        "a3": (("2026-02-01", "at_risk", "rules"), ("2026-02-16", "healthy", "rules")),
        "a4": (("2026-02-01", "at_risk", "rules"), ("2026-02-03", "healthy", "override")),
        "a5": (("2026-02-01", "at_risk", "rules"), ("2026-02-05", "inactive", "lifecycle")),
        "a6": (("2026-03-25", "at_risk", "rules"),),
    }
    for account, found in steps.items():
        history.account(account, csm_group="emea" if account < "a4" else "apac")
        for day, status, cause in found:
            history.transition(account, day, status, cause=cause)


def test_entries_that_the_rules_moved_out_within_14_days(store: Store) -> None:
    write(MetricHistory(store))
    report = flap_rate(store, QUARTER, as_of=AS_OF, settings=FEW)
    overall = report.overall
    assert (overall.entries, overall.old_enough, overall.too_young) == (6, 5, 1)
    assert overall.flapped == 2
    assert overall.rate == pytest.approx(2 / 5)
    assert overall.rate_interval is not None
    assert overall.rate_interval.low < 0.4 < overall.rate_interval.high
    assert report.metric == "flap-rate"
    assert "within 14 days" in report.definition


def test_grouped_by_csm_group(store: Store) -> None:
    write(MetricHistory(store))
    grouped = MetricFilter(from_=date(2026, 1, 1), to=date(2026, 3, 31), group_by="csm_group")
    report = flap_rate(store, grouped, as_of=AS_OF, settings=FEW)
    assert [(g.group, g.old_enough, g.flapped) for g in report.groups] == [
        ("apac", 2, 0),
        ("emea", 3, 2),
    ]


def test_below_the_minimum_there_is_no_rate_and_it_says_why(store: Store) -> None:
    write(MetricHistory(store))
    overall = flap_rate(store, QUARTER, as_of=AS_OF).overall  # 20 episodes needed
    assert (overall.old_enough, overall.flapped, overall.rate) == (5, 2, None)
    assert overall.rate_interval is None
    assert overall.sample.withheld == "too few episodes yet (5; 20 needed)"


def test_documented_example(store: Store) -> None:
    write(MetricHistory(store))
    report = flap_rate(store, QUARTER, as_of=AS_OF, settings=FEW)
    assert rounded(report.overall) == documented_example("flap-rate")
