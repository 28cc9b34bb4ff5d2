"""The shipped card and rules against their written targets, on a demo book.

docs/backtest.md ("Targets of the shipped defaults") states three targets for the
shipped scorecard and rules, judged by a backtest of the demo book with nothing
configured but the demo's playbooks: on a typical replayed day (the median) at
most 15% of the live accounts are At-Risk; a majority of the churns are flagged
(Concern or At-Risk) on a replayed day 60 days or more before the churn; and the
configured scoring ranks churns better (ROC AUC) than days to renewal alone. The
book is the demo's generator at a small size that still gives some 30 churns; the
figures are the report's own, checked against the observations it stored.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.demo_book import DEMO_CONFIG, build_book
from telltales.cli import cli
from telltales.demo.replay import DemoOptions

OPTIONS = DemoOptions(accounts=200, days=364, seed=7, end=date(2026, 12, 7))
SPAN = ("--from", "2026-03-09", "--to", "2026-09-07", "--every", "7", "--horizon", "90")
MAX_AT_RISK = 0.15
EARLY_DAYS = 60


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("targets") / "demo.db"
    build_book(path, OPTIONS)
    return path


def backtest(book: Path, tmp_path: Path, *extra: str) -> tuple[Path, dict[str, Any]]:
    db = tmp_path / "demo.db"
    shutil.copy(book, db)
    result = CliRunner().invoke(
        cli,
        ["--db", str(db), "--config", str(DEMO_CONFIG), "backtest", *SPAN, *extra, "--json"],
    )
    assert result.exit_code == 0, result.output
    return db, json.loads(result.output)


@pytest.fixture(scope="module")
def judged(book: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return backtest(book, tmp_path_factory.mktemp("judged"), "--resamples", "0")


def observations(db: Path, backtest_id: int) -> list[tuple[str, date, int | None, Any, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT account_id, day, outcome, outcome_day, status FROM backtest_observations "
            "WHERE backtest_id = ?",
            [backtest_id],
        ).fetchall()
    return [
        (a, date.fromisoformat(d), o, date.fromisoformat(e) if e else None, s)
        for a, d, o, e, s in rows
    ]


def test_the_shipped_defaults_meet_their_targets(judged: tuple[Path, dict[str, Any]]) -> None:
    _, stored = judged
    overall = stored["report"]["cuts"][0]
    assert overall["churns"] >= 20, "the book gives enough churns to judge"

    shares = overall["daily_shares"]["at_risk"]
    assert shares["median"] <= MAX_AT_RISK, shares

    early = overall["early_flags"]["not_healthy"]
    assert early["value"] > 0.5, early

    card = overall["scorecards"][0]
    baseline = overall["days_to_renewal"]
    assert card["scorecard"] == "[scoring]"
    assert card["coverage"] == 1.0, "every live account graded"
    assert card["auc"]["value"] > baseline["auc"]["value"], (card["auc"], baseline["auc"])


def test_the_target_figures_are_the_observations_own(judged: tuple[Path, dict[str, Any]]) -> None:
    db, stored = judged
    rows = observations(db, stored["backtest_id"])
    overall = stored["report"]["cuts"][0]
    by_day: dict[date, list[str]] = {}
    for _, day, _, _, status in rows:
        by_day.setdefault(day, []).append(status)
    shares = sorted(sum(s == "at_risk" for s in found) / len(found) for found in by_day.values())
    middle = len(shares) // 2
    median = shares[middle] if len(shares) % 2 else (shares[middle - 1] + shares[middle]) / 2
    assert overall["daily_shares"]["at_risk"]["median"] == pytest.approx(median)

    reachable, flagged = set(), set()
    for account, day, outcome, churn, status in rows:
        if outcome and churn is not None and (churn - day).days >= EARLY_DAYS:
            reachable.add((account, churn))
            if status in ("concern", "at_risk"):
                flagged.add((account, churn))
    early = overall["early_flags"]
    assert (early["churns"], early["not_healthy"]["count"]) == (len(reachable), len(flagged))


@pytest.mark.reliability
def test_with_usage_and_accounts_alone_the_targets_still_hold(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No contacts, engagement, support, news or firmographics: the telemetry plugin and
    # the core's account source only (the demo's records of the others are not read).
    monkeypatch.setenv("TELLTALES_PLUGINS", "telemetry")
    _, stored = backtest(book, tmp_path, "--resamples", "0")
    overall = stored["report"]["cuts"][0]
    card = overall["scorecards"][0]
    assert card["coverage"] == 1.0, "scored from the dimensions present"
    assert overall["daily_shares"]["at_risk"]["median"] <= MAX_AT_RISK
    assert overall["early_flags"]["not_healthy"]["value"] > 0.5
    assert card["auc"]["value"] > overall["days_to_renewal"]["auc"]["value"]
