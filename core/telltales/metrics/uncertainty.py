"""How sure a figure is: the sample it rests on, its interval, and pilot-vs-control differences.

A figure keeps its exact value in every report (it is what happened to those
renewals, and finance reconciles against it), but beside it each report says how many
cases it rests on, whether that is enough (``[metrics]`` minimums), and its
confidence interval; below the minimum the interval is withheld with the reason and
the count, and the CLI and the demo print the reason instead of the figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import msgspec

from telltales.config import MetricSettings
from telltales.metrics import intervals

Unit = Literal["renewals", "episodes", "runs"]


class Interval(msgspec.Struct, frozen=True):
    """The confidence interval of a figure, at the report's ``confidence``."""

    low: float
    high: float


class Sample(msgspec.Struct, kw_only=True, frozen=True):
    """The cases a row's figures rest on."""

    n: int
    unit: Unit
    """What is counted: renewals, risk episodes or playbook runs."""
    minimum: int
    """The fewest the configuration (``[metrics]``) allows a figure to rest on."""
    enough: bool
    """n >= minimum: only then are intervals given, and the CLI shows the figure."""
    withheld: str | None
    """Why the figures are not to be read, e.g. "too few renewals yet (9; 20 needed)"."""


class Comparison(msgspec.Struct, kw_only=True, frozen=True):
    """One figure of ``first`` minus the same figure of ``second``, with its interval."""

    figure: str
    """The field compared, e.g. ``grr``."""
    first: str
    second: str
    difference: float | None
    """first - second; null when either has no figure."""
    interval: Interval | None
    """Null unless both sides rest on enough cases."""
    method: str
    enough: bool
    withheld: str | None
    """Why there is no interval: the side(s) with too few cases, with their counts."""


@dataclass(frozen=True)
class Uncertainty:
    """The settings turned into samples, intervals and comparisons."""

    settings: MetricSettings

    @cached_property
    def z(self) -> float:
        return intervals.z_value(self.settings.confidence)

    def sample(self, n: int, unit: Unit) -> Sample:
        minimum = {
            "renewals": self.settings.min_renewals,
            "episodes": self.settings.min_episodes,
            "runs": self.settings.min_runs,
        }[unit]
        enough = n >= minimum
        withheld = None if enough else f"too few {unit} yet ({n}; {minimum} needed)"
        return Sample(n=n, unit=unit, minimum=minimum, enough=enough, withheld=withheld)

    def share(self, successes: int, sample: Sample) -> Interval | None:
        """Wilson interval of ``successes / sample.n``; None below the minimum."""
        if not sample.enough or sample.n == 0:
            return None
        return Interval(*intervals.wilson(successes, sample.n, self.z))

    def ratio(
        self,
        numerators: Sequence[float],
        denominators: Sequence[float],
        sample: Sample,
        *,
        upper: float | None = None,
    ) -> Interval | None:
        """Linearization interval of a ratio of sums; None below the minimum or undefined."""
        if not sample.enough or len(numerators) < 2 or sum(denominators) <= 0:
            return None
        return Interval(*intervals.ratio_interval(numerators, denominators, self.z, upper=upper))

    def mean(self, values: Sequence[float], sample: Sample) -> Interval | None:
        """Normal interval of the mean; None below the minimum or with one value."""
        if not sample.enough or len(values) < 2:
            return None
        return Interval(*intervals.mean_interval(values, self.z))

    def share_difference(
        self,
        figure: str,
        names: tuple[str, str],
        successes: tuple[int, int],
        samples: tuple[Sample, Sample],
    ) -> Comparison:
        """first - second of two shares, with Newcombe's interval."""
        (a, b), (sample_a, sample_b) = successes, samples
        difference = a / sample_a.n - b / sample_b.n if sample_a.n and sample_b.n else None
        found = None
        if difference is not None and sample_a.enough and sample_b.enough:
            found = Interval(*intervals.newcombe(a, sample_a.n, b, sample_b.n, self.z))
        return self._comparison(figure, names, samples, difference, found, intervals.NEWCOMBE)

    def estimate_difference(
        self,
        figure: str,
        names: tuple[str, str],
        estimates: tuple[tuple[float, float] | None, tuple[float, float] | None],
        samples: tuple[Sample, Sample],
    ) -> Comparison:
        """first - second of two independent (value, variance) estimates (ratios, means)."""
        first, second = estimates
        difference = None if first is None or second is None else first[0] - second[0]
        found = None
        if first is not None and second is not None and samples[0].enough and samples[1].enough:
            found = Interval(
                *intervals.difference_interval(first[0] - second[0], first[1], second[1], self.z)
            )
        return self._comparison(figure, names, samples, difference, found, intervals.DIFFERENCE)

    def _comparison(
        self,
        figure: str,
        names: tuple[str, str],
        samples: tuple[Sample, Sample],
        difference: float | None,
        found: Interval | None,
        method: str,
    ) -> Comparison:
        short = [
            f"{name}: {sample.withheld}"
            for name, sample in zip(names, samples, strict=True)
            if sample.withheld
        ]
        return Comparison(
            figure=figure,
            first=names[0],
            second=names[1],
            difference=difference,
            interval=found,
            method=method,
            enough=found is not None,
            withheld=None if found is not None else "; ".join(short) or "no interval: undefined",
        )


def ratio_estimate(
    numerators: Sequence[float], denominators: Sequence[float]
) -> tuple[float, float] | None:
    """(ratio, linearization variance), or None when it is undefined (under 2 units, no ARR)."""
    total = sum(denominators)
    if len(numerators) < 2 or total <= 0:
        return None
    return sum(numerators) / total, intervals.ratio_variance(numerators, denominators)


def mean_estimate(values: Sequence[float]) -> tuple[float, float] | None:
    """(mean, variance of the mean), or None with fewer than 2 values."""
    if len(values) < 2:
        return None
    return sum(values) / len(values), intervals.mean_variance(values)
