"""``telltales.backtest.fit`` on a synthetic observation set with a planted signal.

Three measures: seat use, which predicts churn the right way (less use, more churn);
tickets, which the card scores "fewer is better" but which is planted the wrong way
(more points, more churn); logins, which is noise. The learned weights are checked
against scikit-learn called here on the same points, the fitted weights against the
documented shrinkage rule, and the written card against the card object.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from pathlib import Path

import msgspec
import pytest
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from telltales.backtest.fit import FitProblem, card_toml, fit
from telltales.backtest.observations import Observation, score_of
from telltales.config import load_config
from telltales.signals.scorecards import Card, load_scoring

CARD = """
[scorecards.base]
[scorecards.base.components]
usage = 0.5
support = 0.5

[[scorecards.base.measures]]
component = "usage"
signal = "telemetry.seat_utilization_30d"
weight = 0.5
linear = { worst = 0.0, best = 1.0 }

[[scorecards.base.measures]]
component = "usage"
signal = "telemetry.logins_per_user_7d"
weight = 0.5
linear = { worst = 0.0, best = 10.0 }

[[scorecards.base.measures]]
component = "support"
signal = "support.high_priority_30d"
weight = 1.0
thresholds = [{ at_most = 1, points = 100 }, { at_most = 4, points = 50 }]
otherwise = 0
"""
FIRST = date(2026, 1, 5)
HORIZON = 30
WEEKS = 16


def _card(tmp_path: Path, text: str, name: str) -> Card:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return load_scoring(load_config(path), None).cards[name]


def _ticket_points(tickets: float) -> float:
    return 100.0 if tickets <= 1 else 50.0 if tickets <= 4 else 0.0


def _observations(accounts: int, seed: int) -> list[Observation]:
    rng = random.Random(seed)
    found = []
    for number in range(accounts):
        for week in range(WEEKS):
            day = FIRST + timedelta(days=7 * week)
            use, logins, tickets = rng.random(), rng.uniform(0, 10), float(rng.randint(0, 8))
            # Planted: low use raises churn; so do FEW tickets (the card thinks the opposite).
            logit = -2.0 - 4.0 * (use - 0.5) + 2.0 * (_ticket_points(tickets) / 100 - 0.5)
            churned = rng.random() < 1 / (1 + math.exp(-logit))
            found.append(
                Observation(
                    account_id=f"a{number:04d}",
                    day=day,
                    owner="csm",
                    csm_group="g",
                    segment="smb",
                    outcome=churned,
                    outcome_day=day + timedelta(days=10) if churned else None,
                    scores={},
                    grades={},
                    rules=[],
                    fired=[],
                    status="healthy",
                    values={
                        "telemetry.seat_utilization_30d": use,
                        "telemetry.logins_per_user_7d": logins,
                        "support.high_priority_30d": tickets,
                    },
                )
            )
    return found


@pytest.fixture(scope="module")
def observations() -> list[Observation]:
    return _observations(400, seed=3)


THROUGH = FIRST + timedelta(days=7 * WEEKS + HORIZON)


def test_the_fit_finds_the_planted_signal_and_the_wrong_way_measure(
    tmp_path: Path, observations: list[Observation]
) -> None:
    base = _card(tmp_path, CARD, "base")
    result, card = fit(observations, base, name="base_fitted", horizon=HORIZON, through=THROUGH)
    measures = {m.signal: m for m in result.measures}
    use = measures["telemetry.seat_utilization_30d"]
    tickets = measures["support.high_priority_30d"]
    logins = measures["telemetry.logins_per_user_7d"]
    assert use.learned is not None
    assert tickets.learned is not None
    assert logins.learned is not None
    assert use.learned > 0.5, "seat use carries the prediction"
    assert tickets.learned < 0
    assert tickets.flipped
    assert not use.flipped
    assert tickets.auc is not None
    assert tickets.auc < 0.5, "on its own it points the wrong way"
    assert abs(logins.learned) < 0.1, "noise learns next to nothing"

    # Independently: scikit-learn on the same points (a linear scale's points are rounded
    # to a tenth, docs/scorecards.md), and the documented shrinkage.
    matrix = [
        [
            round(100 * o.values["telemetry.seat_utilization_30d"], 1) / 100,
            round(10 * o.values["telemetry.logins_per_user_7d"], 1) / 100,
            _ticket_points(o.values["support.high_priority_30d"]) / 100,
        ]
        for o in observations
    ]
    model = LogisticRegression(C=1.0, max_iter=1000).fit(
        matrix, [int(bool(o.outcome)) for o in observations]
    )
    health = [-c for c in model.coef_[0]]
    size = sum(abs(c) for c in health)
    expected = [c / size for c in health]
    assert [use.learned, logins.learned, tickets.learned] == pytest.approx(expected, abs=1e-6)
    churns = len({(o.account_id, o.outcome_day) for o in observations if o.outcome})
    assert result.churns == churns
    blend = churns / (churns + 50)
    assert result.blend == pytest.approx(blend)
    signed = [blend * e + (1 - blend) * c for e, c in zip(expected, [0.25, 0.25, 0.5], strict=True)]
    shares = [abs(s) / sum(abs(s) for s in signed) for s in signed]
    assert [use.fitted, logins.fitted, tickets.fitted] == pytest.approx(shares, abs=2e-4)

    # The written card is the card object: it loads and scores the same.
    written = _card(tmp_path, card_toml(result, card, "a test"), "base_fitted")
    assert [m.configured for m in written.measures] == [m.configured for m in card.measures]
    for o in observations[:50]:
        assert score_of(written, o) == score_of(card, o)
    # More points, more churn: turned round, the ticket measure now gives 100 for many.
    assert score_of(card, observations[0])[0] is not None
    assert written.measures[2].rule.points(8) == 100

    cv = result.cross_validation
    assert cv.fitted is not None
    assert cv.current is not None
    assert cv.fitted.folds == 5
    assert cv.fitted.mean > cv.current.mean, "the fitted card ranks churn better out of sample"
    assert cv.cut == FIRST + timedelta(days=7 * WEEKS // 2)
    for fold in cv.folds:
        assert fold.judged
        assert fold.trained_on


def test_too_few_outcomes_are_refused_with_the_count_and_the_minimum(tmp_path: Path) -> None:
    base = _card(tmp_path, CARD, "base")
    few = _observations(20, seed=5)
    churns = len({(o.account_id, o.outcome_day) for o in few if o.outcome})
    with pytest.raises(FitProblem) as refused:
        fit(few, base, name="base_fitted", horizon=HORIZON, through=THROUGH, min_churns=churns + 1)
    assert f"too few outcomes to fit: {churns} churns" in str(refused.value)
    assert f"at least {churns + 1} are needed" in str(refused.value)


def test_outcomes_after_the_day_fitted_through_are_not_learned(
    tmp_path: Path, observations: list[Observation]
) -> None:
    """Fitting through a day sees only what was known that day: the outcomes of the
    days whose horizon was over by then, churned or not; a churn after it is not seen."""
    base = _card(tmp_path, CARD, "base")
    through = FIRST + timedelta(days=7 * 10)
    result, _ = fit(observations, base, name="early", horizon=HORIZON, through=through)
    before = [o for o in observations if o.day < through]
    # Weeks 0 to 5 are 30 or more days before the 10th week: their horizon is over.
    over = [o for o in before if o.day + timedelta(HORIZON) <= through]
    assert {(o.day - FIRST).days // 7 for o in over} == set(range(6))
    churns = {(o.account_id, o.outcome_day) for o in over if o.outcome}
    later = {(o.account_id, o.outcome_day) for o in before if o.outcome}
    assert len(churns) < len(later)
    assert (result.observations, result.churns) == (len(over), len(churns))
    assert result.last_day < through
    assert msgspec.json.encode(result)  # the account serialises (--json)
