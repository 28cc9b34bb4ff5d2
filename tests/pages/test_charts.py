"""The pages' SVG charts: coordinates worked out by hand, labels escaped, no style.

No browser here: the drawing functions are pure.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from telltales_api.pages.charts import (
    CHART,
    SPARK,
    Frame,
    Mark,
    Series,
    line_chart,
    lone_points,
    number,
    path_data,
    sparkline,
)

DAY0 = date(2026, 1, 1)


def day(n: int) -> date:
    return DAY0 + timedelta(days=n)


def test_days_and_values_fall_where_the_frame_says() -> None:
    plain = Frame(width=100, height=50)
    assert plain.x(day(0), day(0), day(10)) == 0
    assert plain.x(day(5), day(0), day(10)) == 50
    assert plain.x(day(10), day(0), day(10)) == 100
    assert plain.y(0, 0, 100) == 50
    assert plain.y(100, 0, 100) == 0
    assert plain.y(25, 0, 100) == 37.5
    # Margins: 100 units across from x=10, 50 down from y=5.
    framed = Frame(width=120, height=60, left=10, right=10, top=5, bottom=5)
    assert framed.x(day(3), day(0), day(10)) == 40  # 10 + 3/10 of 100
    assert framed.y(40, 0, 100) == 35  # 5 + (1 - 0.4) x 50
    # One day, or one value: the middle, not a division by zero.
    assert framed.x(day(4), day(4), day(4)) == 60
    assert framed.y(7, 7, 7) == 30
    # A third of 100 is written to a tenth.
    assert number(plain.x(day(1), day(0), day(3))) == "33.3"
    assert number(plain.y(100, 0, 100)) == "0"
    assert number(87.25) == "87.2"


def test_a_path_starts_again_after_each_gap() -> None:
    plain = Frame(width=100, height=50)
    through = [(day(0), 0.0), (day(5), 50.0), (day(10), 100.0)]
    assert path_data(through, day(0), day(10), 0, 100, plain) == "M0 50 L50 25 L100 0"
    gap = [(day(0), 0.0), (day(5), None), (day(10), 100.0)]
    assert path_data(gap, day(0), day(10), 0, 100, plain) == "M0 50 M100 0"
    assert lone_points(gap) == [(day(0), 0.0), (day(10), 100.0)]
    assert lone_points([(day(0), 1.0), (day(1), None), (day(2), 3.0), (day(3), 4.0)]) == [
        (day(0), 1.0)
    ]


def test_the_chart_grid_marks_and_lines_are_where_worked_out() -> None:
    # CHART: 720 x 240, left 32, right 8, top 8, bottom 22: 680 across, 210 down.
    svg = line_chart(
        [Series(name="health score", css="score", points=[(day(0), 50.0), (day(68), 75.0)])],
        [Mark(day=day(34), css="to-at_risk", label="Healthy to At-Risk")],
        first=day(0),
        last=day(68),
        title="Health score",
    )
    grid = re.findall(r'<line class="grid" x1="32" y1="([\d.]+)" x2="712"', svg)
    assert grid == ["218", "165.5", "113", "60.5", "8"]  # 0, 25, 50, 75 and 100 points
    assert '<path class="line score" d="M32 113 L712 60.5"/>' in svg
    # Day 34 of 68: halfway across, 32 + 340.
    assert '<line class="mark to-at_risk" x1="372" y1="8" x2="372" y2="218">' in svg
    assert "<title>Healthy to At-Risk</title>" in svg
    assert ">2026-01-01</text>" in svg
    assert ">2026-03-10</text>" in svg
    assert "style" not in svg, "the pages' CSP allows no inline style"


def test_labels_are_escaped() -> None:
    name = "<script>alert('x')</script> & \"Co\""
    svg = line_chart(
        [Series(name=name, css="dim-1", points=[(day(0), 10.0)])],
        [Mark(day=day(0), css='x" onload="alert(1)', label=name)],
        first=day(0),
        last=day(0),
        title=name,
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'onload="' not in svg
    # A lone point is a dot, in the middle of a one-day chart.
    assert '<circle class="dot dim-1" cx="372" cy="197" r="2.5"/>' in svg


def test_a_sparkline_scales_to_its_own_values() -> None:
    # SPARK: 120 x 28, 2 on each side, 3 above and below: 116 across, 22 down.
    svg = sparkline([(day(0), 10.0), (day(2), 30.0), (day(4), 20.0)], title="usage")
    assert '<path class="line" d="M2 25 L60 3 L118 14"/>' in svg
    assert '<circle class="dot" cx="118" cy="14" r="2"/>' in svg
    flat = sparkline([(day(0), 5.0), (day(1), 5.0)], title="flat", frame=SPARK)
    assert 'd="M2 14 L118 14"' in flat, "a constant signal is a flat line in the middle"
    assert sparkline([], title="none") == ""
    assert CHART.width == 720
