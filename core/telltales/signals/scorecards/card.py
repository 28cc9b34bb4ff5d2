"""A validated scorecard and its arithmetic: signals in, a score with its breakdown out.

Cards are compiled once per run (see ``definition``) into these plain objects, so
scoring 50,000 accounts is one pass over each account's signals with no lookups by
name beyond one dictionary.

The rules, in one place:

* a measure turns its signal's value into 0..100 points (thresholds or a linear scale);
* a component's points are its measures' points weighted by their weights;
* a missing measure's weight is spread over the measures of its component that have
  data, and a component with no data at all has its weight spread over the other
  components, so a missing signal never counts as healthy (nor as 0);
* coverage is the share of the card's configured weight that had data; below the
  card's ``min_coverage`` the score is ``insufficient_data`` with no value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

from telltales.models import Grade, MeasureResult, Score, Signal
from telltales.store.queries import EarlierScore, score_trend

_NOTHING: tuple[EarlierScore | None, EarlierScore | None] = (None, None)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Points by the first step the value reaches, listed from the best to the worst."""

    steps: tuple[tuple[float, float], ...]
    """(threshold, points) pairs."""
    at_least: bool
    """True: a step is reached when the value is at least its threshold; else at most."""
    otherwise: float

    def points(self, value: float) -> float:
        for threshold, points in self.steps:
            if (value >= threshold) if self.at_least else (value <= threshold):
                return points
        return self.otherwise


@dataclass(frozen=True, slots=True)
class Linear:
    """0 points at ``worst`` (or beyond), 100 at ``best`` (or beyond), in proportion between.

    ``best`` below ``worst`` means lower is better (days since the last meeting).
    Points are rounded to a tenth, as shown, so the breakdown adds up to the score
    a reader can recompute.
    """

    worst: float
    best: float

    def points(self, value: float) -> float:
        share = (value - self.worst) / (self.best - self.worst)
        return round(100.0 * min(1.0, max(0.0, share)), 1)


@dataclass(frozen=True, slots=True)
class Measure:
    """One signal of a card and how it earns points."""

    key: str
    component: str
    weight: float
    """Share of its component, as configured."""
    configured: float
    """Share of the whole card: the component's weight times the measure's."""
    rule: Thresholds | Linear
    unavailable: str | None = None
    """Why this signal can never be present (its source is not installed), for the
    breakdown; None when it is simply absent on a day."""


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    weight: float
    measures: tuple[Measure, ...]


@dataclass(frozen=True, slots=True)
class Band:
    grade: Grade
    low: float
    high: float
    label: str


class _Plan(NamedTuple):
    """The effective weight of every measure, and the coverage, for one pattern of
    measures present; accounts with the same pattern share it."""

    weights: tuple[float, ...]
    coverage: float


@dataclass(frozen=True)
class Card:
    """One scorecard, ready to score accounts."""

    name: str
    config_id: str
    """``<card>@<hash of the files that define it>``, stamped on every score."""
    min_coverage: float
    components: tuple[Component, ...]
    bands: tuple[Band, ...]
    """Green first, then amber, then red; contiguous over 0..100 (checked at load)."""
    insufficient_label: str
    measures: tuple[Measure, ...] = field(init=False)
    _index: dict[str, int] = field(init=False, repr=False)
    _plans: dict[int, _Plan] = field(init=False, repr=False)
    _missing: dict[date, tuple[MeasureResult, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        measures = tuple(m for c in self.components for m in c.measures)
        object.__setattr__(self, "measures", measures)
        object.__setattr__(self, "_index", {m.key: i for i, m in enumerate(measures)})
        object.__setattr__(self, "_plans", {})
        object.__setattr__(self, "_missing", {})

    def grade(self, value: float) -> tuple[Grade, str]:
        """The band a value falls in: each band holds its lower bound, green also 100."""
        for band in self.bands:
            if value >= band.low:
                return band.grade, band.label
        last = self.bands[-1]
        return last.grade, last.label

    def score(
        self,
        account_id: str,
        scorer: str,
        signals: Sequence[Signal],
        as_of: date,
        earlier: tuple[EarlierScore | None, EarlierScore | None] = _NOTHING,
    ) -> Score:
        """Score one account from its signals of the day; ``earlier`` gives the trend.

        This runs once per account, so the work that depends only on which measures
        are present (the redistributed weights, the coverage) is done once per
        pattern and the breakdown lines of missing measures once per day.
        """
        found: list[Signal | None] = [None] * len(self.measures)
        present = 0
        index = self._index
        for signal in signals:
            position = index.get(signal.key)
            if position is not None:
                found[position] = signal
                present |= 1 << position
        plan = self._plans.get(present) or self._plan(present)
        missing = self._missing.get(as_of) or self._missing_lines(as_of)
        breakdown: list[MeasureResult] = []
        value = 0.0
        for position, measure in enumerate(self.measures):
            seen = found[position]
            if seen is None:
                breakdown.append(missing[position])
                continue
            earned = measure.rule.points(seen.value)
            weight = plan.weights[position]
            value += earned * weight
            breakdown.append(
                MeasureResult(
                    measure=measure.key,
                    component=measure.component,
                    signal_key=measure.key,
                    value=seen.value,
                    points=earned,
                    weight=weight,
                    evidence=seen.evidence,
                    configured_weight=measure.configured,
                )
            )
        result: float | None
        grade: Grade
        # No measure at all is never a grade, whatever min_coverage says.
        if not present or plan.coverage < self.min_coverage:
            result, grade, label = None, "insufficient_data", self.insufficient_label
        else:
            result = round(value, 1)
            grade, label = self.grade(result)
        before_7d, before_30d = earlier
        return Score(
            account_id=account_id,
            scorer=scorer,
            value=result,
            grade=grade,
            label=label,
            coverage=plan.coverage,
            breakdown=tuple(breakdown),
            config_id=self.config_id,
            as_of=as_of,
            trend_7d=score_trend(7, result, self.config_id, before_7d),
            trend_30d=score_trend(30, result, self.config_id, before_30d),
        )

    def value_of(self, values: Mapping[str, float]) -> tuple[float | None, Grade]:
        """The score and grade of a day's measured values (signal key to value), without
        the breakdown: the same arithmetic as :meth:`score`, for the backtest's many
        rescorings of stored observations."""
        present = 0
        for position, measure in enumerate(self.measures):
            if measure.key in values:
                present |= 1 << position
        plan = self._plans.get(present) or self._plan(present)
        if not present or plan.coverage < self.min_coverage:
            return None, "insufficient_data"
        value = 0.0  # summed in the order score() sums, so the two round alike
        for position, measure in enumerate(self.measures):
            if present >> position & 1:
                value += measure.rule.points(values[measure.key]) * plan.weights[position]
        result = round(value, 1)
        return result, self.grade(result)[0]

    def _plan(self, present: int) -> _Plan:
        """Spread missing measures' weight within their component, then missing
        components' weight over the other components, in proportion to their weights."""
        weights: list[float] = []
        coverage = 0.0
        position = 0
        totals: list[float] = []
        for component in self.components:
            total = 0.0
            for measure in component.measures:
                if present >> position & 1:
                    total += measure.weight
                    coverage += measure.configured
                position += 1
            totals.append(total)
        components_present = math.fsum(
            c.weight for c, total in zip(self.components, totals, strict=True) if total
        )
        position = 0
        for component, total in zip(self.components, totals, strict=True):
            for measure in component.measures:
                share = (
                    component.weight / components_present * measure.weight / total
                    if present >> position & 1
                    else 0.0
                )
                weights.append(round(share, 6))
                position += 1
        # Weights need only sum to 1 within a millionth: keep coverage within 0..1.
        plan = _Plan(weights=tuple(weights), coverage=min(1.0, round(coverage, 6)))
        self._plans[present] = plan
        return plan

    def _missing_lines(self, as_of: date) -> tuple[MeasureResult, ...]:
        """The breakdown line of each measure when it is missing on ``as_of``."""
        if len(self._missing) > 31:
            self._missing.clear()
        lines = tuple(
            MeasureResult(
                measure=measure.key,
                component=measure.component,
                signal_key=measure.key,
                value=None,
                points=None,
                weight=0.0,
                evidence=f"missing: {measure.unavailable or f'no {measure.key} signal on {as_of}'}",
                configured_weight=measure.configured,
            )
            for measure in self.measures
        )
        self._missing[as_of] = lines
        return lines
