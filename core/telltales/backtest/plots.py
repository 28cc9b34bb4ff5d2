"""The report card's charts: calibration, lift and lead time, drawn as images.

Each chart is drawn from a stored backtest (its report and its observations), so the
CLI (``telltales backtest --plots DIR``) and the CSM's pages draw the same picture
from the same figures. matplotlib is an optional extra (``telltales[plots]``): without
it, asking for a chart is a clear error, and nothing else needs it.

- **calibration**: per scorecard, the churn rate of each grade with its Wilson
  interval and its count of observations, beside the base rate. The rates should
  rise from green to red.
- **lift**: per scorecard, the churn rate of the riskiest share of observations over
  the base rate, for every share from 5% to 100% (a tie straddling a cut counts in
  proportion, as in the report's lift of the riskiest decile). A random ranking is 1.
- **lead time**: per rule, each churn it flagged as a point at its lead time in days
  (first firing of the episode to the churn), with the median and the interquartile
  range: the same figures as the report's lead time.

Charts draw the overall cut, from the out-of-time cut on when the backtest has one.
A figure the report does not give (too few churns) is not drawn: the chart says why.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from telltales.backtest import statistics
from telltales.backtest.bootstrap import rank
from telltales.backtest.observations import Observation
from telltales.backtest.report import Report, by_account, lead_times
from telltales.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Chart = Literal["calibration", "lift", "lead_time"]
CHARTS: tuple[Chart, ...] = ("calibration", "lift", "lead_time")
ImageFormat = Literal["png", "svg"]
SHARES = tuple(step / 20 for step in range(1, 21))
"""The riskiest shares the lift chart is drawn at: 5%, 10%, ..., 100%."""
GRADE_LABELS = {"insufficient_data": "insufficient\ndata"}
GRADE_COLOURS = {
    "green": "#2e7d32",
    "amber": "#ef8f00",
    "red": "#c62828",
    "insufficient_data": "#9e9e9e",
}


def render(
    chart: Chart,
    report: Report,
    observations: Sequence[Observation],
    image: ImageFormat = "png",
) -> bytes:
    """One chart of a backtest as image bytes (PNG or SVG)."""
    figure = _draw(chart, report, observations)
    import matplotlib

    buffer = io.BytesIO()
    # SVG keeps its words as text, so a page can be searched and read aloud.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "telltales"}):
        figure.savefig(buffer, format=image, dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def write(
    report: Report,
    observations: Sequence[Observation],
    directory: Path,
    image: ImageFormat = "png",
) -> list[Path]:
    """Every chart of a backtest into ``directory`` (created if needed); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in CHARTS:
        path = directory / f"{chart}.{image}"
        path.write_bytes(render(chart, report, observations, image))
        written.append(path)
    return written


def judged(report: Report, observations: Sequence[Observation]) -> list[Observation]:
    """The observations the overall cut judged: outcome known, from the cut on."""
    cut = report.settings.judge_from
    return [o for o in observations if o.outcome is not None and (cut is None or o.day >= cut)]


def lift_curve(name: str, observations: Sequence[Observation]) -> list[tuple[float, float]]:
    """(share, lift) of one scorecard for each share of :data:`SHARES`; empty without
    a churn or without a scored observation."""
    scored = [o for o in observations if o.scores.get(name) is not None]
    risks = [100 - (o.scores[name] or 0.0) for o in scored]
    outcomes = [bool(o.outcome) for o in scored]
    pos, neg = rank(risks, outcomes, [0] * len(scored)).sums()
    churns = sum(outcomes)
    if not churns:
        return []
    base = churns / len(scored)
    curve = []
    for share in SHARES:
        rate = statistics.top_share_rate(pos, neg, share)
        if rate is not None:
            curve.append((share, rate / base))
    return curve


def require() -> None:
    """Refuse clearly, before any work, when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as missing:
        raise InputError(
            "charts need matplotlib, which is not installed: pip install 'telltales[plots]'"
        ) from missing


def _new_figure(report: Report, title: str) -> Figure:
    """A figure of its own, outside pyplot (no global state, no screen, safe in a
    server's threads), titled with the overall cut's sample size."""
    require()
    from matplotlib.figure import Figure

    overall = report.cuts[0]
    figure = Figure(figsize=(7.5, 4.2))
    figure.suptitle(
        f"{title}\n({overall.observations} observations, {overall.churns} churns)", fontsize=11
    )
    return figure


def _draw(chart: Chart, report: Report, observations: Sequence[Observation]) -> Figure:
    if chart == "calibration":
        return _calibration(report)
    if chart == "lift":
        return _lift(report, judged(report, observations))
    return _lead_time(report, observations)


def _reason_text(figure: Figure, text: str) -> Figure:
    figure.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10)
    return figure


def _calibration(report: Report) -> Figure:
    overall = report.cuts[0]
    figure = _new_figure(
        report, f"Churn rate per grade, within {report.settings.horizon_days} days"
    )
    cards = overall.scorecards
    axes = figure.subplots(1, len(cards), sharey=True, squeeze=False)[0]
    for ax, card in zip(axes, cards, strict=True):
        rows = [row for row in card.calibration if row.rate is not None]
        ax.set_title(card.scorecard, fontsize=10)
        ax.set_xlabel("grade (observations)")
        if not rows:
            reason = card.auc.reason or "no grade to judge"
            ax.text(0.5, 0.5, reason, ha="center", va="center", wrap=True, transform=ax.transAxes)
            ax.set_xticks([])
            continue
        labels = [f"{GRADE_LABELS.get(row.grade, row.grade)}\n({row.observations})" for row in rows]
        rates = [100 * (row.rate or 0.0) for row in rows]
        lows = [100 * ((row.rate or 0.0) - (row.low or 0.0)) for row in rows]
        highs = [100 * ((row.high or 0.0) - (row.rate or 0.0)) for row in rows]
        colours = [GRADE_COLOURS.get(row.grade, "#607d8b") for row in rows]
        ax.bar(labels, rates, color=colours, yerr=[lows, highs], capsize=4)
        if card.base_rate is not None:
            ax.axhline(100 * card.base_rate, color="#37474f", linestyle="--", linewidth=1)
            ax.text(
                len(rows) - 0.5,
                100 * card.base_rate,
                f"base rate {card.base_rate:.1%}",
                ha="right",
                va="bottom",
                fontsize=8,
            )
    axes[0].set_ylabel("churned within the horizon, % (95% Wilson)")
    return figure


def _lift(report: Report, observations: Sequence[Observation]) -> Figure:
    overall = report.cuts[0]
    figure = _new_figure(report, "Lift: churn rate of the riskiest share over the base rate")
    ax = figure.subplots()
    drawn = 0
    for card in overall.scorecards:
        if card.lift_top_decile.value is None:
            continue
        curve = lift_curve(card.scorecard, observations)
        if curve:
            ax.plot(
                [100 * share for share, _ in curve],
                [lift for _, lift in curve],
                marker="o",
                markersize=3,
                label=f"{card.scorecard} (top 10%: {card.lift_top_decile.value:.2f})",
            )
            drawn += 1
    if not drawn:
        reason = overall.scorecards[0].lift_top_decile.reason if overall.scorecards else None
        return _reason_text(figure, reason or "no scorecard to draw")
    ax.axhline(1.0, color="#37474f", linestyle="--", linewidth=1, label="random ranking")
    ax.set_xlabel("riskiest share of observations, %")
    ax.set_ylabel("lift (x the base rate)")
    ax.legend(fontsize=8)
    return figure


def _lead_time(report: Report, observations: Sequence[Observation]) -> Figure:
    overall = report.cuts[0]
    figure = _new_figure(report, "Lead time: days from a rule's first firing to the churn")
    scope, history = judged(report, observations), by_account(observations)
    leads = {
        rule.rule: days
        for rule in overall.rules
        if rule.lead_time_days is not None and (days := lead_times(rule.rule, scope, history))
    }
    if not leads:
        reasons = [rule.recall.reason for rule in overall.rules if rule.recall.reason]
        return _reason_text(figure, reasons[0] if reasons else "no rule flagged a churn")
    ax = figure.subplots()
    names = sorted(leads)
    ax.boxplot([leads[name] for name in names], orientation="horizontal", whis=(0, 100), widths=0.5)
    for row, name in enumerate(names, start=1):
        days = leads[name]
        ax.scatter(days, [row] * len(days), s=10, alpha=0.6, color="#1565c0", zorder=3)
    ax.set_yticks(range(1, len(names) + 1), [f"{n} ({len(leads[n])})" for n in names])
    ax.set_xlabel("days ahead of the churn (box: median and interquartile range)")
    return figure
