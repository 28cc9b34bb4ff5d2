"""``telltales metrics NAME``: the same reports as the API, readable, and its mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.metric_history import MetricHistory
from support.metric_stories import (
    write_alert_load_history,
    write_retention_history,
    write_risk_reversal_history,
)
from telltales.cli import cli
from telltales.store import Store

QUARTER = ("--from", "2026-01-01", "--to", "2026-03-31")


def invoke(store: Store, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(store.path), "metrics", *args])


@pytest.fixture
def history(store: Store) -> MetricHistory:
    return MetricHistory(store)


def test_retention_table_by_group(history: MetricHistory) -> None:
    write_retention_history(history)
    result = invoke(history.store, "retention", *QUARTER, "--group-by", "csm_group")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "retention"
    assert "filters: period 2026-01-01 to 2026-03-31" in result.output
    header = next(line for line in lines if line.startswith("csm_group"))
    assert header.split() == [
        "csm_group", "GRR", "NRR", "ARR", "before", "ARR", "after", "retained", "renewals",
        "churned", "note",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split()[1:] for line in lines[lines.index(header) + 1 :]}
    # Every group rests on fewer than the default 20 renewals: no figure, the reason.
    assert rows["all"] == [
        "-",
        "-",
        "600",
        "530",
        "450",
        "5",
        "1",
        *["too", "few", "renewals", "yet", "(5;", "20", "needed)"],
    ]
    assert rows["amer"][:7] == ["-", "-", "100", "150", "100", "1", "0"]
    assert rows["emea"][:7] == ["-", "-", "500", "380", "350", "4", "1"]
    assert "95% interval" in result.output


def test_retention_with_enough_renewals_shows_figures_with_intervals(
    history: MetricHistory, tmp_path: Path
) -> None:
    write_retention_history(history)
    config = tmp_path / "telltales.toml"
    config.write_text("[metrics]\nmin_renewals = 4\n")
    result = CliRunner().invoke(
        cli,
        ["--db", str(history.store.path), "--config", str(config), "metrics", "retention",
         *QUARTER, "--csm-group", "emea"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("all"))
    # docs/metrics.md's hand computation: GRR 0.70 +- 0.3733 (clipped at 1), NRR 0.76 +- 0.4358.
    assert "70.0% (32.7% to 100.0%)" in row
    assert "76.0% (32.4% to 119.6%)" in row
    assert "too few" not in row


def test_risk_reversal_json_is_the_api_report(history: MetricHistory) -> None:
    write_risk_reversal_history(history)
    result = invoke(
        history.store, "risk-reversal", *QUARTER, "--window-days", "60", "--as-of", "2026-03-31",
        "--csm-group", "emea", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["metric"] == "risk-reversal"
    assert report["window_days"] == 60
    assert report["filters"]["csm_group"] == "emea"
    # emea with W = 60: a1, a2, a3 old enough (a4, a5 too young), a1 and a2 reversed.
    assert report["overall"]["old_enough"] == 3
    assert report["overall"]["reversed"] == 2


def test_alert_load_lists_owners(history: MetricHistory) -> None:
    write_alert_load_history(history)
    result = invoke(history.store, "alert-load", "--from", "2026-03-02", "--to", "2026-03-29")
    assert result.exit_code == 0, result.output
    assert "alert-load (28 days = 4.00 weeks)" in result.output
    owners = [line.split() for line in result.output.splitlines()[-3:]]
    assert owners == [
        ["ann", "2.00", "0.50", "8", "2"],
        ["bob", "1.00", "0.00", "4", "0"],
        ["cy", "0.00", "1.00", "0", "4"],
    ]


def test_flap_rate_below_the_minimum_says_why(history: MetricHistory) -> None:
    history.account("a1")
    history.transition("a1", "2026-02-01", "at_risk")
    history.transition("a1", "2026-02-08", "healthy")
    result = invoke(history.store, "flap-rate", *QUARTER, "--as-of", "2026-03-31")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("flap-rate (window 14 days, entries aged as of 2026-03-31)")
    overall = next(line for line in result.output.splitlines() if line.startswith("all "))
    # rate withheld ("-"), 1 flapped of 1 old enough, 0 too young, 1 entry, and why.
    assert overall.split()[:5] == ["all", "-", "1", "1", "0"]
    assert overall.endswith("too few episodes yet (1; 20 needed)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("retention", "--window-days", "30"), "--window-days applies to risk-reversal only"),
        (("flap-rate", "--window-days", "30"), "--window-days applies to risk-reversal only"),
        (("alert-load", "--lookback-days", "30"), "--lookback-days applies to renewal-by-cohort"),
        (("risk-reversal", "--window-days", "45"), "--window-days: must be 30 or 60, got 45"),
        (("discounting", "--lookback-days", "0"), "--lookback-days: must be between 1 and 730"),
        (
            ("retention", "--from", "2026-02-01", "--to", "2026-01-31"),
            "--from: 2026-02-01 is after",
        ),
        (("retention", "--cohort", "treated"), "'treated' is not one of 'pilot', 'control'"),
    ],
)
def test_mistakes_name_the_option(store: Store, args: tuple[str, ...], message: str) -> None:
    result = invoke(store, *args)
    assert result.exit_code == 2
    assert message in result.output
