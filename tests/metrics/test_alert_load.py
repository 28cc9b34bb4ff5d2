"""Alert load, against rule firings worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from support.metric_history import MetricHistory, documented_example, rounded
from support.metric_stories import write_alert_load_history
from telltales.metrics import MetricFilter, alert_load
from telltales.store import Store

FOUR_WEEKS = MetricFilter(from_=date(2026, 3, 2), to=date(2026, 3, 29))


@pytest.fixture
def history(store: Store) -> MetricHistory:
    history = MetricHistory(store)
    write_alert_load_history(history)
    return history


def test_per_csm_per_week(history: MetricHistory) -> None:
    report = alert_load(history.store, FOUR_WEEKS)
    assert (report.days, report.weeks) == (28, 4.0)
    overall = report.overall
    assert (overall.owners, overall.fired_live, overall.fired_shadow) == (3, 12, 6)
    assert (overall.mean_live_per_week, overall.max_live_per_week) == (1.0, 2.0)
    assert (overall.mean_shadow_per_week, overall.max_shadow_per_week) == (0.5, 1.0)
    assert [(o.owner, o.fired_live, o.fired_shadow, o.live_per_week) for o in report.by_owner] == [
        ("ann", 8, 2, 2.0),
        ("bob", 4, 0, 1.0),
        ("cy", 0, 4, 0.0),
    ]


def test_one_group(history: MetricHistory) -> None:
    emea = MetricFilter(csm_group="emea", from_=date(2026, 3, 2), to=date(2026, 3, 29))
    report = alert_load(history.store, emea)
    overall = report.overall
    assert (overall.owners, overall.mean_live_per_week, overall.max_live_per_week) == (2, 1.5, 2.0)
    assert overall.mean_shadow_per_week == 0.25
    assert [o.owner for o in report.by_owner] == ["ann", "bob"]


def test_grouped_by_group(history: MetricHistory) -> None:
    grouped = MetricFilter(group_by="csm_group", from_=date(2026, 3, 2), to=date(2026, 3, 29))
    rows = alert_load(history.store, grouped).groups
    assert [(r.group, r.owners, r.fired_live, r.fired_shadow) for r in rows] == [
        ("amer", 1, 0, 4),
        ("emea", 2, 12, 2),
    ]


def test_a_partial_week_counts_as_its_share(history: MetricHistory) -> None:
    """2 to 11 March: 10 days = 10/7 weeks. ann fired 8 live -> 5.6 a week; bob 3 (9 to
    11 March) -> 2.1; cy none in the period."""
    ten_days = MetricFilter(from_=date(2026, 3, 2), to=date(2026, 3, 11))
    report = alert_load(history.store, ten_days)
    assert report.weeks == pytest.approx(10 / 7)
    assert [o.owner for o in report.by_owner] == ["ann", "bob"]
    assert [o.live_per_week for o in report.by_owner] == pytest.approx([5.6, 2.1])


def test_no_firings(store: Store) -> None:
    overall = alert_load(store, FOUR_WEEKS).overall
    assert (overall.owners, overall.mean_live_per_week, overall.max_live_per_week) == (
        0,
        None,
        None,
    )


def test_documented_example(history: MetricHistory) -> None:
    report = alert_load(history.store, FOUR_WEEKS)
    assert rounded(report.overall) == documented_example("alert-load")
