"""An account's health as of a day, composed from what runs stored, on the example book.

The example data (examples/data, every plugin) is run for two Fridays, the 13th and
the 20th of November 2026, with the APAC team in a pilot of the At-Risk playbook,
as dev.py's demo does. Every expected figure below is read off that data by hand
(the comments say how); the API tests reuse this setup.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from support.book import example_registry
from support.health_example import FIRST, SECOND, ingested_example, run_example
from telltales.config import load_config
from telltales.engine.health import AccountHealth, NextAction, account_health
from telltales.errors import UnknownAccountError
from telltales.outcomes.history_import import HistoryImport, ImportedTransition, import_history
from telltales.playbooks.plan import Plan, load_plan
from telltales.playbooks.statuses import override_status
from telltales.signals.ingest import convert_records, ingest
from telltales.signals.scorecards import load_scoring
from telltales.store import open_store

"""The two Fridays the example is run for."""


@pytest.fixture(scope="module")
def example_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example, once for the module; tests work on copies."""
    return ingested_example(tmp_path_factory)


class Example:
    def __init__(self, template: Path, tmp_path: Path, config: str | None = None) -> None:
        path = tmp_path / "example.db"
        shutil.copy(template, path)
        self.registry = example_registry()
        config_path = None
        if config is not None:
            config_path = tmp_path / "telltales.toml"
            config_path.write_text(config)
        self.config = load_config(config_path)
        self.plan: Plan = load_plan(self.config, self.registry)
        migrations = [entry.obj for entry in self.registry.migrations.values()]
        self.store = open_store(path, migrations)

    def health(self, account_id: str, as_of: date | None = None) -> AccountHealth:
        scoring = load_scoring(self.config, self.registry)
        return account_health(self.store, self.plan, account_id, as_of, scoring=scoring)


@pytest.fixture
def example(example_template: Path, tmp_path: Path) -> Iterator[Example]:
    opened = Example(example_template, tmp_path)
    yield opened
    opened.store.close()


@pytest.fixture
def ran(example: Example) -> Example:
    run_example(example.store, example.registry, example.config)
    return example


def test_an_at_risk_account_in_the_pilot_shows_why_and_its_open_task(ran: Example) -> None:
    health = ran.health("ferrum")

    assert health.as_of == SECOND  # the latest day scored
    assert health.account.name == "Ferrum Manufacturing"
    # Its sponsor left on 2026-10-28: sponsor_left fired on the 13th (At-Risk).
    assert health.status is not None
    assert (health.status.status, health.status.label, health.status.since) == (
        "at_risk",
        "At-Risk",
        FIRST,
    )
    transition = health.status.transition
    assert (transition.cause, transition.rules, transition.cohort) == (
        "rules",
        ("sponsor_left",),
        "pilot",
    )
    assert "Dana Reyes (VP Operations) left the company on 2026-10-28" in transition.evidence

    score = health.score
    assert score is not None
    assert (score.value, score.grade, score.label, score.coverage) == (10.2, "red", "At-Risk", 1.0)
    # Every measure of the DEAR card is there, and their points times weights are the score.
    assert len(score.breakdown) == 15
    assert round(sum((m.points or 0) * m.weight for m in score.breakdown), 1) == 10.2
    deployment = score.breakdown[0]
    # 36 of 80 seats assigned = 0.45: under the 0.5 step, 0 points; deployment is 14%.
    assert (deployment.measure, deployment.value, deployment.points, deployment.weight) == (
        "account.seat_deployment",
        0.45,
        0.0,
        0.14,
    )
    assert deployment.evidence == "36 of 80 purchased seats assigned (45%)"
    # The 13th scored 15.0: the trend is the stored difference.
    assert score.trend_7d is not None
    assert (score.trend_7d.as_of, score.trend_7d.value, score.trend_7d.change) == (
        FIRST,
        15.0,
        -4.8,
    )
    assert score.trend_30d is None

    # At-Risk rules first, by severity then name; then Concern rules. The drop held on
    # the 20th only: pending for its 8 hold days.
    assert [(r.rule, r.state, r.mode) for r in health.rules] == [
        ("core_feature_drop", "pending", "live"),
        ("score_red", "fired", "shadow"),
        ("sponsor_left", "active", "live"),
        ("high_priority_tickets", "fired", "shadow"),
        ("low_seat_utilization", "fired", "shadow"),
    ]
    drop = health.rules[0]
    assert drop.evidence.startswith(
        "rule core_feature_drop (Active users of a core feature down more than 30% over 14 "
        "days while core use falls): telemetry.core_feature_drop_14d = -0.4444 (below -0.3): "
        "largest fall among core features is reporting: 10 active users in the 14 days to "
        "2026-11-20, 18 in the 14 before, -44%, a drop of more than 30%; "
        "telemetry.core_use_trend_30d = -0.8737 (below -0.1): "
    )
    # The score rule names what drives the grade, never the grade alone.
    assert health.rules[1].evidence == (
        "rule score_red (Health score under 40 (the red band of the shipped cards)): "
        "score.health = 10.2 (below 40): health score 10.2, graded red (At-Risk), coverage "
        "100%; weakest dimension deployment at 0/100: account.seat_deployment = 0.45 earns 0 "
        "points (36 of 80 purchased seats assigned (45%))"
    )

    assert [(r.playbook, r.mode, r.state, r.cohort, r.as_of) for r in health.playbook_runs] == [
        ("at_risk_response", "live", "open", "pilot", FIRST)
    ]
    # The 13th is a Friday: three business days later is Wednesday the 18th.
    assert [(t.task_id, t.assignee, t.due_on) for t in health.tasks] == [
        (1, "li.chen@vendor.example", date(2026, 11, 18))
    ]
    assert health.next_action == NextAction(
        kind="task",
        action="Complete task 1: Ferrum Manufacturing: At-Risk - The executive sponsor left "
        "the company or the role. Find who owns the decision now: ask the champion, and meet the "
        "new sponsor before the renewal",
        why="the soonest due of 1 open task(s): due 2026-11-18, assigned to "
        "li.chen@vendor.example; from playbook at_risk_response, started 2026-11-13 when the "
        "account entered At-Risk by rule(s) sponsor_left; weakest dimension deployment at "
        "0/100: account.seat_deployment = 0.45 earns 0 points (36 of 80 purchased seats "
        "assigned (45%)); moved most in 7 days: telemetry.core_feature_drop_14d from -0.1333 "
        "(60 points) to -0.4444 (0 points)",
        task_id=1,
    )


def test_an_account_outside_the_pilot_is_told_to_run_the_shadow_playbook_by_hand(
    ran: Example,
) -> None:
    health = ran.health("bluepeak")

    # na-enterprise is in no pilot: the playbook ran in shadow mode, no task exists.
    assert health.tasks == []
    assert health.playbook_runs == []
    action = health.next_action
    # Workflows users 18 -> 11 in 14 days is a drop, but core use was not falling on the
    # 13th, so core_feature_drop waits for its hold days; 50 of 150 seats active set
    # Concern.
    assert (action.kind, action.rule, action.playbook) == (
        "playbook",
        "low_seat_utilization",
        "concern_check_in",
    )
    # The rule's own next action first, then the playbook that answers it.
    assert action.action == (
        "Ask the admin which teams have not started, and plan their onboarding with the "
        "champion. Run playbook concern_check_in by hand (task): An account turned Concern: "
        "the owner checks in within five business days"
    )
    assert action.why == (
        "Concern rule, severity medium, holding since 2026-11-13: rule low_seat_utilization "
        "(Fewer than half the purchased seats active over 30 days): "
        "telemetry.seat_utilization_30d = 0.3333 (below 0.5): 50 of 150 purchased seats "
        "active in the 30 days to 2026-11-20 (33%), below the 50% that deserves a "
        "conversation; weakest dimension renewal at 17.3/100: account.days_to_renewal = 56 "
        "earns 17.3 points (renews in 56 days (renewal date 2027-01-15, as of 2026-11-20)); "
        "moved most in 7 days: telemetry.core_use_trend_90d from 0.0294 (89.7 points) to "
        "-0.1688 (0 points); it ran in shadow mode (recorded, nothing sent): no pilot "
        "enables it here"
    )


def test_an_active_rule_no_playbook_answers_asks_for_a_review(
    example_template: Path, tmp_path: Path
) -> None:
    # The At-Risk and Concern playbooks now answer the sponsor leaving only.
    config = """
[playbooks.at_risk_response]
on_enter = "at_risk"
rules = ["sponsor_left"]
steps = [{ action = "task", due_business_days = 3 }]

[playbooks.concern_check_in]
on_enter = "concern"
rules = ["sponsor_left"]
steps = [{ action = "task", due_business_days = 5 }]
"""
    example = Example(example_template, tmp_path, config)
    run_example(example.store, example.registry, example.config)

    action = example.health("bluepeak").next_action
    example.store.close()

    assert (action.kind, action.rule, action.playbook) == ("rule", "low_seat_utilization", None)
    # No playbook answers it: the rule's own next action alone.
    assert action.action == (
        "Ask the admin which teams have not started, and plan their onboarding with the champion"
    )
    assert action.why.startswith("Concern rule, severity medium, holding since 2026-11-13: ")
    assert action.why.endswith("(0 points); no playbook answers this rule")


def test_a_healthy_account_needs_no_action_and_is_told_its_weakest_measure(
    ran: Example,
) -> None:
    health = ran.health("northwind")

    assert health.status is not None
    assert health.status.status == "healthy"
    assert [r.rule for r in health.rules] == []
    # Linear from 120 days (0 points) to 30 (100): 63 days is (120 - 63) / 90 = 63.3
    # points; engagement 17.5% x the measure's 0.3 = 5.25% of the score, so it costs
    # (100 - 63.3) x 0.0525 = 1.93 points, more than any other measure a person can
    # act on (days to renewal costs more, but is the calendar's).
    assert health.next_action == NextAction(
        kind="none",
        action="No action: healthy",
        why="health score 86.6 is Healthy (green), no rule is active; the weakest measure: "
        "contacts.days_since_sponsor_meeting = 63 earns 63.3 of 100 points (the scorecard "
        "gives 100 points at 30, 0 at 120), weighing 5% of the score, so it costs 1.9 "
        "points: last met executive sponsor Karl Jensen 63 days ago (business review on "
        "2026-09-18); service level is every 90 days: within it by 27 days",
    )


def test_without_rules_a_concern_score_points_at_the_measure_that_costs_most(
    example: Example,
) -> None:
    run_example(example.store, example.registry, example.config, with_plan=False)

    health = example.health("bluepeak")

    assert health.status is None
    assert health.rules == []
    # 76 of 150 seats assigned = 0.5067: the 0.5 step gives 50 points of 100, and the
    # deployment component weighs 14%: it costs 7 points, more than any other measure a
    # person can act on. The why goes on with the weakest dimension (renewal, 56 days
    # away) and the measure that moved most since the 13th.
    assert health.next_action == NextAction(
        kind="measure",
        action="Improve account.seat_deployment (deployment)",
        why="health score 36.5 is At-Risk (red); account.seat_deployment = 0.5067 earns 50 "
        "of 100 points (the scorecard gives 100 points at >= 0.9), weighing 14% of the score, "
        "so it costs 7.0 points: 76 of 150 purchased seats assigned (51%); weakest dimension "
        "renewal at 17.3/100: account.days_to_renewal = 56 earns 17.3 points (renews in 56 "
        "days (renewal date 2027-01-15, as of 2026-11-20)); moved most in 7 days: "
        "telemetry.core_use_trend_90d from 0.0294 (89.7 points) to -0.1688 (0 points)",
        measure="account.seat_deployment",
    )


def test_as_of_an_earlier_day_reads_that_days_score_and_status(ran: Example) -> None:
    health = ran.health("ferrum", FIRST)

    assert health.as_of == FIRST
    assert health.score is not None
    assert health.score.value == 15.0
    assert health.score.trend_7d is None
    assert [r.rule for r in health.rules if r.state in ("fired", "active")] == ["sponsor_left"]
    # A day between two runs reads the latest score on or before it, and names the day.
    between = ran.health("ferrum", date(2026, 11, 16))
    assert between.as_of == date(2026, 11, 16)
    assert between.score is not None
    assert between.score.as_of == FIRST
    # Before any run there is no score and no status; the work open now is still the action.
    before = ran.health("ferrum", date(2026, 11, 1))
    assert (before.score, before.status, before.rules) == (None, None, [])
    assert [t.task_id for t in before.tasks] == [1]
    assert before.next_action.kind == "task"


def test_an_account_never_scored_asks_for_a_run(ran: Example) -> None:
    new = convert_records(ran.registry, "accounts", [{"account_id": "late", "name": "Late Co"}])
    ingest(ran.store, ran.registry, "accounts", new)

    health = ran.health("late")

    assert (health.as_of, health.status, health.score) == (None, None, None)
    assert health.next_action == NextAction(
        kind="data",
        action="Run the engine for this account (telltales run, or POST /v1/runs)",
        why="no health score yet: there is nothing to grade",
    )
    on_a_day = ran.health("late", SECOND)
    assert on_a_day.next_action.why == (
        "no health score on or before 2026-11-20: there is nothing to grade"
    )


def test_too_little_data_asks_for_the_missing_measures(example: Example) -> None:
    # An account with seats and nothing else: only the deployment measure has data.
    new = convert_records(
        example.registry,
        "accounts",
        [{"account_id": "quiet", "name": "Quiet Co", "seats_purchased": 10, "seats_assigned": 9}],
    )
    ingest(example.store, example.registry, "accounts", new)
    run_example(example.store, example.registry, example.config)

    health = example.health("quiet")

    assert health.score is not None
    assert (health.score.value, health.score.grade, health.score.coverage) == (
        None,
        "insufficient_data",
        0.14,
    )
    assert health.next_action.kind == "data"
    assert health.next_action.action.startswith(
        "Get the missing data: contacts.days_since_sponsor_meeting, engagement.cadence_ratio"
    )
    assert health.next_action.why.startswith(
        "the health score covers 14% of its measures' weight, too little to grade "
        "(Insufficient data); missing: contacts.days_since_sponsor_meeting"
    )


def test_a_status_set_by_a_person_is_the_action_when_no_rule_holds(ran: Example) -> None:
    account = ran.health("solstice").account
    override_status(
        ran.store,
        account,
        "concern",
        reason="budget freeze announced on the QBR",
        until=datetime(2026, 12, 31, tzinfo=UTC),
        by="sam.okafor@vendor.example",
        now=datetime(2026, 11, 23, 9, tzinfo=UTC),
    )

    # Without as_of the status is the current one, though the last score is older.
    health = ran.health("solstice")

    assert health.as_of == SECOND
    assert health.status is not None
    assert (health.status.status, health.status.since) == ("concern", date(2026, 11, 23))
    assert health.next_action.kind == "status"
    assert health.next_action.action == "Review the account: it is Concern since 2026-11-23"
    assert health.next_action.why.startswith("set by a person's override (transition ")
    assert health.next_action.why.endswith(
        "until 2026-12-31 00:00Z: budget freeze announced on the QBR"
    )
    # As of the last scored day, the override had not happened yet.
    assert ran.health("solstice", SECOND).next_action.kind == "none"


def test_an_imported_status_is_explained_as_imported(ran: Example) -> None:
    new = convert_records(ran.registry, "accounts", [{"account_id": "moved", "name": "Moved"}])
    ingest(ran.store, ran.registry, "accounts", new)
    at_risk = ImportedTransition(
        account_id="moved",
        as_of=date(2026, 10, 1),
        at=datetime(2026, 10, 1, 8, tzinfo=UTC),
        from_status=None,
        to_status="at_risk",
        evidence="red in the old platform's health score",
    )
    import_history(ran.store, HistoryImport(transitions=[at_risk]), by="ops@vendor.example")

    health = ran.health("moved")

    assert health.status is not None
    assert (health.status.status, health.status.since) == ("at_risk", date(2026, 10, 1))
    assert health.status.transition.cause == "imported"
    assert health.next_action == NextAction(
        kind="status",
        action="Review the account: it is At-Risk since 2026-10-01",
        why=f"imported from another platform (transition {health.status.transition.transition_id}"
        "), and no rule is active now: red in the old platform's health score",
    )


def test_an_unknown_account_is_refused(ran: Example) -> None:
    with pytest.raises(UnknownAccountError, match="unknown account 'nobody'"):
        ran.health("nobody")
