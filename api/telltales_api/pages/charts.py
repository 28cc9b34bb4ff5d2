"""The pages' charts, drawn on the server as inline SVG: no script, no style attribute.

A chart is a few paths and lines whose colours come from classes in ``pages.css``,
so the pages' Content-Security-Policy stays strict (``style-src 'self'``, no inline
style) and a chart needs nothing but the page it is in. Every function here is pure:
days and values in, SVG text out, each coordinate written to a tenth of a unit.
Every label is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

Point = tuple[date, float | None]
"""A day and its value; None leaves a gap in the line (no score that day)."""


@dataclass(frozen=True)
class Frame:
    """A chart's size in SVG units and the margins kept for its axes' labels."""

    width: float
    height: float
    left: float = 0.0
    right: float = 0.0
    top: float = 0.0
    bottom: float = 0.0

    def x(self, day: date, first: date, last: date) -> float:
        """Where ``day`` falls between ``first`` (left edge) and ``last`` (right edge);
        the middle when the two are the same day."""
        span = self.width - self.left - self.right
        days = (last - first).days
        share = 0.5 if days <= 0 else (day - first).days / days
        return self.left + share * span

    def y(self, value: float, low: float, high: float) -> float:
        """Where ``value`` falls between ``low`` (bottom) and ``high`` (top); the middle
        when the two are equal (a flat line)."""
        span = self.height - self.top - self.bottom
        share = 0.5 if high <= low else (value - low) / (high - low)
        return self.top + (1 - share) * span


@dataclass(frozen=True)
class Series:
    """One line: its name (the legend's words) and its class (its colour)."""

    name: str
    css: str
    points: Sequence[Point]


@dataclass(frozen=True)
class Mark:
    """A day marked across the chart (a status change), with what happened."""

    day: date
    css: str
    label: str


CHART = Frame(width=720, height=240, left=32, right=8, top=8, bottom=22)
SPARK = Frame(width=120, height=28, left=2, right=2, top=3, bottom=3)
GRID = (0, 25, 50, 75, 100)


def number(value: float) -> str:
    """A coordinate as written: to a tenth of a unit, without a trailing ``.0``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def path_data(
    points: Sequence[Point], first: date, last: date, low: float, high: float, frame: Frame
) -> str:
    """The ``d`` of a path through ``points``: a new ``M`` after every gap."""
    parts: list[str] = []
    drawing = False
    for day, value in points:
        if value is None:
            drawing = False
            continue
        command = "L" if drawing else "M"
        x, y = frame.x(day, first, last), frame.y(value, low, high)
        parts.append(f"{command}{number(x)} {number(y)}")
        drawing = True
    return " ".join(parts)


def lone_points(points: Sequence[Point]) -> list[tuple[date, float]]:
    """The points with no neighbour to draw a line to: shown as dots, else invisible."""
    found = []
    for i, (day, value) in enumerate(points):
        before = points[i - 1][1] if i > 0 else None
        after = points[i + 1][1] if i + 1 < len(points) else None
        if value is not None and before is None and after is None:
            found.append((day, value))
    return found


def _line(series: Series, first: date, last: date, low: float, high: float, frame: Frame) -> str:
    shapes = []
    data = path_data(series.points, first, last, low, high, frame)
    if data:
        shapes.append(f'<path class="line {escape(series.css)}" d="{data}"/>')
    for day, value in lone_points(series.points):
        x, y = frame.x(day, first, last), frame.y(value, low, high)
        shapes.append(
            f'<circle class="dot {escape(series.css)}" cx="{number(x)}" cy="{number(y)}" r="2.5"/>'
        )
    return "".join(shapes)


def line_chart(
    series: Sequence[Series],
    marks: Sequence[Mark],
    *,
    first: date,
    last: date,
    title: str,
    frame: Frame = CHART,
) -> Markup:
    """Lines of 0..100 values from ``first`` to ``last``, with a grid every 25 points,
    the two end days under the axis, and each mark as a vertical line whose tooltip
    says what happened."""
    bottom = frame.height - frame.bottom
    parts = [
        f'<svg class="chart" viewBox="0 0 {number(frame.width)} {number(frame.height)}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for level in GRID:
        y = number(frame.y(level, 0, 100))
        parts.append(
            f'<line class="grid" x1="{number(frame.left)}" y1="{y}" '
            f'x2="{number(frame.width - frame.right)}" y2="{y}"/>'
            f'<text class="axis" x="{number(frame.left - 4)}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{level}</text>'
        )
    for mark in marks:
        x = number(frame.x(mark.day, first, last))
        parts.append(
            f'<line class="mark {escape(mark.css)}" x1="{x}" y1="{number(frame.top)}" '
            f'x2="{x}" y2="{number(bottom)}"><title>{escape(mark.label)}</title></line>'
        )
    for one in series:
        parts.append(_line(one, first, last, 0, 100, frame))
    label_y = number(frame.height - 4)
    parts.append(
        f'<text class="axis" x="{number(frame.left)}" y="{label_y}">{first.isoformat()}</text>'
    )
    if last != first:
        parts.append(
            f'<text class="axis" x="{number(frame.width - frame.right)}" y="{label_y}" '
            f'text-anchor="end">{last.isoformat()}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(points: Sequence[Point], *, title: str, frame: Frame = SPARK) -> Markup:
    """A small trend line scaled to its own lowest and highest value, its last value a
    dot; the tooltip gives the first and last day and value."""
    shown = [(day, value) for day, value in points if value is not None]
    if not shown:
        return Markup("")
    first, last = shown[0][0], shown[-1][0]
    low = min(value for _, value in shown)
    high = max(value for _, value in shown)
    data = path_data(points, first, last, low, high, frame)
    end_day, end_value = shown[-1]
    return Markup(
        f'<svg class="spark" viewBox="0 0 {number(frame.width)} {number(frame.height)}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<path class="line" d="{data}"/>'
        f'<circle class="dot" cx="{number(frame.x(end_day, first, last))}" '
        f'cy="{number(frame.y(end_value, low, high))}" r="2"/></svg>'
    )
