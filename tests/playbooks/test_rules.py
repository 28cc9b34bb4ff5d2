"""Rules: every subject and test, what a match records, and how a firing is described.

Each case builds the condition the way the configuration does (``compile_condition``
over a ``ConditionSpec``), so the checks and the evaluation are the ones a run uses.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from telltales.contracts import RuleFiring, RuleMatch
from telltales.models import Account, Score, Signal
from telltales.playbooks.rules import (
    Condition,
    ConditionSpec,
    Rule,
    compile_condition,
    describe_firing,
    describe_match,
    grade_disagreement,
    worst_status,
)

ACME = Account(
    account_id="a1",
    name="Acme",
    owner="kim@vendor.example",
    csm_group="emea-midmarket",
    segment="mid-market",
    industry="retail",
    employee_count=450,
    arr=120_000.0,
    seats_purchased=80,
    seats_assigned=60,
    lifecycle_stage="adoption",
)


def condition(**spec: Any) -> Condition:
    compiled = compile_condition(ConditionSpec(**spec))
    assert isinstance(compiled, Condition), compiled
    return compiled


def rule(*conditions: Condition, status: str = "at_risk") -> Rule:
    return Rule(
        name="r",
        description="Something went wrong",
        status=status,  # type: ignore[arg-type]
        severity="high",
        conditions=conditions,
        hold_days=1,
        cooldown_days=0,
        shipped=False,
    )


def signal(key: str, value: float, evidence: str = "") -> Signal:
    return Signal(
        account_id="a1",
        key=key,
        value=value,
        dimension="adoption",
        evidence=evidence or f"{key} is {value}",
    )


def signals(*given: Signal) -> dict[str, Signal]:
    return {s.key: s for s in given}


def health(value: float | None, grade: str, label: str, coverage: float = 0.8) -> Score:
    return Score(
        account_id="a1",
        scorer="health",
        value=value,
        grade=grade,  # type: ignore[arg-type]
        label=label,
        coverage=coverage,
    )


@pytest.mark.parametrize(
    ("test", "operand", "value", "holds"),
    [
        ("below", 0.5, 0.49, True),
        ("below", 0.5, 0.5, False),
        ("below", -0.3, -0.31, True),
        ("below", -0.3, -0.3, False),
        ("at_most", 0.5, 0.5, True),
        ("at_most", 0.5, 0.51, False),
        ("above", 5, 5.0, False),
        ("above", 5, 6.0, True),
        ("at_least", 1, 1.0, True),
        ("at_least", 1, 0.99, False),
        ("equals", 3, 3.0, True),
        ("equals", 3, 3.5, False),
    ],
)
def test_each_numeric_test_on_a_signal(
    test: str, operand: float, value: float, holds: bool
) -> None:
    checked = rule(condition(signal="probe.x", **{test: operand}))
    found = checked.matches(ACME, signals(signal("probe.x", value)), {})
    assert (found is not None) is holds


@pytest.mark.parametrize("test", ["below", "at_most", "above", "at_least", "equals"])
def test_a_missing_signal_never_holds(test: str) -> None:
    checked = rule(condition(signal="probe.x", **{test: 0}))
    assert checked.matches(ACME, {}, {}) is None
    # Another signal being present changes nothing.
    assert checked.matches(ACME, signals(signal("probe.y", 0)), {}) is None


def test_every_condition_must_hold_and_a_missing_one_fails_the_rule() -> None:
    both = rule(
        condition(signal="probe.x", below=0.5),
        condition(signal="probe.y", above=5),
    )
    assert both.matches(ACME, signals(signal("probe.x", 0.2), signal("probe.y", 6)), {})
    assert both.matches(ACME, signals(signal("probe.x", 0.2), signal("probe.y", 5)), {}) is None
    assert both.matches(ACME, signals(signal("probe.x", 0.2)), {}) is None


def test_a_signal_match_records_the_key_value_comparison_and_evidence() -> None:
    checked = rule(condition(signal="telemetry.seat_utilization_30d", below=0.5))
    found = checked.matches(
        ACME,
        signals(
            signal("telemetry.seat_utilization_30d", 0.3, "24 of 80 seats active in 30 days (30%)")
        ),
        {},
    )
    assert found == (
        RuleMatch(
            subject="telemetry.seat_utilization_30d",
            value=0.3,
            comparison="below 0.5",
            evidence="24 of 80 seats active in 30 days (30%)",
        ),
    )


def test_a_score_condition_compares_the_value_and_quotes_the_grade() -> None:
    checked = rule(condition(score="health", below=40))
    scores = {"health": health(35.25, "red", "At-Risk")}
    assert checked.matches(ACME, {}, scores) == (
        RuleMatch(
            subject="score.health",
            value=35.25,
            comparison="below 40",
            evidence="health score 35.2, graded red (At-Risk), coverage 80%",
        ),
    )
    assert checked.matches(ACME, {}, {"health": health(40.0, "amber", "Concern")}) is None


def test_a_score_without_a_value_or_missing_never_holds() -> None:
    checked = rule(condition(score="health", at_most=100))
    assert checked.matches(ACME, {}, {}) is None
    assert checked.matches(ACME, {}, {"health": health(None, "insufficient_data", "-")}) is None
    assert checked.matches(ACME, {}, {"other": health(10.0, "red", "At-Risk")}) is None


def test_a_grade_condition_by_equals_and_one_of() -> None:
    red = {"health": health(20.0, "red", "At-Risk", coverage=1.0)}
    amber = {"health": health(55.0, "amber", "Concern", coverage=0.6)}
    unsure = {"health": health(None, "insufficient_data", "Not enough data", coverage=0.2)}
    is_red = rule(condition(grade="health", equals="red"))
    assert is_red.matches(ACME, {}, red) == (
        RuleMatch(
            subject="grade.health",
            value="red",
            comparison="equals 'red'",
            evidence="health score 20.0, graded red (At-Risk), coverage 100%",
        ),
    )
    assert is_red.matches(ACME, {}, amber) is None
    assert is_red.matches(ACME, {}, unsure) is None
    not_green = rule(condition(grade="health", one_of=["amber", "insufficient_data"]))
    assert not_green.matches(ACME, {}, red) is None
    assert not_green.matches(ACME, {}, amber) is not None
    found = not_green.matches(ACME, {}, unsure)
    assert found is not None
    assert found[0].comparison == "one of 'amber', 'insufficient_data'"
    assert found[0].evidence == (
        "health score insufficient data, graded insufficient_data (Not enough data), coverage 20%"
    )


def test_account_text_fields_by_equals_and_one_of() -> None:
    stage = rule(condition(account="lifecycle_stage", equals="adoption"))
    assert stage.matches(ACME, {}, {}) == (
        RuleMatch(
            subject="account.lifecycle_stage",
            value="adoption",
            comparison="equals 'adoption'",
            evidence="Acme's lifecycle stage is adoption",
        ),
    )
    renewing = Account(account_id="a2", name="Bee", lifecycle_stage="renewal")
    assert stage.matches(renewing, {}, {}) is None
    segment = rule(condition(account="segment", one_of=["smb", "mid-market"]))
    assert segment.matches(ACME, {}, {}) is not None
    assert segment.matches(renewing, {}, {}) is None  # its segment is "" (unknown)


def test_account_number_fields_compare_as_numbers() -> None:
    big = rule(condition(account="arr", at_least=100_000))
    assert big.matches(ACME, {}, {}) == (
        RuleMatch(
            subject="account.arr",
            value=120_000.0,
            comparison="at least 100000",
            evidence="Acme's arr is 120000",
        ),
    )
    seats = rule(condition(account="seats_purchased", equals=80))
    found = seats.matches(ACME, {}, {})
    assert found is not None
    assert found[0].value == 80.0
    assert isinstance(found[0].value, float)
    assert found[0].evidence == "Acme's seats purchased is 80"
    assert rule(condition(account="seats_assigned", above=60)).matches(ACME, {}, {}) is None


def test_an_unknown_employee_count_never_holds() -> None:
    small = rule(condition(account="employee_count", below=1000))
    assert small.matches(ACME, {}, {}) is not None
    unknown = Account(account_id="a2", name="Bee", employee_count=None)
    assert small.matches(unknown, {}, {}) is None


def test_a_text_value_never_passes_a_numeric_test_and_the_reverse() -> None:
    assert condition(signal="probe.x", below=1).passes("0") is False
    assert condition(account="segment", equals="smb").passes(0.0) is False
    assert condition(account="segment", one_of=["smb"]).passes("smb") is True


def test_describe_firing_names_the_rule_and_every_value_with_its_evidence() -> None:
    checked = Rule(
        name="low_logins_in_adoption",
        description="Under one login per active user a week while in the adoption stage",
        status="concern",
        severity="medium",
        conditions=(
            condition(signal="telemetry.weekly_logins_per_user", below=1.0),
            condition(account="lifecycle_stage", equals="adoption"),
        ),
        hold_days=7,
        cooldown_days=30,
        shipped=True,
    )
    found = checked.matches(
        ACME,
        signals(
            signal(
                "telemetry.weekly_logins_per_user",
                0.6667,
                "40 logins by 15 active users a week, over 4 weeks",
            )
        ),
        {},
    )
    assert found is not None
    firing = RuleFiring(
        rule=checked.name,
        description=checked.description,
        status=checked.status,
        severity=checked.severity,
        held_since=date(2026, 11, 14),
        matches=found,
    )
    assert describe_firing(firing) == (
        "rule low_logins_in_adoption (Under one login per active user a week while in the "
        "adoption stage): telemetry.weekly_logins_per_user = 0.6667 (below 1): 40 logins by "
        "15 active users a week, over 4 weeks; account.lifecycle_stage = adoption "
        "(equals 'adoption'): Acme's lifecycle stage is adoption"
    )


@pytest.mark.parametrize(
    ("value", "comparison", "shown"),
    [
        (0.3, "below 0.5", "0.3"),
        (0.123456, "below 0.5", "0.1235"),
        # Rounded to 4 decimals these would read "0.5 (below 0.5)": more digits instead.
        (0.49996, "below 0.5", "0.49996"),
        (0.500004, "above 0.5", "0.500004"),
        (-0.300001, "below -0.3", "-0.300001"),
        # Rounding that stays on the right side of "at most" / "at least" is kept.
        (0.50004, "at least 0.5", "0.5"),
        (80.0, "equals 80", "80"),
        # Large values keep their digits (no "1.23457e+06").
        (1_234_567.5, "at least 1000000", "1234567.5"),
        (1_234_567.5, "below 1234567.75", "1234567.5"),
    ],
)
def test_describe_match_never_rounds_across_the_threshold(
    value: float, comparison: str, shown: str
) -> None:
    match = RuleMatch(subject="probe.x", value=value, comparison=comparison, evidence="e")
    assert describe_match(match) == f"probe.x = {shown} ({comparison}): e"


def test_comparisons_keep_every_digit_of_the_threshold() -> None:
    assert condition(signal="probe.x", below=0.1234567).comparison == "below 0.1234567"
    assert condition(account="arr", above=1_500_000.5).comparison == "above 1500000.5"
    assert condition(signal="probe.x", at_most=-2).comparison == "at most -2"


def test_a_clearing_threshold_holds_an_active_rule_and_says_so() -> None:
    falling = rule(condition(signal="probe.x", below=-0.3, clears_above=-0.15))
    wavering = signals(signal("probe.x", -0.2))
    assert falling.matches(ACME, wavering, {}) is None
    found = falling.matches(ACME, wavering, {}, active=True)
    assert found is not None
    assert found[0].comparison == "below -0.3, clears above -0.15"
    assert falling.matches(ACME, signals(signal("probe.x", -0.1)), {}, active=True) is None
    still = falling.matches(ACME, signals(signal("probe.x", -0.4)), {}, active=True)
    assert still is not None
    assert still[0].comparison == "below -0.3"


def test_worst_status_wins_and_none_is_healthy() -> None:
    assert worst_status([]) == "healthy"
    assert worst_status(["concern", "healthy"]) == "concern"
    assert worst_status(["concern", "at_risk", "concern"]) == "at_risk"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (
            {"signal": "probe.x"},
            "give exactly one test of below, at_most, above, at_least, equals, one_of (got 0)",
        ),
        (
            {"signal": "probe.x", "below": 1, "above": 0},
            "give exactly one test of below, at_most, above, at_least, equals, one_of (got 2)",
        ),
        ({"below": 1}, "name exactly one of signal, score, grade, account (got 0)"),
        (
            {"signal": "probe.x", "score": "health", "below": 1},
            "name exactly one of signal, score, grade, account (got 2)",
        ),
        ({"signal": "probe.x", "below": float("inf")}, "below must be a finite number"),
        ({"signal": "probe.x", "one_of": []}, "one_of needs at least one value"),
        (
            {"signal": "probe.x", "equals": "low"},
            "a signal is a number: compare it with below, at_most, above, at_least or equals",
        ),
        (
            {"score": "health", "one_of": ["red"]},
            "a score is a number: compare it with below, at_most, above, at_least or equals",
        ),
        (
            {"grade": "health", "below": 40},
            "a grade is compared with equals or one_of, over green, amber, red, insufficient_data",
        ),
        (
            {"grade": "health", "equals": "crimson"},
            "a grade is compared with equals or one_of, over green, amber, red, insufficient_data",
        ),
        (
            {"account": "segment", "above": 3},
            "account field 'segment' is text: compare it with equals or one_of",
        ),
        (
            {"account": "arr", "equals": "big"},
            "account field 'arr' is a number: compare it with a number",
        ),
        (
            {"account": "arr", "one_of": ["1"]},
            "account field 'arr' is a number: compare it with a number",
        ),
        (
            {"account": "lifecycle_stage", "equals": "adopting"},
            "account field 'lifecycle_stage' is one of onboarding, adoption, expansion, renewal "
            "(got 'adopting')",
        ),
        (
            {"account": "lifecycle_stage", "one_of": ["renewal", "churned"]},
            "account field 'lifecycle_stage' is one of onboarding, adoption, expansion, renewal "
            "(got 'churned')",
        ),
        (
            {"signal": "probe.x", "below": -0.3, "clears_above": -0.4},
            "clears_above = -0.4 is below where the rule fires (below -0.3): it must be at or "
            "past the firing threshold, on the side the value recovers to",
        ),
        (
            {"signal": "probe.x", "above": 5, "clears_below": 6},
            "clears_below = 6 is above where the rule fires (above 5): it must be at or past "
            "the firing threshold, on the side the value recovers to",
        ),
        (
            {"signal": "probe.x", "above": 5, "clears_above": 6},
            "clears_above goes with below or at_most, not above",
        ),
        (
            {"signal": "probe.x", "below": 5, "clears_above": 6, "clears_below": 4},
            "give at most one of clears_above and clears_below",
        ),
        (
            {"signal": "probe.x", "below": 5, "clears_above": float("nan")},
            "clears_above must be a finite number",
        ),
        (
            {"grade": "health", "equals": "red", "clears_above": 1},
            "clears_above goes with below or at_most, not equals",
        ),
        (
            {"account": "stage", "equals": "adoption"},
            "unknown account field 'stage' (known: lifecycle_stage, segment, csm_group, "
            "industry, owner, arr, seats_purchased, seats_assigned, employee_count)",
        ),
    ],
)
def test_compile_condition_says_what_is_wrong(spec: dict[str, Any], problem: str) -> None:
    assert compile_condition(ConditionSpec(**spec)) == problem


def test_a_status_contradicting_its_grade_names_the_rule_holding_it_first() -> None:
    labels = {"healthy": "Healthy", "concern": "Concern", "at_risk": "At-Risk"}
    firing = RuleFiring(
        rule="core_feature_drop",
        description="A core feature fell",
        status="at_risk",
        severity="high",
        held_since=date(2026, 11, 13),
        matches=(),
    )
    green = health(72.1, "green", "Healthy")
    red = health(35.0, "red", "At-Risk")
    assert grade_disagreement("at_risk", green, [firing], labels) == (
        "At-Risk by rule core_feature_drop (A core feature fell), although the health score "
        "is 72.1, graded green (Healthy)"
    )
    assert grade_disagreement("healthy", red, [], labels) == (
        "Healthy: no rule that sets a status holds, although the health score is 35.0, "
        "graded red (At-Risk)"
    )
    assert grade_disagreement("at_risk", red, [firing], labels) is None
    assert grade_disagreement("concern", green, [], labels) is None
    assert grade_disagreement("at_risk", health(None, "insufficient_data", "-"), [], labels) is None
