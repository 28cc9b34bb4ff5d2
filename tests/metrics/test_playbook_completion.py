"""Playbook completion rate, against a history worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from support.metric_history import MetricHistory, documented_example, rounded
from telltales.config import MetricSettings
from telltales.metrics import MetricFilter, playbook_completion
from telltales.store import Store

QUARTER = MetricFilter(from_=date(2026, 1, 1), to=date(2026, 3, 31))
DONE = ("done", "2026-02-20T10:00Z")
DISMISSED = ("dismissed", "2026-02-20T10:00Z")
OPEN = ("open", "2026-02-01T09:00Z")


def write_history(history: MetricHistory) -> None:
    """Live playbook runs started in Q1 2026:

    c1  tasks done, done           completed
    c2  tasks done, dismissed      closed: a dismissed task is not done
    c3  task open                  open: counts against the rate until it finishes
    c4  no task (a playbook that only posts to chat): left out of the rate
    c5  task done                  completed
    not counted: c6 (a shadow run), c7 (live, started 20 Dec 2025, before the period).

    5 runs, 4 with tasks, 2 completed, 1 closed, 1 open -> 2/4 = 0.5.
    Tasks: 4 done (c1 2, c2 1, c5 1), 1 dismissed, 1 open.
    """
    runs = {
        "c1": [DONE, DONE],
        "c2": [DONE, DISMISSED],
        "c3": [OPEN],
        "c4": [],
        "c5": [DONE],
    }
    for account, tasks in runs.items():
        history.account(account)
        history.playbook_run(history.transition(account, "2026-02-01", "at_risk"), tasks=tasks)
    history.account("c6")
    history.playbook_run(history.transition("c6", "2026-02-01", "at_risk"), mode="shadow")
    history.account("c7")
    history.playbook_run(history.transition("c7", "2025-12-20", "at_risk"), tasks=[DONE])


@pytest.fixture
def history(store: Store) -> MetricHistory:
    history = MetricHistory(store)
    write_history(history)
    return history


def test_completion_rate(history: MetricHistory) -> None:
    overall = playbook_completion(history.store, QUARTER).overall
    assert (overall.runs, overall.with_tasks, overall.without_tasks) == (5, 4, 1)
    assert (overall.completed, overall.closed, overall.open) == (2, 1, 1)
    assert (overall.tasks_done, overall.tasks_dismissed, overall.tasks_open) == (4, 1, 1)
    assert overall.rate == pytest.approx(0.5)


def test_a_run_with_a_dismissed_task_never_completes(store: Store) -> None:
    history = MetricHistory(store)
    history.account("d1")
    history.playbook_run(history.transition("d1", "2026-02-01", "at_risk"), tasks=[DISMISSED])
    overall = playbook_completion(store, QUARTER).overall
    assert (overall.with_tasks, overall.completed, overall.closed, overall.rate) == (1, 0, 1, 0.0)


def test_cut_by_segment_and_grouped_by_cohort(store: Store) -> None:
    """Pilot: p1 completed, p2 open -> 1/2. Control: c1 completed -> 1/1. An enterprise
    filter keeps p2 only -> 0/1."""
    history = MetricHistory(store)
    history.account("p1")
    history.account("p2", segment="enterprise")
    history.account("k1")
    history.playbook_run(
        history.transition("p1", "2026-02-01", "at_risk", cohort="pilot"), tasks=[DONE]
    )
    history.playbook_run(
        history.transition("p2", "2026-02-01", "at_risk", cohort="pilot"), tasks=[OPEN]
    )
    history.playbook_run(
        history.transition("k1", "2026-02-01", "at_risk", cohort="control"), tasks=[DONE]
    )
    grouped = MetricFilter(group_by="cohort", from_=date(2026, 1, 1), to=date(2026, 3, 31))
    rows = playbook_completion(store, grouped).groups
    assert [(r.group, r.with_tasks, r.completed, r.rate) for r in rows] == [
        ("control", 1, 1, 1.0),
        ("pilot", 2, 1, 0.5),
    ]
    enterprise = MetricFilter(segment="enterprise", from_=date(2026, 1, 1), to=date(2026, 3, 31))
    overall = playbook_completion(store, enterprise).overall
    assert (overall.runs, overall.open, overall.rate) == (1, 1, 0.0)


def test_no_runs_gives_a_null_rate(store: Store) -> None:
    overall = playbook_completion(store, QUARTER).overall
    assert (overall.runs, overall.rate) == (0, None)


def test_documented_example(history: MetricHistory) -> None:
    report = playbook_completion(history.store, QUARTER)
    assert rounded(report.overall) == documented_example("playbook-completion")


def test_the_rate_carries_its_runs_and_wilson_interval(history: MetricHistory) -> None:
    overall = playbook_completion(history.store, QUARTER).overall
    assert (overall.sample.n, overall.sample.unit, overall.sample.enough) == (4, "runs", False)
    assert overall.rate_interval is None
    enough = MetricSettings(min_runs=4)
    overall = playbook_completion(history.store, QUARTER, settings=enough).overall
    # Wilson, 2 of 4 at z = 1.959964 (95%): centre 0.5, half
    # z / (1 + z^2 / 4) * sqrt(0.0625 + z^2 / 64) = 0.349961.
    assert overall.rate_interval is not None
    assert (overall.rate_interval.low, overall.rate_interval.high) == pytest.approx(
        (0.150039, 0.849961), abs=1e-5
    )
