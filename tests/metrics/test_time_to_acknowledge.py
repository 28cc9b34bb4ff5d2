"""Time to acknowledge risk, against a history worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from support.metric_history import MetricHistory, documented_example, rounded
from telltales.metrics import MetricFilter, time_to_acknowledge
from telltales.store import Store

QUARTER = MetricFilter(from_=date(2026, 1, 1), to=date(2026, 3, 31))


def write_history(history: MetricHistory) -> None:
    """Entries into At-Risk in Q1 2026 (each at 09:00 UTC) and their live playbook runs:

    b1  5 Jan, first task done 5 Jan 21:00                           12 h
    b2  10 Jan, first task done 11 Jan 09:00, second still open      24 h
    b3  20 Jan, first task done 22 Jan 09:00                         48 h
    b4  1 Feb, its task open                                         not yet (open)
    b5  3 Feb, first task dismissed, second done: the first task
        never got done, the run is closed                            never (closed)
    b8  15 Feb, two playbooks: one's first task done at 15:00 (6 h),
        the other's at 15:00 next day (30 h): the earliest counts     6 h
    not counted: b6 (its run is shadow: a control-group account), b7 (entered Concern,
    not At-Risk), b9 (entered At-Risk on 20 Dec 2025, before the period).

    Hours 6, 12, 24, 48: median (12 + 24) / 2 = 18;
    p90 at rank (4 - 1) * 0.9 = 2.7: 24 + 0.7 * (48 - 24) = 40.8.
    6 episodes: 4 acknowledged, 1 open, 1 closed without acknowledgement.
    """
    for account in ("b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9"):
        history.account(account)
    run = history.playbook_run
    run(history.transition("b1", "2026-01-05", "at_risk"), tasks=[("done", "2026-01-05T21:00Z")])
    run(
        history.transition("b2", "2026-01-10", "at_risk"),
        tasks=[("done", "2026-01-11T09:00Z"), ("open", "2026-01-10T09:00Z")],
    )
    run(history.transition("b3", "2026-01-20", "at_risk"), tasks=[("done", "2026-01-22T09:00Z")])
    run(history.transition("b4", "2026-02-01", "at_risk"), tasks=[("open", "2026-02-01T09:00Z")])
    run(
        history.transition("b5", "2026-02-03", "at_risk"),
        tasks=[("dismissed", "2026-02-04T09:00Z"), ("done", "2026-02-05T09:00Z")],
    )
    run(
        history.transition("b6", "2026-02-10", "at_risk", cohort="control"),
        mode="shadow",
    )
    run(history.transition("b7", "2026-02-12", "concern"), tasks=[("done", "2026-02-12T10:00Z")])
    entered = history.transition("b8", "2026-02-15", "at_risk")
    run(entered, tasks=[("done", "2026-02-15T15:00Z")], playbook="call")
    run(entered, tasks=[("done", "2026-02-16T15:00Z")], playbook="email-manager")
    run(history.transition("b9", "2025-12-20", "at_risk"), tasks=[("done", "2025-12-20T10:00Z")])


@pytest.fixture
def history(store: Store) -> MetricHistory:
    history = MetricHistory(store)
    write_history(history)
    return history


def test_median_and_p90_hours(history: MetricHistory) -> None:
    overall = time_to_acknowledge(history.store, QUARTER).overall
    assert overall.episodes == 6
    assert overall.acknowledged == 4
    assert overall.unacknowledged_open == 1
    assert overall.closed_unacknowledged == 1
    assert overall.median_hours == pytest.approx(18.0)
    assert overall.p90_hours == pytest.approx(40.8)


def test_cut_by_cohort(history: MetricHistory) -> None:
    """The control group's only episode ran a shadow playbook: nothing to acknowledge."""
    control = MetricFilter(cohort="control", from_=date(2026, 1, 1), to=date(2026, 3, 31))
    overall = time_to_acknowledge(history.store, control).overall
    assert (overall.episodes, overall.acknowledged, overall.median_hours) == (0, 0, None)


def test_one_value_is_its_own_median_and_p90(store: Store) -> None:
    history = MetricHistory(store)
    history.account("x1", segment="enterprise")
    history.account("x2", segment="smb")
    history.playbook_run(
        history.transition("x1", "2026-01-05", "at_risk"), tasks=[("done", "2026-01-06T00:00Z")]
    )
    history.playbook_run(
        history.transition("x2", "2026-01-05", "at_risk"), tasks=[("done", "2026-01-05T10:00Z")]
    )
    grouped = MetricFilter(group_by="segment", from_=date(2026, 1, 1), to=date(2026, 3, 31))
    rows = time_to_acknowledge(store, grouped).groups
    assert [(r.group, r.median_hours, r.p90_hours) for r in rows] == [
        ("enterprise", 15.0, 15.0),
        ("smb", 1.0, 1.0),
    ]


def test_documented_example(history: MetricHistory) -> None:
    report = time_to_acknowledge(history.store, QUARTER)
    assert rounded(report.overall) == documented_example("time-to-acknowledge")
