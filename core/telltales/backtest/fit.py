"""Learning a card's weights from backtest observations: ``telltales scorecards fit``.

A card is a weighted sum of points (0..100 per measure). A logistic regression of
"churned within the horizon" on the measures' points (over 100) learns how much each
measure says about churn, and which way: a health measure should have a negative
coefficient (more points, less churn). The learned weights are shares of the sum of
the coefficients' sizes, with their sign; a measure whose share is negative points
the wrong way, and the fitted card turns it round (its points become 100 - points).

The learned shares are not written as they are. They are **shrunk toward the
current card**: fitted = a x learned + (1 - a) x current, with
a = churns / (churns + prior) — with as many churns as the prior (50 by default)
both count equally, and the more churns, the more the data speaks. Measures with no
data in the observations keep their current share. The regression itself is
regularised (L2, scikit-learn's ``C = 1`` on points scaled to 0..1).

A figure learned on the same observations it is judged on flatters itself, so the
fit is **cross-validated by account and out of time**: the accounts are split into
folds (GroupKFold); each fold's card is learned from the other accounts' days before
the cut, with the outcomes known on the cut day, and judged on the fold's accounts
from the cut on — the days a team fitting on the cut day had not seen, of accounts
it had not seen. The current card is judged on the same folds.

"Outcomes known on a day" means what a team fitting on that day knew for certain: the
outcome of an observation whose horizon was over by then. One whose horizon was not
over is left out, churned or not: counting the not-yet-churned as not churned would
teach that the days just before the cut rarely lead to churn, and keeping only the
early churns of those days would teach the opposite. The fit never sees a churn after
the cut: no churn is both learned and judged. docs/backtest.md, "How to fit, shadow
and promote a card".
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import msgspec

from telltales.backtest.observations import Observation, score_of
from telltales.errors import InputError
from telltales.signals.scorecards import Card
from telltales.signals.scorecards.card import Component, Linear, Measure, Thresholds

MIN_CHURNS = 30
"""Fewer distinct churns to learn from and a fit is refused: a dozen weights learned
from a handful of churns is noise."""
PRIOR_CHURNS = 50
"""How many churns the current card's weights count as in the shrinkage."""
FOLDS = 5
REGULARISATION = 1.0
"""scikit-learn's ``C``: the inverse of the L2 penalty, on points scaled to 0..1."""
SMALLEST_WEIGHT = 0.0001
"""A card's weights are over 0: a measure the fit leaves nothing keeps this much."""
INSTALL_HINT = "pip install 'telltales[fit]'"


class FitProblem(InputError):
    """A fit that cannot be made, with the option it names (``min_churns``, ``card``...)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}; nothing was written", field=field)
        self.problem = problem


class MeasureFit(msgspec.Struct, kw_only=True, frozen=True):
    """One measure: what it weighed, what the data says, what the fitted card gives it."""

    signal: str
    component: str
    current: float
    """Its share of the current card's score (component weight x measure weight)."""
    learned: float | None
    """Its share of the learned coefficients, negative when more points meant more churn;
    None when the observations hold no value of it."""
    fitted: float
    """Its share of the fitted card's score."""
    flipped: bool
    """Turned round in the fitted card: it pointed the wrong way."""
    coverage: float
    """Share of the observations with a value of it."""
    auc: float | None
    """Its points alone as a ranking (fewer points, riskier): below 0.5 it points the
    wrong way on its own."""


class Spread(msgspec.Struct, kw_only=True, frozen=True):
    """A figure over the folds: the mean, the standard deviation, the lowest and highest."""

    mean: float
    sd: float | None
    low: float
    high: float
    folds: int


class Fold(msgspec.Struct, kw_only=True, frozen=True):
    fold: int
    trained_on: int
    """Observations learned from (other accounts, before the cut)."""
    trained_churns: int
    judged: int
    """Observations judged (this fold's accounts, from the cut on)."""
    judged_churns: int
    fitted_auc: float | None
    current_auc: float | None
    reason: str | None = None


class CrossValidation(msgspec.Struct, kw_only=True, frozen=True):
    cut: date
    folds: list[Fold]
    fitted: Spread | None
    current: Spread | None
    reason: str | None
    """Why there is no spread (fewer than two folds could be judged)."""


class Fit(msgspec.Struct, kw_only=True, frozen=True):
    """What was learned, from what, and how well it did on days and accounts it had not seen."""

    card: str
    """The current card, whose measures and points the fitted card keeps."""
    name: str
    first_day: date
    last_day: date
    """The days of the observations learned from."""
    through: date
    """Outcomes known through this day."""
    horizon_days: int
    observations: int
    accounts: int
    churns: int
    """Distinct churns (account and day) the observations lead to."""
    prior_churns: int
    blend: float
    """a in fitted = a x learned + (1 - a) x current."""
    measures: list[MeasureFit]
    cross_validation: CrossValidation


@dataclass(frozen=True)
class _Row:
    observation: Observation
    churned: bool
    points: tuple[float | None, ...]
    """Each measure's points over 100, None when missing."""


def require_sklearn() -> None:
    """Refuse with the install line when the optional extra is not installed."""
    try:
        import sklearn  # type: ignore[import-untyped]  # noqa: F401
    except ImportError as error:
        raise InputError(
            f"fitting a card needs scikit-learn, which is not installed: {INSTALL_HINT}"
        ) from error


def known_outcome(observation: Observation, through: date, horizon: int) -> bool | None:
    """Its outcome as known on ``through``: churned within the horizon or not, once the
    horizon is over by that day; None before (or when the backtest could not judge it)."""
    if observation.outcome is None or (through - observation.day).days < horizon:
        return None
    return bool(observation.outcome)


def fit(
    observations: Sequence[Observation],
    current: Card,
    *,
    name: str,
    horizon: int,
    through: date,
    cut: date | None = None,
    folds: int = FOLDS,
    prior_churns: int = PRIOR_CHURNS,
    min_churns: int = MIN_CHURNS,
) -> tuple[Fit, Card]:
    """Learn ``current``'s weights from the observations of days before ``through`` with
    the outcomes known on it; the fit's account and its card, named ``name``."""
    require_sklearn()
    graded = [o for o in observations if o.day < through and score_of(current, o)[0] is not None]
    rows = _rows(current, graded, through, horizon)
    churns = _churns(rows)
    if len(churns) < min_churns:
        raise FitProblem(
            "min_churns",
            f"too few outcomes to fit: {len(churns)} churns in {len(rows)} observations "
            f"graded by {current.name!r} with outcomes known through {through}; at least "
            f"{min_churns} are needed",
        )
    if all(row.churned for row in rows):
        raise FitProblem("min_churns", "every observation churned: nothing to tell apart")
    learned = _learn(current, rows)
    blend = len(churns) / (len(churns) + prior_churns)
    card = _fitted_card(current, name, learned, blend)
    validation = _cross_validate(current, graded, through, horizon, cut, folds, prior_churns)
    fitted_shares = {m.key: m.configured for m in card.measures}
    flipped = {m.key for m in card.measures if _is_flipped(m, current)}
    measures = [
        MeasureFit(
            signal=measure.key,
            component=measure.component,
            current=measure.configured,
            learned=learned[position],
            fitted=fitted_shares[measure.key],
            flipped=measure.key in flipped,
            coverage=sum(1 for r in rows if r.points[position] is not None) / len(rows),
            auc=_measure_auc(rows, position),
        )
        for position, measure in enumerate(current.measures)
    ]
    days = [row.observation.day for row in rows]
    account = Fit(
        card=current.name,
        name=name,
        first_day=min(days),
        last_day=max(days),
        through=through,
        horizon_days=horizon,
        observations=len(rows),
        accounts=len({row.observation.account_id for row in rows}),
        churns=len(churns),
        prior_churns=prior_churns,
        blend=blend,
        measures=measures,
        cross_validation=validation,
    )
    return account, card


def _rows(card: Card, graded: Sequence[Observation], through: date, horizon: int) -> list[_Row]:
    rows = []
    for o in graded:
        churned = known_outcome(o, through, horizon)
        if churned is None:
            continue
        points = tuple(
            None if m.key not in o.values else m.rule.points(o.values[m.key]) / 100
            for m in card.measures
        )
        rows.append(_Row(observation=o, churned=churned, points=points))
    return rows


def _churns(rows: Sequence[_Row]) -> set[tuple[str, date | None]]:
    return {(r.observation.account_id, r.observation.outcome_day) for r in rows if r.churned}


def _learn(card: Card, rows: Sequence[_Row]) -> list[float | None]:
    """Each measure's signed share of the coefficients (positive: more points, less
    churn); None for a measure with no value in any row. Missing values are filled with
    the measure's mean, so an absent measure neither helps nor hurts."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    columns = [p for p in range(len(card.measures)) if any(r.points[p] is not None for r in rows)]
    means = {}
    for p in columns:
        present = [r.points[p] for r in rows if r.points[p] is not None]
        means[p] = math.fsum(v for v in present if v is not None) / len(present)
    matrix = [[_or(r.points[p], means[p]) for p in columns] for r in rows]
    model = LogisticRegression(C=REGULARISATION, max_iter=1000)
    model.fit(matrix, [int(r.churned) for r in rows])
    health = [-float(c) for c in model.coef_[0]]
    size = math.fsum(abs(c) for c in health)
    learned: list[float | None] = [None] * len(card.measures)
    for p, coefficient in zip(columns, health, strict=True):
        learned[p] = coefficient / size if size else 0.0
    return learned


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _fitted_card(current: Card, name: str, learned: Sequence[float | None], blend: float) -> Card:
    """The current card with the blended weights; a measure whose blended share is
    negative is turned round (points 100 - points) and weighs its size."""
    shares = [m.configured for m in current.measures]
    with_data = math.fsum(s for s, got in zip(shares, learned, strict=True) if got is not None)
    signed = [
        share if got is None else blend * got * with_data + (1 - blend) * share
        for share, got in zip(shares, learned, strict=True)
    ]
    total = math.fsum(abs(s) for s in signed) or 1.0
    sizes = [abs(s) / total for s in signed]
    components = []
    position = 0
    component_shares = []
    for component in current.components:
        count = len(component.measures)
        component_shares.append(math.fsum(sizes[position : position + count]))
        position += count
    component_weights = _round_shares(component_shares)
    position = 0
    for component, weight in zip(current.components, component_weights, strict=True):
        count = len(component.measures)
        inside = sizes[position : position + count]
        total_inside = math.fsum(inside)
        weights = _round_shares(
            [s / total_inside for s in inside] if total_inside else [1 / count] * count
        )
        measures = tuple(
            Measure(
                key=measure.key,
                component=component.name,
                weight=measure_weight,
                configured=round(weight * measure_weight, 6),
                rule=_turned(measure.rule) if signed[position + i] < 0 else measure.rule,
                unavailable=measure.unavailable,
            )
            for i, (measure, measure_weight) in enumerate(
                zip(component.measures, weights, strict=True)
            )
        )
        components.append(Component(name=component.name, weight=weight, measures=measures))
        position += count
    return Card(
        name=name,
        config_id=f"{name}@fitted",
        min_coverage=current.min_coverage,
        components=tuple(components),
        bands=current.bands,
        insufficient_label=current.insufficient_label,
    )


def _round_shares(values: Sequence[float]) -> list[float]:
    """Shares rounded to four places, each at least :data:`SMALLEST_WEIGHT`, adding up to 1
    (the largest takes the rounding), as a card's weights must."""
    rounded = [max(round(v, 4), SMALLEST_WEIGHT) for v in values]
    largest = max(range(len(rounded)), key=lambda i: rounded[i])
    rounded[largest] = round(rounded[largest] + 1 - math.fsum(rounded), 4)
    return rounded


def _turned(rule: Thresholds | Linear) -> Thresholds | Linear:
    """The same measure pointing the other way: 100 - its points, everywhere."""
    if isinstance(rule, Linear):
        return Linear(worst=rule.best, best=rule.worst)
    return Thresholds(
        steps=tuple((bound, 100 - points) for bound, points in rule.steps),
        at_least=rule.at_least,
        otherwise=100 - rule.otherwise,
    )


def _is_flipped(measure: Measure, current: Card) -> bool:
    return measure.rule != next(m.rule for m in current.measures if m.key == measure.key)


def _auc(churned: Sequence[bool], risks: Sequence[float]) -> float | None:
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    if len(set(churned)) < 2:
        return None
    return float(roc_auc_score(churned, risks))


def _measure_auc(rows: Sequence[_Row], position: int) -> float | None:
    present = [r for r in rows if r.points[position] is not None]
    return _auc([r.churned for r in present], [-_or(r.points[position], 0) for r in present])


def _cross_validate(
    current: Card,
    graded: Sequence[Observation],
    through: date,
    horizon: int,
    cut: date | None,
    folds: int,
    prior_churns: int,
) -> CrossValidation:
    from sklearn.model_selection import GroupKFold  # type: ignore[import-untyped]

    days = sorted({o.day for o in graded})
    middle = cut or days[len(days) // 2]
    accounts = sorted({o.account_id for o in graded})
    splits = min(folds, len(accounts))
    results: list[Fold] = []
    if splits >= 2:
        by_account = {a: i for i, a in enumerate(accounts)}
        groups = [by_account[o.account_id] for o in graded]
        splitter = GroupKFold(n_splits=splits)
        for number, (train, test) in enumerate(splitter.split(graded, groups=groups), start=1):
            results.append(
                _fold(
                    number,
                    current,
                    [graded[i] for i in train if graded[i].day < middle],
                    [graded[i] for i in test if graded[i].day >= middle],
                    middle,
                    through,
                    horizon,
                    prior_churns,
                )
            )
    judged = [f for f in results if f.fitted_auc is not None and f.current_auc is not None]
    if len(judged) < 2:
        return CrossValidation(
            cut=middle,
            folds=results,
            fitted=None,
            current=None,
            reason=f"{len(judged)} of {len(results)} folds could be judged; at least 2 are needed",
        )
    return CrossValidation(
        cut=middle,
        folds=results,
        fitted=_spread([f.fitted_auc for f in judged if f.fitted_auc is not None]),
        current=_spread([f.current_auc for f in judged if f.current_auc is not None]),
        reason=None,
    )


def _fold(
    number: int,
    current: Card,
    train: Sequence[Observation],
    test: Sequence[Observation],
    cut: date,
    through: date,
    horizon: int,
    prior_churns: int,
) -> Fold:
    rows = _rows(current, train, cut, horizon)
    churns = _churns(rows)
    known = ((o, known_outcome(o, through, horizon)) for o in test)
    judged = [(o, churned) for o, churned in known if churned is not None]
    judged_churns = sum(1 for _, churned in judged if churned)

    def empty(reason: str) -> Fold:
        return Fold(
            fold=number,
            trained_on=len(rows),
            trained_churns=len(churns),
            judged=len(judged),
            judged_churns=judged_churns,
            fitted_auc=None,
            current_auc=None,
            reason=reason,
        )

    if not churns or all(row.churned for row in rows):
        return empty("needs churns and non-churns to learn from")
    card = _fitted_card(
        current, "fold", _learn(current, rows), len(churns) / (len(churns) + prior_churns)
    )
    pairs = [(score_of(card, o)[0], score_of(current, o)[0], churned) for o, churned in judged]
    both = [(f, c, churned) for f, c, churned in pairs if f is not None and c is not None]
    outcomes = [churned for _, _, churned in both]
    if len(set(outcomes)) < 2:
        return empty("needs churns and non-churns to judge")
    return Fold(
        fold=number,
        trained_on=len(rows),
        trained_churns=len(churns),
        judged=len(both),
        judged_churns=sum(outcomes),
        fitted_auc=_auc(outcomes, [-f for f, _, _ in both]),
        current_auc=_auc(outcomes, [-c for _, c, _ in both]),
    )


def _spread(values: Sequence[float]) -> Spread:
    return Spread(
        mean=statistics.fmean(values),
        sd=statistics.stdev(values) if len(values) > 1 else None,
        low=min(values),
        high=max(values),
        folds=len(values),
    )


def card_toml(result: Fit, card: Card, source: str) -> str:
    """The fitted card as a ``[scorecards.<name>]`` table of telltales.toml, its provenance
    in comments above it: ``source`` says where the observations came from."""
    cv = result.cross_validation
    lines = [
        f"# Scorecard {card.name!r}, fitted by `telltales scorecards fit` from {source},",
        f"# starting from the card {result.card!r} (its measures and points, new weights).",
        f"# Observations: {result.observations:,} of {result.accounts:,} accounts, days "
        f"{result.first_day} to {result.last_day}; {result.churns} churns within "
        f"{result.horizon_days} days, outcomes known through {result.through}.",
    ]
    if cv.fitted is not None and cv.current is not None:
        lines.append(
            f"# Cross-validated ({cv.fitted.folds} folds by account, learned before "
            f"{cv.cut}, judged from it on): ROC AUC {describe_spread(cv.fitted)}; "
            f"the card {result.card!r} on the same folds {describe_spread(cv.current)}."
        )
    else:
        lines.append(f"# Not cross-validated: {cv.reason}.")
    lines.append(
        f"# Shrunk toward {result.card!r}: weight = {result.blend:.2f} x learned + "
        f"{1 - result.blend:.2f} x current ({result.churns} churns, prior "
        f"{result.prior_churns})."
    )
    flipped = [m.signal for m in result.measures if m.flipped]
    if flipped:
        lines.append(f"# Turned round (pointed the wrong way): {', '.join(flipped)}.")
    lines += [
        "# Add this table to telltales.toml; `[scoring] shadow = "
        f'"{card.name}"` scores it beside the live card (docs/backtest.md).',
        "",
        f"[scorecards.{card.name}]",
        f"min_coverage = {_number(card.min_coverage)}",
        f"insufficient_data_label = {json.dumps(card.insufficient_label)}",
        "",
        f"[scorecards.{card.name}.components]",
        *(f"{c.name} = {_number(c.weight)}" for c in card.components),
        "",
        f"[scorecards.{card.name}.grades]",
        *(
            f"{band.grade} = {{ from = {_number(band.low)}, to = {_number(band.high)}, "
            f"label = {json.dumps(band.label)} }}"
            for band in card.bands
        ),
    ]
    for measure in card.measures:
        lines += [
            "",
            f"[[scorecards.{card.name}.measures]]",
            f"component = {json.dumps(measure.component)}",
            f"signal = {json.dumps(measure.key)}",
            f"weight = {_number(measure.weight)}",
            *_rule_lines(measure.rule),
        ]
    return "\n".join(lines) + "\n"


def _rule_lines(rule: Thresholds | Linear) -> list[str]:
    if isinstance(rule, Linear):
        return [f"linear = {{ worst = {_number(rule.worst)}, best = {_number(rule.best)} }}"]
    kind = "at_least" if rule.at_least else "at_most"
    steps = ", ".join(
        f"{{ {kind} = {_number(bound)}, points = {_number(points)} }}"
        for bound, points in rule.steps
    )
    return [f"thresholds = [{steps}]", f"otherwise = {_number(rule.otherwise)}"]


def _number(value: float) -> str:
    """A TOML float that reads back as the same number."""
    return repr(float(value))


def describe_spread(spread: Spread) -> str:
    sd = "" if spread.sd is None else f", sd {spread.sd:.3f}"
    return f"{spread.mean:.3f} ({spread.low:.3f}-{spread.high:.3f} over {spread.folds} folds{sd})"
