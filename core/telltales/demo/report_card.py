"""The end of the demo's summary: how well the health score predicted the churns.

Two cards are judged on the second half-year of the book, out of time: the shipped
card the demo scores with, and a card fitted (``telltales.backtest.fit``) on the
first half-year, with only the outcomes known at its end. The observations are read
from the demo's own weekly runs — made with one configuration, week by week as of
each day — so no replay is needed: the same observation table and report card as
``telltales backtest`` (docs/backtest.md), at a fraction of its cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import msgspec

from telltales.backtest import fit
from telltales.backtest.observations import Observation, collect, score_of, stored_readings
from telltales.backtest.report import Figure, ScorecardReport, Settings, build_report
from telltales.errors import InputError
from telltales.signals.scorecards import HEALTH_SCORER, Card, Scoring
from telltales.store import Store

HORIZON_DAYS = 90
HALF_YEAR_DAYS = 182
RESAMPLES = 200
"""Bootstrap resamples of accounts for the intervals: fewer than ``telltales backtest``'s
1000, to keep the demo quick; the intervals are a little rougher."""
MIN_CHURNS = 10


@dataclass(frozen=True)
class ReportCards:
    """What the lines are made of, for the tests."""

    cut: date
    judged_through: date
    observations: list[Observation]
    """Every observation, with the fitted card's score added from the cut on."""
    shipped: ScorecardReport
    fitted: ScorecardReport | None
    fit: fit.Fit | None
    problem: str | None
    """Why there is no fitted card."""

    def judged(self) -> list[Observation]:
        """The observations the report card judged: from the cut on, their horizon over."""
        return [o for o in self.observations if o.day >= self.cut and o.outcome is not None]


def report_cards(
    store: Store,
    scoring: Scoring,
    first_day: date,
    end: date,
    *,
    min_churns: int = fit.MIN_CHURNS,
) -> ReportCards:
    """Judge the shipped scoring and a card fitted on the first half-year on the second;
    below ``min_churns`` churns known by the cut, there is no fitted card, and the lines
    say why."""
    days = [
        date.fromisoformat(day)
        for (day,) in store.reader.execute(
            "SELECT DISTINCT as_of FROM scores WHERE scorer = ? ORDER BY as_of", [HEALTH_SCORER]
        )
    ]
    cut = first_day + timedelta(days=HALF_YEAR_DAYS)
    measured = sorted({m.key for card in scoring.cards.values() for m in card.measures})
    observations = collect(
        store.reader,
        stored_readings(store.reader, days, measured),
        {},
        horizon=HORIZON_DAYS,
        kind="churn",
        known_through=end,
    )
    current = scoring.default
    name = f"{current.name}_fitted"
    found: fit.Fit | None = None
    problem = None
    try:
        found, card = fit.fit(
            observations,
            current,
            name=name,
            horizon=HORIZON_DAYS,
            through=cut,
            min_churns=min_churns,
        )
    except InputError as error:
        problem = str(error)
    else:
        observations = [_with_score(o, name, card) if o.day >= cut else o for o in observations]
    settings = Settings(
        first_day=days[0] if days else first_day,
        last_day=days[-1] if days else end,
        every_days=7,
        horizon_days=HORIZON_DAYS,
        outcome="churn",
        outcomes_through=end,
        judge_from=cut,
        scorecards=[] if found is None else [name],
        min_churns=MIN_CHURNS,
        resamples=RESAMPLES,
        seed=1,
    )
    overall = build_report(observations, settings, by=()).cuts[0]
    return ReportCards(
        cut=cut,
        judged_through=end - timedelta(days=HORIZON_DAYS),
        observations=observations,
        shipped=overall.scorecards[0],
        fitted=None if found is None else overall.scorecards[1],
        fit=found,
        problem=problem,
    )


def _with_score(observation: Observation, name: str, card: Card) -> Observation:
    value, grade = score_of(card, observation)
    return msgspec.structs.replace(
        observation,
        scores={**observation.scores, name: value},
        grades={**observation.grades, name: grade},
    )


def render(cards: ReportCards, scoring: Scoring) -> list[str]:
    """The report card lines: a table of the two cards, their calibration, the fit."""
    shipped = f"{scoring.default.name} (shipped, live)"
    lines = [
        f"Report card of the health score, out of time: churn within {HORIZON_DAYS} days of "
        f"each weekly run from {cards.cut} to {cards.judged_through}; the fitted card "
        f"learned only from the runs before {cards.cut} and what was known then.",
        f"  {'card':<34}{'AUC (95%)':<22}{'avg precision':<16}{'Brier / base':<16}lift top 10%",
    ]
    rows = [(shipped, cards.shipped)]
    if cards.fitted is not None:
        rows.append((f"{cards.fitted.scorecard} (first half-year)", cards.fitted))
    for label, card in rows:
        brier = _value(card.brier)
        reference = "-" if card.brier_reference is None else f"{card.brier_reference:.3f}"
        lines.append(
            f"  {label:<34}{_interval(card.auc):<22}{_value(card.average_precision):<16}"
            f"{brier + ' / ' + reference:<16}{_value(card.lift_top_decile)}"
        )
    for label, card in rows:
        grades = ", ".join(
            f"{row.grade} {row.churned}/{row.observations}"
            + ("" if row.rate is None else f" ({row.rate:.1%})")
            for row in card.calibration
        )
        lines.append(f"  churned by grade, {label.split(' ')[0]}: {grades}")
    reason = cards.shipped.auc.reason
    if reason:
        lines.append(f"  -: {reason}")
    if cards.fit is None:
        lines.append(f"  No fitted card: {cards.problem}")
        return lines
    lines.append(_fit_line(cards.fit))
    return lines


def _fit_line(found: fit.Fit) -> str:
    cv = found.cross_validation
    turned = [m.signal for m in found.measures if m.flipped]
    carry = sorted(
        (m for m in found.measures if m.learned is not None), key=lambda m: -abs(m.learned or 0)
    )[:2]
    text = (
        f"  The fitted card learned from {found.observations:,} observations ({found.churns} "
        f"churns known by the cut); {', '.join(m.signal for m in carry)} carry most of it"
    )
    if turned:
        text += f"; turned round (pointed the wrong way): {', '.join(turned)}"
    if cv.fitted is not None and cv.current is not None:
        text += (
            f". Cross-validated by account: AUC {cv.fitted.mean:.3f} "
            f"({cv.fitted.low:.3f}-{cv.fitted.high:.3f}) against {cv.current.mean:.3f} for "
            f"{found.card} on the same folds"
        )
    return text + ". `telltales scorecards fit` makes one (docs/backtest.md)."


def _value(figure: Figure) -> str:
    return "-" if figure.value is None else f"{figure.value:.3f}"


def _interval(figure: Figure) -> str:
    if figure.value is None:
        return "-"
    if figure.low is None or figure.high is None:
        return f"{figure.value:.3f}"
    return f"{figure.value:.3f} ({figure.low:.2f}-{figure.high:.2f})"
