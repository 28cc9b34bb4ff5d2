"""Reading a score for a person: its weakest dimension, what moved, what is missing.

A grade alone ("graded red") tells a CSM nothing to act on. These functions turn a
score's breakdown into the reason behind it: the dimension (scorecard component)
that earns the fewest points and the measure costing it most, the dimensions with
no data at all (named, never read as healthy), and the measure whose points moved
most since an earlier score. Pure: the callers read the scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telltales.models import MeasureResult, Score


@dataclass(frozen=True)
class Dimension:
    """One component of a score: its points (0..100) over the measures with data."""

    name: str
    points: float
    weakest: MeasureResult
    """The measure of this dimension earning the fewest points (first on a tie)."""


@dataclass(frozen=True)
class Move:
    """A measure's change between an earlier score and this one."""

    measure: str
    before: MeasureResult
    now: MeasureResult
    days: int

    @property
    def change(self) -> float:
        """Points now minus points before."""
        return (self.now.points or 0.0) - (self.before.points or 0.0)


def dimensions(score: Score) -> list[Dimension]:
    """The components with data, in the card's order, each with its points."""
    found: dict[str, list[MeasureResult]] = {}
    for line in score.breakdown:
        if line.points is not None:
            found.setdefault(line.component, []).append(line)
    result = []
    for name, lines in found.items():
        weights = [line.configured_weight or line.weight for line in lines]
        total = sum(weights)
        points = (
            sum((line.points or 0.0) * w for line, w in zip(lines, weights, strict=True)) / total
            if total
            else sum(line.points or 0.0 for line in lines) / len(lines)
        )
        weakest = min(lines, key=lambda line: line.points or 0.0)
        result.append(Dimension(name=name, points=round(points, 1), weakest=weakest))
    return result


def weakest_dimension(score: Score) -> Dimension | None:
    """The dimension earning the fewest points; on a tie, the first in the card's order."""
    found = dimensions(score)
    return min(found, key=lambda d: d.points) if found else None


def missing_dimensions(score: Score) -> list[str]:
    """The components none of whose measures had data, in the card's order."""
    present = {line.component for line in score.breakdown if line.points is not None}
    return list(
        dict.fromkeys(line.component for line in score.breakdown if line.component not in present)
    )


def moved_most(score: Score, earlier: Score | None) -> Move | None:
    """The measure whose points changed most (by the size of the change, falls first
    on a tie) between ``earlier`` and ``score``; None when nothing moved."""
    if earlier is None or earlier.as_of is None or score.as_of is None:
        return None
    before = {line.measure: line for line in earlier.breakdown if line.points is not None}
    best: Move | None = None
    for line in score.breakdown:
        then = before.get(line.measure)
        if line.points is None or then is None:
            continue
        move = Move(line.measure, then, line, (score.as_of - earlier.as_of).days)
        if move.change == 0:
            continue
        if best is None or (abs(move.change), -move.change) > (abs(best.change), -best.change):
            best = move
    return best


def value(number: float | None) -> str:
    """A measure's value as shown: four significant digits."""
    return "none" if number is None else f"{number:.4g}"


def describe_dimension(dimension: Dimension) -> str:
    """``weakest dimension adoption at 32/100: telemetry.x = 0.12 earns 0 points (...)``."""
    line = dimension.weakest
    return (
        f"weakest dimension {dimension.name} at {dimension.points:g}/100: {line.measure} = "
        f"{value(line.value)} earns {line.points or 0:g} points ({line.evidence})"
    )


def describe_move(move: Move) -> str:
    """``moved most in 30 days: telemetry.x from 0.62 (70 points) to 0.41 (30 points)``."""
    return (
        f"moved most in {move.days} days: {move.measure} from {value(move.before.value)} "
        f"({move.before.points or 0:g} points) to {value(move.now.value)} "
        f"({move.now.points or 0:g} points)"
    )


def describe_score(score: Score, earlier: Score | None = None) -> str:
    """The reason behind a score in one line: the weakest dimension and its measure,
    the measure that moved most (with ``earlier``), the dimensions not measured."""
    parts: list[str] = []
    weakest = weakest_dimension(score)
    if weakest is not None:
        parts.append(describe_dimension(weakest))
    move = moved_most(score, earlier)
    if move is not None:
        parts.append(describe_move(move))
    parts += _missing_part(score)
    return "; ".join(parts)


def _missing_part(score: Score) -> Sequence[str]:
    missing = missing_dimensions(score)
    if not missing:
        return []
    return [f"not measured (no data, not counted as healthy): {', '.join(missing)}"]
