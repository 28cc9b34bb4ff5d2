"""Reading a score for a person: the weakest dimension, what moved, what is missing."""

from __future__ import annotations

from datetime import date

from telltales.models import MeasureResult, Score
from telltales.signals.scorecards.reading import (
    describe_score,
    missing_dimensions,
    moved_most,
    weakest_dimension,
)


def line(measure: str, component: str, value: float | None, points: float | None) -> MeasureResult:
    return MeasureResult(
        measure=measure,
        component=component,
        signal_key=measure,
        value=value,
        points=points,
        weight=0.0 if points is None else 0.25,
        evidence=f"{measure} evidence" if points is not None else f"missing: no {measure}",
        configured_weight=0.25,
    )


def score(day: date, *lines: MeasureResult) -> Score:
    return Score(
        account_id="a1",
        scorer="health",
        value=40.0,
        grade="amber",
        label="Concern",
        coverage=0.75,
        breakdown=lines,
        as_of=day,
    )


NOW = score(
    date(2026, 11, 20),
    line("account.seat_deployment", "deployment", 0.95, 100),
    line("telemetry.seat_utilization_30d", "adoption", 0.35, 30),
    line("telemetry.core_feature_adoption_30d", "adoption", 0.2, 20),
    line("contacts.days_since_sponsor_meeting", "engagement", None, None),
)
BEFORE = score(
    date(2026, 10, 21),
    line("account.seat_deployment", "deployment", 0.9, 100),
    line("telemetry.seat_utilization_30d", "adoption", 0.62, 70),
    line("telemetry.core_feature_adoption_30d", "adoption", 0.25, 20),
    line("contacts.days_since_sponsor_meeting", "engagement", 40, 88.9),
)


def test_the_weakest_dimension_and_its_weakest_measure() -> None:
    weakest = weakest_dimension(NOW)
    assert weakest is not None
    # adoption: (30 + 20) / 2 = 25 points, under deployment's 100.
    assert (weakest.name, weakest.points, weakest.weakest.measure) == (
        "adoption",
        25.0,
        "telemetry.core_feature_adoption_30d",
    )


def test_a_dimension_with_no_data_is_named_missing_never_healthy() -> None:
    assert missing_dimensions(NOW) == ["engagement"]
    assert weakest_dimension(score(date(2026, 11, 20))) is None


def test_the_measure_that_moved_most_by_its_points() -> None:
    move = moved_most(NOW, BEFORE)
    assert move is not None
    # Utilisation lost 40 points; sponsor meetings have no value now, so they cannot move.
    assert (move.measure, move.change, move.days) == ("telemetry.seat_utilization_30d", -40, 30)
    assert moved_most(NOW, None) is None
    assert moved_most(NOW, NOW) is None


def test_the_reason_in_one_line_never_the_grade_alone() -> None:
    assert describe_score(NOW, BEFORE) == (
        "weakest dimension adoption at 25/100: telemetry.core_feature_adoption_30d = 0.2 "
        "earns 20 points (telemetry.core_feature_adoption_30d evidence); moved most in 30 "
        "days: telemetry.seat_utilization_30d from 0.62 (70 points) to 0.35 (30 points); not "
        "measured (no data, not counted as healthy): engagement"
    )
