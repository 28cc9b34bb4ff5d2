"""The report card: every figure of a backtest, per cut, from the observation table.

Figures are computed from observations whose outcome is known (their horizon is
over), from the out-of-time cut on if one is given. Below a minimum number of
churns in a cut, a figure is not given: its ``reason`` says "not enough outcomes to
judge (N churns)". Counts are always given. Definitions: docs/backtest.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import msgspec

from telltales.backtest import statistics
from telltales.backtest.alerting import DailyShares, EarlyFlags, daily_shares, early_flags
from telltales.backtest.bootstrap import Interval, Ranked, Weights, intervals, rank
from telltales.backtest.observations import Observation, OutcomeKind
from telltales.backtest.statistics import Spread

FLAP_DAYS = 14
"""An At-Risk entry that leaves At-Risk within this many days is a flap."""
DAYS_TO_RENEWAL = "[days to renewal]"
"""The baseline every card must beat: rank by days to the renewal date alone."""
GRADES = ("green", "amber", "red", "insufficient_data")


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """What was judged and how: stored with the report, so it can be reproduced."""

    first_day: date
    last_day: date
    every_days: int
    horizon_days: int
    outcome: OutcomeKind
    outcomes_through: date
    """The last day outcomes are known: an observation whose horizon ends later is left out."""
    judge_from: date | None
    """Out-of-time cut: only observations of this day or later are judged."""
    scorecards: list[str]
    min_churns: int
    resamples: int
    seed: int
    shadow: str | None = None
    """The ``[scoring] shadow`` card, judged beside the live scoring (it is in ``scorecards``)."""
    measured: list[str] = msgspec.field(default_factory=list)
    """The signal keys whose values each observation keeps (every card's measures)."""


class Figure(msgspec.Struct, kw_only=True, frozen=True):
    """A figure with its 95% interval (account bootstrap), or why it is not given."""

    value: float | None = None
    low: float | None = None
    high: float | None = None
    reason: str | None = None


class GradeRow(msgspec.Struct, kw_only=True, frozen=True):
    grade: str
    observations: int
    churned: int
    rate: float | None
    """Observed churn rate; None when the cut has too few churns to judge."""
    low: float | None
    high: float | None
    """Wilson 95% interval of the rate (treats observations as independent: see docs)."""


class ScorecardReport(msgspec.Struct, kw_only=True, frozen=True):
    scorecard: str
    observations: int
    scored: int
    """Observations with a score (the others were Insufficient data)."""
    coverage: float | None
    """scored / observations."""
    churned: int
    """Scored observations that churned within the horizon."""
    base_rate: float | None
    auc: Figure
    average_precision: Figure
    brier: Figure
    """Mean squared error of the probability 1 - score/100 against what happened."""
    brier_reference: float | None
    """The Brier score of forecasting the base rate for everyone: beat it or the
    mapping is worse than knowing nothing about the accounts."""
    lift_top_decile: Figure
    calibration: list[GradeRow]


class RuleReport(msgspec.Struct, kw_only=True, frozen=True):
    rule: str
    flagged: int
    """Judged observations on which the rule was flagging (fired, or active since)."""
    flagged_churned: int
    precision: Figure
    churns_flagged: int
    recall: Figure
    """Churns flagged at least once in the horizon before them / churns."""
    lead_time_days: Spread | None
    """Days from the first firing of the episode to the churn, over the churns flagged."""
    alerts: int
    alerts_per_csm_per_week: float | None
    at_risk_entries: int
    """At-Risk entries with this rule flagging, with 14 replayed days after them."""
    flap_rate: Figure


class CutReport(msgspec.Struct, kw_only=True, frozen=True):
    cut: str
    """``overall``, ``segment`` or ``csm_group``."""
    value: str | None
    accounts: int
    observations: int
    churns: int
    """Distinct churns (account and day) that judged observations lead to."""
    csms: int
    at_risk_entries: int
    flap_rate: Figure
    """Share of At-Risk entries (any rule) leaving At-Risk within 14 days."""
    scorecards: list[ScorecardReport]
    rules: list[RuleReport]
    days_to_renewal: ScorecardReport | None = None
    """The baseline: observations ranked by days to the renewal date alone (the
    fewer, the riskier). A card that does not beat it tells a CSM nothing the
    contract does not. Its Brier score is not given: days are no probability."""
    daily_shares: DailyShares | None = None
    """The share of live accounts At-Risk (and not Healthy) per replayed day."""
    early_flags: EarlyFlags | None = None
    """Churns flagged 60 days or more before they happened."""


class Report(msgspec.Struct, kw_only=True, frozen=True):
    settings: Settings
    observations: int
    """Every (account, day) replayed."""
    left_out: int
    """Observations whose horizon is not over on the day outcomes are known through."""
    before_cut: int
    """Observations before the out-of-time cut (judge_from), not judged."""
    judged: int
    cuts: list[CutReport]


def not_enough(churns: int) -> str:
    return f"not enough outcomes to judge ({churns} churns)"


def build_report(
    observations: Sequence[Observation],
    settings: Settings,
    *,
    by: Sequence[str] = ("segment", "csm_group"),
) -> Report:
    """Every figure of the report card, overall and per value of each field of ``by``
    (segment and CSM group; none for the overall figures alone)."""
    in_span = [o for o in observations if _in_judged_span(o, settings)]
    judged = [o for o in in_span if o.outcome is not None]
    last_replayed = max((o.day for o in observations), default=settings.last_day)
    history = by_account(observations)
    cuts = [_cut("overall", None, in_span, judged, history, last_replayed, settings)]
    for field in by:
        values = sorted({getattr(o, field) for o in in_span})
        for value in values:
            cuts.append(
                _cut(
                    field,
                    value,
                    [o for o in in_span if getattr(o, field) == value],
                    [o for o in judged if getattr(o, field) == value],
                    history,
                    last_replayed,
                    settings,
                )
            )
    return Report(
        settings=settings,
        observations=len(observations),
        left_out=sum(1 for o in observations if o.outcome is None),
        before_cut=sum(
            1
            for o in observations
            if o.outcome is not None
            and settings.judge_from is not None
            and o.day < settings.judge_from
        ),
        judged=len(judged),
        cuts=cuts,
    )


def _in_judged_span(observation: Observation, settings: Settings) -> bool:
    return settings.judge_from is None or observation.day >= settings.judge_from


def by_account(observations: Sequence[Observation]) -> dict[str, list[Observation]]:
    history: dict[str, list[Observation]] = {}
    for observation in sorted(observations, key=lambda o: (o.account_id, o.day)):
        history.setdefault(observation.account_id, []).append(observation)
    return history


def churn_events(judged: Sequence[Observation]) -> set[tuple[str, date]]:
    """The distinct churns the judged observations lead to."""
    return {(o.account_id, o.outcome_day) for o in judged if o.outcome and o.outcome_day}


def _cut(
    cut: str,
    value: str | None,
    in_span: Sequence[Observation],
    judged: Sequence[Observation],
    history: Mapping[str, Sequence[Observation]],
    last_replayed: date,
    settings: Settings,
) -> CutReport:
    churns = churn_events(judged)
    enough = len(churns) >= settings.min_churns
    reason = None if enough else not_enough(len(churns))
    entries = at_risk_entries(in_span, history, last_replayed)
    rules = sorted({rule for o in in_span for rule in o.rules})
    return CutReport(
        cut=cut,
        value=value,
        accounts=len({o.account_id for o in judged}),
        observations=len(judged),
        churns=len(churns),
        csms=len({o.owner for o in in_span}),
        at_risk_entries=len(entries),
        flap_rate=_flap_figure([flapped for _, flapped in entries]),
        scorecards=[
            _scorecard(name, judged, reason, settings)
            for name in ("[scoring]", *settings.scorecards)
        ],
        rules=[
            _rule(rule, in_span, judged, churns, history, entries, reason, settings)
            for rule in rules
        ],
        days_to_renewal=_days_to_renewal(judged, reason, settings),
        daily_shares=daily_shares(in_span),
        early_flags=early_flags(judged, reason),
    )


def _scorecard(
    name: str, judged: Sequence[Observation], reason: str | None, settings: Settings
) -> ScorecardReport:
    scored = [o for o in judged if o.scores.get(name) is not None]
    calibration = []
    for grade in GRADES:
        members = [o for o in judged if o.grades.get(name) == grade]
        if not members:
            continue
        hits = sum(1 for o in members if o.outcome)
        bounds = statistics.wilson(hits, len(members)) if reason is None else None
        calibration.append(
            GradeRow(
                grade=grade,
                observations=len(members),
                churned=hits,
                rate=hits / len(members) if reason is None else None,
                low=bounds[0] if bounds else None,
                high=bounds[1] if bounds else None,
            )
        )
    return _ranking_report(
        name,
        judged,
        scored,
        [100 - _score(o, name) for o in scored],
        reason=reason,
        missing="no observation has a score",
        settings=settings,
        calibration=calibration,
    )


def _ranking_report(
    name: str,
    judged: Sequence[Observation],
    ranked: Sequence[Observation],
    risks: Sequence[float],
    *,
    reason: str | None,
    missing: str,
    settings: Settings,
    calibration: list[GradeRow],
    brier: Figure | None = None,
) -> ScorecardReport:
    """The figures of ``ranked`` (the judged observations with a risk) by ``risks``;
    ``brier`` stands in for the Brier score when the risks are no probability."""
    churned = sum(1 for o in ranked if o.outcome)
    base = churned / len(ranked) if ranked else None
    empty = Figure(reason=reason or missing)
    figures = _score_figures(ranked, risks, settings) if reason is None and ranked else None
    return ScorecardReport(
        scorecard=name,
        observations=len(judged),
        scored=len(ranked),
        coverage=len(ranked) / len(judged) if judged else None,
        churned=churned,
        base_rate=base,
        auc=figures["auc"] if figures else empty,
        average_precision=figures["average_precision"] if figures else empty,
        brier=brier or (figures["brier"] if figures else empty),
        brier_reference=base * (1 - base)
        if base is not None and reason is None and brier is None
        else None,
        lift_top_decile=figures["lift_top_decile"] if figures else empty,
        calibration=calibration,
    )


@dataclass(frozen=True)
class _Scored:
    """One scorecard's scored observations, ready for the figures and their resamples."""

    ranked: Ranked
    squared: list[float]
    """Per account, the summed squared error of its observations' probabilities."""
    counts: list[int]

    def figures(self, weights: Weights | None) -> dict[str, float | None]:
        pos, neg = self.ranked.sums(weights)
        if weights is None:
            total = sum(self.counts)
            error = sum(self.squared)
        else:
            total = sum(w * c for w, c in zip(weights, self.counts, strict=True))
            error = sum(w * s for w, s in zip(weights, self.squared, strict=True))
        return {
            "auc": statistics.roc_auc(pos, neg),
            "average_precision": statistics.average_precision(pos, neg),
            "brier": error / total if total else None,
            "lift_top_decile": statistics.top_decile_lift(pos, neg),
        }


def probability(score: float) -> float:
    """The churn probability a score is read as for the Brier score: 1 - score/100.
    Nothing is fitted: a score is a health grade, not a probability, and the
    Brier score says how far it is from one (docs/backtest.md)."""
    return 1 - score / 100


def _score(observation: Observation, name: str) -> float:
    score = observation.scores[name]
    assert score is not None
    return score


def _days_to_renewal(
    judged: Sequence[Observation], reason: str | None, settings: Settings
) -> ScorecardReport:
    """The days-to-renewal baseline: risk is fewer days to the renewal date."""
    dated = [o for o in judged if o.days_to_renewal is not None]
    return _ranking_report(
        DAYS_TO_RENEWAL,
        judged,
        dated,
        [-float(o.days_to_renewal or 0) for o in dated],
        reason=reason,
        missing="no observation has a renewal date",
        settings=settings,
        calibration=[],
        brier=Figure(reason="days to renewal is no probability"),
    )


def _score_figures(
    scored: Sequence[Observation], risks: Sequence[float], settings: Settings
) -> dict[str, Figure]:
    """The ranking figures of ``risks`` (one per observation, higher is riskier) with
    their account-bootstrap intervals; the Brier score reads a risk as 100 - score."""
    accounts = {a: i for i, a in enumerate(sorted({o.account_id for o in scored}))}
    squared = [0.0] * len(accounts)
    counts = [0] * len(accounts)
    outcomes, owners = [], []
    for o, risk in zip(scored, risks, strict=True):
        index = accounts[o.account_id]
        squared[index] += (probability(100 - risk) - float(bool(o.outcome))) ** 2
        counts[index] += 1
        outcomes.append(bool(o.outcome))
        owners.append(index)
    data = _Scored(ranked=rank(list(risks), outcomes, owners), squared=squared, counts=counts)
    point = data.figures(None)
    spread = intervals(data.figures, len(accounts), settings.resamples, settings.seed)
    return {key: _figure(value, spread.get(key)) for key, value in point.items()}


def _figure(value: float | None, interval: Interval | None) -> Figure:
    if value is None:
        return Figure(reason="needs observations that churned and observations that did not")
    return Figure(
        value=value,
        low=interval.low if interval else None,
        high=interval.high if interval else None,
    )


def at_risk_entries(
    in_span: Sequence[Observation],
    history: Mapping[str, Sequence[Observation]],
    last_replayed: date,
) -> list[tuple[Observation, bool]]:
    """Each At-Risk entry among ``in_span`` with 14 replayed days after it, and whether
    it left At-Risk (for Healthy or Concern) within them. An account that stopped
    being live is no flap: it has no status to flap to."""
    result = []
    for observation in in_span:
        if observation.status != "at_risk":
            continue
        if observation.day + timedelta(days=FLAP_DAYS) > last_replayed:
            continue
        rows = history[observation.account_id]
        position = next(i for i, o in enumerate(rows) if o.day == observation.day)
        if position and rows[position - 1].status == "at_risk":
            continue  # not an entry: it was At-Risk already
        end = observation.day + timedelta(days=FLAP_DAYS)
        flapped = any(
            o.status in ("healthy", "concern") for o in rows[position + 1 :] if o.day <= end
        )
        result.append((observation, flapped))
    return result


def _flap_figure(flags: Sequence[bool]) -> Figure:
    if not flags:
        return Figure(reason="no At-Risk entry with 14 replayed days after it")
    return Figure(value=sum(flags) / len(flags))


def _rule(
    rule: str,
    in_span: Sequence[Observation],
    judged: Sequence[Observation],
    churns: set[tuple[str, date]],
    history: Mapping[str, Sequence[Observation]],
    entries: Sequence[tuple[Observation, bool]],
    reason: str | None,
    settings: Settings,
) -> RuleReport:
    flagged = [o for o in judged if rule in o.rules]
    flagged_churned = sum(1 for o in flagged if o.outcome)
    leads = lead_times(rule, judged, history)
    alerts = sum(1 for o in in_span if rule in o.fired)
    csms = len({o.owner for o in in_span})
    weeks = judged_days(settings) * settings.every_days / 7
    mine = [flapped for entry, flapped in entries if rule in entry.rules]
    found = statistics.spread(leads) if reason is None else None

    def share(part: int, whole: int, empty: str) -> Figure:
        if reason is not None:
            return Figure(reason=reason)
        if not whole:
            return Figure(reason=empty)
        return Figure(value=part / whole)

    return RuleReport(
        rule=rule,
        flagged=len(flagged),
        flagged_churned=flagged_churned,
        precision=share(flagged_churned, len(flagged), "never flagged a judged observation"),
        churns_flagged=len(leads),
        recall=share(len(leads), len(churns), "no churn"),
        lead_time_days=Spread(count=found.count, median=found.median, q1=found.q1, q3=found.q3)
        if found
        else None,
        alerts=alerts,
        alerts_per_csm_per_week=alerts / csms / weeks if csms and weeks else None,
        at_risk_entries=len(mine),
        flap_rate=_flap_figure(mine),
    )


def lead_times(
    rule: str, judged: Sequence[Observation], history: Mapping[str, Sequence[Observation]]
) -> list[int]:
    """Per churn ``rule`` flagged among ``judged``: the days from the first firing of the
    episode that flagged it last to the churn. ``history`` holds every observation of
    each account, by day, for the episodes that began before the judged span."""
    caught: dict[tuple[str, date], date] = {}
    for o in judged:
        if rule in o.rules and o.outcome and o.outcome_day is not None:
            event = (o.account_id, o.outcome_day)
            caught[event] = max(caught.get(event, o.day), o.day)
    return [
        (event[1] - first_firing(history[event[0]], rule, last_flagged)).days
        for event, last_flagged in caught.items()
    ]


def judged_days(settings: Settings) -> int:
    """The replayed days from the out-of-time cut (if any) on: each stands for
    ``every_days`` days of alerts."""
    first = settings.judge_from or settings.first_day
    offset = (first - settings.first_day).days
    start = offset + (-offset) % settings.every_days
    return len(range(start, (settings.last_day - settings.first_day).days + 1, settings.every_days))


def first_firing(rows: Sequence[Observation], rule: str, day: date) -> date:
    """The first day of the episode of ``rule`` flagging on ``day``: the latest firing on
    or before it, in the run of consecutive replayed days it kept flagging."""
    position = next(i for i, o in enumerate(rows) if o.day == day)
    start = day
    while position >= 0 and rule in rows[position].rules:
        start = rows[position].day
        if rule in rows[position].fired:
            return start
        position -= 1
    return start
