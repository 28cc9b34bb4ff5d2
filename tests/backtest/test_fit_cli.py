"""``telltales scorecards fit``, ``[scoring] shadow`` and promotion on a small demo book.

The fitted weights are checked against scikit-learn called here on the stored
observations; the stored measure values against the stored scores they came from.
A shadow card that grades every account red is scored and stored beside the live
card but changes no status; promoted (made the ``[scoring]`` default), it does.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from support.demo_book import DEMO_CONFIG
from telltales.cli import cli
from telltales.config import load_config
from telltales.engine.health import account_health
from telltales.playbooks.plan import load_plan
from telltales.plugins import load_registry
from telltales.signals.scorecards import load_scoring
from telltales.store import open_store
from telltales.store.queries import scores_for

SPAN = ("--from", "2026-05-01", "--to", "2026-09-18", "--every", "14", "--horizon", "60")
ALARM = """
[scorecards.alarm]
[scorecards.alarm.components]
usage = 1.0

[[scorecards.alarm.measures]]
component = "usage"
signal = "telemetry.seat_utilization_30d"
weight = 1.0
linear = { worst = 1000.0, best = 2000.0 }
"""
"""A card that grades every account with seat data red: 0 points below 1000."""
DAYS = ("--as-of", "2026-11-21", "--through", "2026-11-22")
"""Two days after the book's last run: score_red holds two days before it fires."""


def invoke(db: Path, config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), "--config", str(config), *args])


def _rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def backtested(book: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    db = tmp_path_factory.mktemp("fit") / "demo.db"
    shutil.copy(book, db)
    result = invoke(db, DEMO_CONFIG, "backtest", *SPAN, "--resamples", "0", "--json")
    assert result.exit_code == 0, result.output
    return db, json.loads(result.output)["backtest_id"]


def test_the_stored_values_give_back_the_stored_scores(backtested: tuple[Path, int]) -> None:
    db, backtest_id = backtested
    dear = load_scoring(load_config(DEMO_CONFIG), None).cards["dear"]
    rows = _rows(
        db,
        "SELECT scores, measure_values FROM backtest_observations WHERE backtest_id = ?",
        backtest_id,
    )
    assert rows
    scored = 0
    for scores, values in rows:
        stored = json.loads(scores)["[scoring]"]
        assert dear.value_of(json.loads(values))[0] == stored
        scored += stored is not None
    assert scored > len(rows) / 2


def test_fit_writes_a_new_card_with_weights_scikit_learn_agrees_with(
    backtested: tuple[Path, int], tmp_path: Path
) -> None:
    db, backtest_id = backtested
    out = tmp_path / "dear_fitted.toml"
    args = ("scorecards", "fit", "--backtest", str(backtest_id), "--min-churns", "3")
    result = invoke(db, DEMO_CONFIG, *args, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)

    # Independently: the judged observations dear grades, their points, scikit-learn.
    dear = load_scoring(load_config(DEMO_CONFIG), None).cards["dear"]
    rows = [
        (json.loads(values), outcome)
        for values, outcome in _rows(
            db,
            "SELECT measure_values, outcome FROM backtest_observations "
            "WHERE backtest_id = ? AND outcome IS NOT NULL ORDER BY account_id, day",
            backtest_id,
        )
    ]
    rows = [(values, outcome) for values, outcome in rows if dear.value_of(values)[0] is not None]
    assert found["observations"] == len(rows)
    keys = [m.key for m in dear.measures]
    with_data = [k for k in keys if any(k in values for values, _ in rows)]
    points = {
        key: [
            m.rule.points(values[key]) / 100 if key in values else None
            for m in dear.measures
            if m.key == key
            for values, _ in rows
        ]
        for key in with_data
    }
    means = {
        key: sum(p for p in column if p is not None) / sum(1 for p in column if p is not None)
        for key, column in points.items()
    }
    matrix = [
        [means[key] if points[key][i] is None else points[key][i] for key in with_data]
        for i in range(len(rows))
    ]
    model = LogisticRegression(C=1.0, max_iter=1000).fit(matrix, [o for _, o in rows])
    health = [-c for c in model.coef_[0]]
    size = sum(abs(c) for c in health)
    learned = {m["signal"]: m["learned"] for m in found["measures"]}
    for key, coefficient in zip(with_data, health, strict=True):
        assert learned[key] == pytest.approx(coefficient / size, abs=1e-4)
    assert all(learned[k] is None for k in keys if k not in with_data)

    # The file is a card of telltales.toml: it loads beside the demo's configuration.
    text = out.read_text()
    heading = "# Scorecard 'dear_fitted', fitted by `telltales scorecards fit` from backtest"
    assert text.startswith(f"{heading} {backtest_id},")
    combined = tmp_path / "combined.toml"
    combined.write_text(DEMO_CONFIG.read_text() + "\n" + text)
    fitted = load_scoring(load_config(combined), None).cards["dear_fitted"]
    shares = {m["signal"]: m["fitted"] for m in found["measures"]}
    assert {m.key: m.configured for m in fitted.measures} == pytest.approx(shares)

    # Never overwritten: a second fit to the same file is refused, the file untouched.
    again = invoke(db, DEMO_CONFIG, *args, "--out", str(out))
    assert again.exit_code == 1
    assert f"--out: {out} exists; a fitted card never overwrites a file" in again.output
    assert out.read_text() == text

    # The table: each measure, the ones that carry it, the ones turned round.
    shown = invoke(db, DEMO_CONFIG, *args, "--out", str(tmp_path / "shown.toml"))
    assert shown.exit_code == 0, shown.output
    assert "Carry the prediction (largest learned shares):" in shown.output
    for measure in found["measures"]:
        if measure["flipped"]:
            line = next(ln for ln in shown.output.splitlines() if measure["signal"] in ln)
            assert "points the wrong way: turned round" in line


def test_too_few_outcomes_and_a_missing_extra_are_refused_cleanly(
    backtested: tuple[Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, backtest_id = backtested
    out = tmp_path / "never.toml"
    args = ("scorecards", "fit", "--backtest", str(backtest_id), "--out", str(out))
    result = invoke(db, DEMO_CONFIG, *args, "--min-churns", "500")
    assert result.exit_code == 1
    assert "Error: --min-churns: too few outcomes to fit: " in result.output
    assert "at least 500 are needed; nothing was written" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    monkeypatch.setitem(sys.modules, "sklearn", None)
    missing = invoke(db, DEMO_CONFIG, *args)
    assert missing.exit_code == 1
    assert missing.output == (
        "Error: fitting a card needs scikit-learn, which is not installed: "
        "pip install 'telltales[fit]'\n"
    )


def _statuses(db: Path) -> list[tuple[Any, ...]]:
    return _rows(db, "SELECT account_id, as_of, to_status FROM transitions ORDER BY 1, 2, 3")


def test_a_shadow_is_stored_beside_the_live_score_drives_no_status_and_promotes(
    book: Path, tmp_path: Path
) -> None:
    live_config, shadow_config, promoted_config = (
        tmp_path / f"{name}.toml" for name in ("live", "shadow", "promoted")
    )
    base = DEMO_CONFIG.read_text() + ALARM
    live_config.write_text(base)
    shadow_config.write_text(base + '\n[scoring]\nshadow = "alarm"\n')
    promoted_config.write_text(base + '\n[scoring]\ndefault = "alarm"\n')
    dbs = {}
    for name, config in (("live", live_config), ("shadow", shadow_config)):
        dbs[name] = tmp_path / f"{name}.db"
        shutil.copy(book, dbs[name])
        result = invoke(dbs[name], config, "run", *DAYS)
        assert result.exit_code == 0, result.output

    day = "2026-11-22"
    shadow_scores = _rows(
        dbs["shadow"],
        "SELECT grade, config_id FROM scores WHERE scorer = 'health_shadow' AND as_of = ?",
        day,
    )
    live_scores = _rows(
        dbs["shadow"], "SELECT 1 FROM scores WHERE scorer = 'health' AND as_of = ?", day
    )
    assert len(shadow_scores) == len(live_scores) > 0
    assert {grade for grade, _ in shadow_scores} <= {"red", "insufficient_data"}
    assert any(grade == "red" for grade, _ in shadow_scores)
    assert all(config_id.startswith("alarm@") for _, config_id in shadow_scores)
    assert not _rows(dbs["live"], "SELECT 1 FROM scores WHERE scorer = 'health_shadow'")
    # The shadow drives nothing: statuses and rule hits are the live configuration's.
    assert _statuses(dbs["shadow"]) == _statuses(dbs["live"])
    hits = "SELECT account_id, as_of, rule, state FROM rule_hits ORDER BY 1, 2, 3"
    assert _rows(dbs["shadow"], hits) == _rows(dbs["live"], hits)
    # It is shown where scores are read (the API's account scores read the same).
    account = _rows(dbs["shadow"], "SELECT account_id FROM scores WHERE as_of = ?", day)[0][0]
    config = load_config(shadow_config)
    with open_store(dbs["shadow"], []) as store:
        scorers = [s.scorer for s in scores_for(store, account, date.fromisoformat(day))]
        plan = load_plan(config, load_registry())
        health = account_health(store, plan, account, date.fromisoformat(day))
    assert scorers == ["health", "health_shadow"]
    assert health.score is not None
    assert health.score.scorer == "health"  # what GET /v1/accounts/{id}/health shows ...
    assert [s.scorer for s in health.other_scores] == ["health_shadow"]  # ... and beside it
    # The backtest judges the shadow beside the live scoring, and says which it is.
    judged = invoke(
        dbs["shadow"], shadow_config, "backtest", *SPAN[:4], "--every", "28", "--resamples", "0"
    )
    assert judged.exit_code == 0, judged.output
    lines = judged.output.splitlines()
    overall = lines.index(next(line for line in lines if line.startswith("Overall")))
    assert lines[overall + 2].split()[0] == "[scoring]"
    assert lines[overall + 3].split()[:2] == ["alarm", "(shadow)"]

    # Promoted: the card is the [scoring] default, and now it drives statuses.
    promoted = tmp_path / "promoted.db"
    shutil.copy(book, promoted)
    result = invoke(promoted, promoted_config, "run", *DAYS)
    assert result.exit_code == 0, result.output
    at_risk = "SELECT count(*) FROM transitions WHERE to_status = 'at_risk'"
    assert _rows(promoted, at_risk)[0][0] > _rows(dbs["live"], at_risk)[0][0]
    assert not _rows(promoted, "SELECT 1 FROM scores WHERE scorer = 'health_shadow'")
