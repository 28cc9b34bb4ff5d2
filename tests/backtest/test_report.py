"""The report card over hand-built observations whose figures are known by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from telltales.backtest.observations import CONFIGURED, Observation
from telltales.backtest.report import Settings, build_report, first_firing

START = date(2026, 1, 5)


def _settings(**changes: object) -> Settings:
    values: dict[str, object] = {
        "first_day": START,
        "last_day": START + timedelta(days=7 * 9),
        "every_days": 7,
        "horizon_days": 28,
        "outcome": "churn",
        "outcomes_through": date(2026, 12, 1),
        "judge_from": None,
        "scorecards": [],
        "min_churns": 1,
        "resamples": 0,
        "seed": 1,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def _obs(
    account: str,
    week: int,
    score: float | None,
    *,
    churn_on: date | None = None,
    rules: tuple[str, ...] = (),
    fired: tuple[str, ...] = (),
    status: str = "healthy",
    outcome: bool | str | None = "from churn_on",
    owner: str = "ann",
) -> Observation:
    day = START + timedelta(days=7 * week)
    within = churn_on is not None and day < churn_on <= day + timedelta(days=28)
    return Observation(
        account_id=account,
        day=day,
        owner=owner,
        csm_group="emea",
        segment="smb",
        outcome=within if isinstance(outcome, str) else outcome,
        outcome_day=churn_on if within else None,
        scores={CONFIGURED: score},
        grades={CONFIGURED: "insufficient_data" if score is None else "green"},
        rules=list(rules),
        fired=list(fired),
        status=status,
    )


def test_rule_precision_recall_lead_time_and_flaps() -> None:
    churn_a = START + timedelta(days=7 * 5 + 3)  # weeks 2..5 lead to it
    churn_b = START + timedelta(days=7 * 8 + 1)  # weeks 5..8
    observations = [
        # a: the rule fires in week 1, stays active to week 4, churns after week 5.
        _obs("a", 0, 80),
        _obs("a", 1, 60, rules=("drop",), fired=("drop",), status="at_risk"),
        _obs("a", 2, 50, churn_on=churn_a, rules=("drop",), status="at_risk"),
        _obs("a", 3, 40, churn_on=churn_a, rules=("drop",), status="at_risk"),
        _obs("a", 4, 40, churn_on=churn_a, rules=("drop",), status="at_risk"),
        _obs("a", 5, 40, churn_on=churn_a, status="at_risk"),
        # b: never flagged, churns.
        *(_obs("b", w, 70, churn_on=churn_b) for w in range(9)),
        # c: flagged in week 3 only, back to Healthy in week 4 (a flap), never churns.
        *(_obs("c", w, 90) for w in range(3)),
        _obs("c", 3, 90, rules=("drop",), fired=("drop",), status="at_risk"),
        *(_obs("c", w, 90) for w in range(4, 9)),
    ]
    report = build_report(observations, _settings())
    overall = report.cuts[0]
    assert (overall.cut, overall.churns, overall.accounts) == ("overall", 2, 3)
    (drop,) = overall.rules
    # Flagged judged observations: a weeks 1-4 (3 churned: weeks 2, 3, 4) and c week 3.
    assert (drop.flagged, drop.flagged_churned) == (5, 3)
    assert drop.precision.value == pytest.approx(3 / 5)
    assert (drop.churns_flagged, drop.recall.value) == (1, 0.5)
    lead = drop.lead_time_days
    assert lead is not None
    assert (lead.count, lead.median) == (1, (churn_a - (START + timedelta(days=7))).days)
    # Alerts: two firings, one owner, ten weekly days replayed (weeks 0 to 9).
    assert drop.alerts == 2
    assert drop.alerts_per_csm_per_week == pytest.approx(2 / 1 / 10)
    # At-Risk entries: a (week 1, stays), c (week 3, back within 14 days).
    assert drop.at_risk_entries == overall.at_risk_entries == 2
    assert drop.flap_rate.value == overall.flap_rate.value == 0.5


def test_scores_rank_the_churns_first_and_calibration_counts() -> None:
    observations = [
        _obs("a", 0, 10, outcome=True, churn_on=START + timedelta(days=3)),
        _obs("b", 0, 30, outcome=False),
        _obs("c", 0, 20, outcome=True, churn_on=START + timedelta(days=3)),
        _obs("d", 0, 60, outcome=False),
        _obs("e", 0, None, outcome=False),
    ]
    card = build_report(observations, _settings()).cuts[0].scorecards[0]
    assert (card.observations, card.scored, card.churned) == (5, 4, 2)
    assert card.coverage == pytest.approx(0.8)
    assert card.auc.value == 1.0
    assert card.average_precision.value == 1.0
    # Brier of 1 - score/100: (0.9-1)^2, (0.7-0)^2, (0.8-1)^2, (0.4-0)^2.
    assert card.brier.value == pytest.approx((0.01 + 0.49 + 0.04 + 0.16) / 4)
    assert card.brier_reference == pytest.approx(0.25)
    assert [(g.grade, g.observations, g.churned) for g in card.calibration] == [
        ("green", 4, 2),
        ("insufficient_data", 1, 0),
    ]


def test_below_the_minimum_a_figure_is_not_given_and_says_why() -> None:
    observations = [
        _obs("a", 0, 10, outcome=True, churn_on=START + timedelta(days=3), rules=("drop",)),
        _obs("b", 0, 80, outcome=False),
    ]
    overall = build_report(observations, _settings(min_churns=10)).cuts[0]
    card = overall.scorecards[0]
    reason = "not enough outcomes to judge (1 churns)"
    for figure in (card.auc, card.average_precision, card.brier, card.lift_top_decile):
        assert (figure.value, figure.reason) == (None, reason)
    assert card.calibration[0].rate is None
    (drop,) = overall.rules
    assert (drop.precision.reason, drop.recall.reason) == (reason, reason)
    assert drop.lead_time_days is None


def test_left_out_and_out_of_time() -> None:
    observations = [
        _obs("a", 0, 10, outcome=True, churn_on=START + timedelta(days=3)),
        _obs("a", 1, 10, outcome=None),
        _obs("b", 0, 80, outcome=False),
        _obs("b", 1, 80, outcome=False),
    ]
    report = build_report(observations, _settings(judge_from=START + timedelta(days=7)))
    assert (report.observations, report.left_out, report.before_cut, report.judged) == (4, 1, 2, 1)


def test_the_first_firing_of_an_episode() -> None:
    rows = [
        _obs("a", 0, 50, rules=("drop",), fired=("drop",)),
        _obs("a", 1, 50),
        _obs("a", 2, 50, rules=("drop",), fired=("drop",)),
        _obs("a", 3, 50, rules=("drop",)),
    ]
    assert first_firing(rows, "drop", rows[3].day) == rows[2].day
