"""``telltales backtest`` on a small demo book: its figures against an independent count.

The book is built once by the demo generator (80 accounts, 35 weeks: conftest.py). The CLI's
report is compared with figures computed here from the observations it stored, by
the definitions and nothing of telltales.backtest: every pair for the AUC, counts
per grade, flags per rule, and the first firing of each episode for lead time.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from support.api import ApiHarness, api_over_copy
from support.demo_book import DEMO_CONFIG
from telltales.backtest import plots, stored
from telltales.backtest.observations import Observation
from telltales.cli import cli
from telltales.store import Store

SPAN = ("--from", "2026-05-01", "--to", "2026-09-18", "--every", "14", "--horizon", "60")


def invoke(db: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--db", str(db), "--config", str(DEMO_CONFIG), "backtest", *args]
    )


def _rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def backtested(book: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    db = tmp_path_factory.mktemp("backtested") / "demo.db"
    shutil.copy(book, db)
    runs_before = _rows(db, "SELECT count(*) FROM runs")
    charts = db.parent / "charts"
    result = invoke(
        db, *SPAN, "--min-churns", "3", "--resamples", "50", "--json", "--plots", str(charts)
    )
    assert result.exit_code == 0, result.output
    assert _rows(db, "SELECT count(*) FROM runs") == runs_before, "the replay wrote no run"
    return db, json.loads(result.output)


def _observations(db: Path, backtest_id: int) -> list[dict[str, Any]]:
    rows = _rows(
        db,
        "SELECT account_id, day, outcome, outcome_day, scores, grades, rules, fired "
        "FROM backtest_observations WHERE backtest_id = ? ORDER BY account_id, day",
        backtest_id,
    )
    return [
        {
            "account": account,
            "day": date.fromisoformat(day),
            "outcome": outcome,
            "outcome_day": date.fromisoformat(outcome_day) if outcome_day else None,
            "score": json.loads(scores)["[scoring]"],
            "grade": json.loads(grades)["[scoring]"],
            "rules": set(json.loads(rules)),
            "fired": set(json.loads(fired)),
        }
        for account, day, outcome, outcome_day, scores, grades, rules, fired in rows
    ]


def test_the_cli_figures_equal_an_independent_computation(backtested: tuple[Path, Any]) -> None:
    db, stored = backtested
    assert stored["state"] == "done"
    observations = _observations(db, stored["backtest_id"])
    judged = [o for o in observations if o["outcome"] is not None]
    overall = stored["report"]["cuts"][0]
    assert overall["cut"] == "overall"
    churns = {(o["account"], o["outcome_day"]) for o in judged if o["outcome"]}
    assert overall["churns"] == len(churns) >= 3
    assert overall["observations"] == len(judged)
    assert stored["report"]["left_out"] == sum(1 for o in observations if o["outcome"] is None)

    card = overall["scorecards"][0]
    scored = [o for o in judged if o["score"] is not None]
    pos = [o["score"] for o in scored if o["outcome"]]
    neg = [o["score"] for o in scored if not o["outcome"]]
    # Lower score = riskier; ties count half.
    wins = sum(1.0 if p < n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    assert card["auc"]["value"] == pytest.approx(wins / (len(pos) * len(neg)))
    low, high = card["auc"]["low"], card["auc"]["high"]
    assert low <= card["auc"]["value"] <= high
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in judged:
        counts[o["grade"]][0] += 1
        counts[o["grade"]][1] += o["outcome"]
    assert {r["grade"]: [r["observations"], r["churned"]] for r in card["calibration"]} == counts

    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in observations:
        by_account[o["account"]].append(o)
    assert overall["rules"], "the demo's rules fired"
    for rule in overall["rules"]:
        name = rule["rule"]
        flagged = [o for o in judged if name in o["rules"]]
        assert rule["flagged"] == len(flagged)
        if flagged:
            share = sum(o["outcome"] for o in flagged) / len(flagged)
            assert rule["precision"]["value"] == pytest.approx(share)
        caught = {(o["account"], o["outcome_day"]) for o in flagged if o["outcome"]}
        assert rule["recall"]["value"] == pytest.approx(len(caught) / len(churns))
        leads = sorted(_lead(by_account[a], name, churn) for a, churn in caught)
        found = rule["lead_time_days"]
        if leads:
            assert found["count"] == len(leads)
            assert found["median"] == pytest.approx(_median(leads))
        else:
            assert found is None


def _lead(rows: list[dict[str, Any]], rule: str, churn: date) -> int:
    """Days from the first firing of the episode flagging last before ``churn``."""
    before = [o for o in rows if o["day"] < churn]
    last = max(i for i, o in enumerate(before) if rule in o["rules"])
    first = last
    while first > 0 and rule in before[first - 1]["rules"] and rule not in before[first]["fired"]:
        first -= 1
    return (churn - before[first]["day"]).days


def _median(values: list[int]) -> float:
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def test_the_text_report_prints_the_same_figures(backtested: tuple[Path, Any]) -> None:
    db, stored = backtested
    result = invoke(db, *SPAN, "--min-churns", "3", "--resamples", "50")
    assert result.exit_code == 0, result.output
    auc = stored["report"]["cuts"][0]["scorecards"][0]["auc"]
    assert f"{auc['value']:.3f} ({auc['low']:.3f}-{auc['high']:.3f})" in result.output
    assert "Overall:" in result.output
    assert "calibration of [scoring]:" in result.output


def test_too_few_churns_are_refused_by_name(book: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    shutil.copy(book, db)
    result = invoke(
        db, "--from", "2026-09-04", "--to", "2026-09-18", "--every", "14", "--horizon", "60"
    )
    assert result.exit_code == 0, result.output
    assert "-: not enough outcomes to judge (" in result.output
    assert "Traceback" not in result.output


def test_a_span_with_no_known_outcome_is_refused_before_anything_runs(
    book: Path, tmp_path: Path
) -> None:
    db = tmp_path / "demo.db"
    shutil.copy(book, db)
    result = invoke(db, "--from", "2026-10-01", "--to", "2026-10-20", "--horizon", "90")
    assert result.exit_code == 1
    assert result.output.startswith("Error: --from: outcomes are known through 2026-11-")
    assert "nothing was run" in result.output
    assert _rows(db, "SELECT count(*) FROM backtests") == [(0,)]
    unknown = invoke(db, *SPAN, "--scorecard", "nope")
    assert unknown.exit_code == 1
    assert "Error: --scorecard: no scorecard 'nope' (known: " in unknown.output


@pytest.fixture
def api(book: Path, tmp_path: Path) -> Any:
    yield from api_over_copy(book, tmp_path)


def test_the_api_runs_a_backtest_in_the_background(api: ApiHarness) -> None:
    admin = api.headers(api.key("admin"))
    body = {
        "from_day": "2026-08-07",
        "to_day": "2026-09-18",
        "every": 14,
        "horizon": 60,
        "resamples": 20,
        "min_churns": 1,
    }
    answer = api.client.post("/v1/backtests", json=body, headers=admin)
    assert answer.status_code == 202, answer.text
    backtest_id = answer.json()["backtest_id"]
    # One at a time: a second waits its turn instead of sharing the cores.
    second = api.client.post("/v1/backtests", json=body, headers=admin)
    assert second.status_code == 409, second.text
    reader = api.headers(api.key("read"))
    found = finished(api, backtest_id, reader)
    assert found["state"] == "done", found
    assert found["report"]["cuts"][0]["cut"] == "overall"
    assert found["settings"]["every_days"] == 14
    again = api.client.post("/v1/backtests", json=body, headers=admin)
    assert again.status_code == 202, again.text  # its turn, once the first is done
    assert finished(api, again.json()["backtest_id"], reader)["state"] == "done"


def finished(api: ApiHarness, backtest_id: int, headers: dict[str, str]) -> Any:
    """The backtest once it is no longer running (or after a minute)."""
    deadline = time.monotonic() + 60
    while True:
        found = api.client.get(f"/v1/backtests/{backtest_id}", headers=headers).json()
        if found["state"] != "running" or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_the_api_refuses_by_field_and_by_scope(api: ApiHarness) -> None:
    admin = api.headers(api.key("admin"))
    late = {"from_day": "2026-10-01", "to_day": "2026-10-20"}
    answer = api.client.post("/v1/backtests", json=late, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.from_day"
    backwards = {"from_day": "2026-06-01", "to_day": "2026-05-01"}
    answer = api.client.post("/v1/backtests", json=backwards, headers=admin)
    assert answer.json()["errors"][0]["field"] == "body.to_day"
    bad = api.client.post("/v1/backtests", json={**late, "every": 0}, headers=admin)
    assert bad.status_code == 400
    reader = api.headers(api.key("read"))
    assert api.client.post("/v1/backtests", json=late, headers=reader).status_code == 403
    limited = api.headers(api.key("read", groups=["emea-midmarket"]))
    assert api.client.get("/v1/backtests/1", headers=limited).status_code == 403
    assert api.client.get("/v1/backtests/99", headers=reader).status_code == 404
    (count,) = api.context.store.db.execute("SELECT count(*) FROM backtests").fetchone()
    assert count == 0


def test_the_charts_show_the_reports_figures(backtested: tuple[Path, Any]) -> None:
    db, found = backtested
    charts = db.parent / "charts"
    for name in ("calibration", "lift", "lead_time"):
        assert (charts / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    with Store(db) as store:
        backtest = stored.get(store, found["backtest_id"])
        seen = stored.observations(store, found["backtest_id"])
    assert backtest is not None
    assert backtest.report is not None
    report = backtest
    overall = found["report"]["cuts"][0]
    calibration = plots.render("calibration", report.report, seen, "svg").decode()
    for card in overall["scorecards"]:
        assert card["scorecard"] in calibration
        for row in card["calibration"]:
            assert f"({row['observations']})" in calibration, row
    # Each rule's row counts the churns it flagged, counted here from the observations.
    observations = _observations(db, found["backtest_id"])
    judged = [o for o in observations if o["outcome"] is not None]
    lead_time = plots.render("lead_time", report.report, seen, "svg").decode()
    drawn = 0
    for rule in overall["rules"]:
        flagged = [o for o in judged if o["outcome"] and rule["rule"] in o["rules"]]
        caught = {(o["account"], o["outcome_day"]) for o in flagged}
        if caught:
            assert f"{rule['rule']} ({len(caught)})" in lead_time
            drawn += 1
    assert drawn, "some rule flagged a churn"
    assert overall["churns"] > 0


def test_the_lift_curve_equals_a_count_of_the_riskiest(tmp_path: Path) -> None:
    # 20 observations with distinct scores; the riskiest (lowest) 5 hold 3 of 4 churns.
    churned = {0, 2, 4, 13}
    rows = [
        Observation(
            account_id=f"a{i}",
            day=date(2026, 5, 1),
            owner="o",
            csm_group="g",
            segment="s",
            outcome=i in churned,
            outcome_day=date(2026, 6, 1) if i in churned else None,
            scores={"[scoring]": 10.0 + i},
            grades={"[scoring]": "amber"},
            rules=[],
            fired=[],
            status="healthy",
        )
        for i in range(20)
    ]
    curve = dict(plots.lift_curve("[scoring]", rows))
    base = 4 / 20
    assert curve[0.25] == pytest.approx((3 / 5) / base)
    assert curve[0.1] == pytest.approx((1 / 2) / base)
    assert curve[1.0] == pytest.approx(1.0)
    assert plots.lift_curve("[scoring]", [r for r in rows if not r.outcome]) == []


def test_without_matplotlib_charts_are_refused_before_anything_runs(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "demo.db"
    shutil.copy(book, db)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    result = invoke(db, *SPAN, "--plots", str(tmp_path / "charts"))
    assert result.exit_code == 1
    assert result.output == (
        "Error: charts need matplotlib, which is not installed: pip install 'telltales[plots]'\n"
    )
    assert _rows(db, "SELECT count(*) FROM backtests") == [(0,)]


def test_the_days_to_renewal_baseline_equals_an_independent_computation(
    backtested: tuple[Path, Any],
) -> None:
    db, stored = backtested
    rows = _rows(
        db,
        "SELECT outcome, days_to_renewal FROM backtest_observations "
        "WHERE backtest_id = ? AND outcome IS NOT NULL AND days_to_renewal IS NOT NULL",
        stored["backtest_id"],
    )
    pos = [days for outcome, days in rows if outcome]
    neg = [days for outcome, days in rows if not outcome]
    # Fewer days to the renewal = riskier; ties count half.
    wins = sum(1.0 if p < n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    baseline = stored["report"]["cuts"][0]["days_to_renewal"]
    assert baseline["scorecard"] == "[days to renewal]"
    assert baseline["scored"] == len(rows)
    assert baseline["auc"]["value"] == pytest.approx(wins / (len(pos) * len(neg)))
    assert baseline["brier"]["reason"] == "days to renewal is no probability"
