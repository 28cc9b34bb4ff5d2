"""The CLI end to end, in process: the happy path and every user mistake."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from conftest import EXAMPLE_ACCOUNTS
from telltales.cli import cli
from telltales.cli.app import Day


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "t.db"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def built(db: Path) -> Path:
    assert invoke("--db", db, "init").exit_code == 0
    assert invoke("--db", db, "ingest", "accounts", EXAMPLE_ACCOUNTS).exit_code == 0
    assert invoke("--db", db, "run", "--as-of", "2026-11-20").exit_code == 0
    return db


def test_init_ingest_run_signals(db: Path) -> None:
    result = invoke("--db", db, "init")
    assert result.output.startswith("Created telltales database")
    result = invoke("--db", db, "ingest", "accounts", EXAMPLE_ACCOUNTS)
    assert "Stored 6 record(s) through 'accounts'" in result.output
    result = invoke("--db", db, "run", "--as-of", "2026-11-20")
    assert result.exit_code == 0
    assert "as of 2026-11-20: ok, 6 accounts, 12 signals, 6 scores" in result.output
    result = invoke("--db", db, "signals", "ferrum")
    assert result.exit_code == 0
    assert "ferrum  Ferrum Manufacturing  (as of 2026-11-20)" in result.output
    assert "36 of 80 purchased seats assigned (45%)" in result.output
    assert "renews in 30 days" in result.output


def test_signals_as_json(built: Path) -> None:
    (payload,) = json.loads(invoke("--db", built, "signals", "tidewater", "--json").output)
    assert payload["as_of"] == "2026-11-20"
    by_key = {s["key"]: s for s in payload["signals"]}
    assert by_key["account.seat_deployment"]["value"] == 0.3
    assert (
        by_key["account.seat_deployment"]["evidence"] == "12 of 40 purchased seats assigned (30%)"
    )


def test_run_replays_a_range_of_days(built: Path) -> None:
    result = invoke("--db", built, "run", "--as-of", "2026-11-01", "--through", "2026-11-03")
    assert result.output.count(": ok, 6 accounts") == 3
    (earlier,) = json.loads(
        invoke("--db", built, "signals", "ferrum", "--as-of", "2026-11-02", "--json").output
    )
    assert earlier["as_of"] == "2026-11-02"


def test_init_twice_is_harmless(built: Path) -> None:
    result = invoke("--db", built, "init")
    assert result.exit_code == 0
    assert result.output.startswith("Brought up to date")


def error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_unknown_account(built: Path) -> None:
    assert error_line(invoke("--db", built, "signals", "nope")) == "Error: unknown account 'nope'"


def test_missing_database_suggests_init(db: Path) -> None:
    assert "create one with `telltales init`" in error_line(invoke("--db", db, "run"))
    assert not db.exists()


def test_a_file_that_is_not_a_telltales_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "budget.xlsx"
    path.write_bytes(b"PK\x03\x04 not a database" * 50)
    before = digest(path)
    for command in (["init"], ["run"], ["signals", "--all"]):
        assert "not a telltales database" in error_line(invoke("--db", path, *command))
    assert digest(path) == before


def test_malformed_config_is_refused_before_the_database_changes(
    built: Path, tmp_path: Path
) -> None:
    config = tmp_path / "telltales.toml"
    config.write_text("[plugins.account]\nwindow = = 2\n")
    invoke("--db", built, "signals", "ferrum")  # settle WAL before fingerprinting
    before = digest(built)
    line = error_line(invoke("--db", built, "--config", config, "run", "--as-of", "2026-11-21"))
    assert line.startswith(f"Error: {config}: not valid TOML")
    assert "line 2" in line
    assert digest(built) == before


def test_config_for_an_unknown_source(built: Path, tmp_path: Path) -> None:
    config = tmp_path / "telltales.toml"
    config.write_text("[plugins.tealmetry]\nwindow_days = 30\n")
    line = error_line(invoke("--db", built, "--config", config, "run"))
    assert "[plugins.tealmetry] names no installed signal source" in line


def test_an_invalid_record_stores_nothing(built: Path, tmp_path: Path) -> None:
    bad = tmp_path / "accounts.json"
    bad.write_text('[{"account_id": "new", "name": "New"}, {"account_id": "x"}]')
    line = error_line(invoke("--db", built, "ingest", "accounts", bad))
    assert line == f"Error: {bad}: record 2, field 'name': required field is missing"
    listed = json.loads(invoke("--db", built, "accounts", "--json").output)
    assert "new" not in [account["account_id"] for account in listed]
    assert len(listed) == 6


def test_ingest_says_how_many_repeats_it_folded(built: Path, tmp_path: Path) -> None:
    """Found by outside testers: repeats were counted as stored (the last one wins)."""
    accounts = json.loads(EXAMPLE_ACCOUNTS.read_text())
    again = tmp_path / "again.jsonl"
    again.write_text("\n".join(json.dumps(a) for a in accounts + accounts[:2]) + "\n")
    result = invoke("--db", built, "ingest", "accounts", again)
    assert result.exit_code == 0
    assert result.output == (
        f"Stored 6 record(s) through 'accounts' from {again} (8 received; 2 repeated an "
        "earlier record of the batch and were folded into it, the last one kept)\n"
    )


def test_a_csv_file_is_ingested_through_the_same_records(built: Path, tmp_path: Path) -> None:
    file = tmp_path / "more.csv"
    file.write_text("account_id,name,segment,core_features\nnew,New Co,SMB,reporting;dispatch\n")
    result = invoke("--db", built, "ingest", "accounts", file)
    assert result.output == f"Stored 1 record(s) through 'accounts' from {file}\n"
    listed = json.loads(invoke("--db", built, "accounts", "--json").output)
    new = next(account for account in listed if account["account_id"] == "new")
    assert (new["segment"], new["core_features"]) == ("SMB", ["reporting", "dispatch"])


def test_a_csv_mistake_names_the_file_line_and_field(built: Path, tmp_path: Path) -> None:
    file = tmp_path / "export.txt"
    file.write_text("account_id,name,arr\nnew,New Co,lots\n")
    line = error_line(invoke("--db", built, "ingest", "accounts", file, "--format", "csv"))
    assert line == f"Error: {file}: record 1 (line 2), field 'arr': expected `float`, got 'lots'"
    line = error_line(invoke("--db", built, "ingest", "accounts", file))
    assert line.startswith(f"Error: {file}: line 1: not JSON but what looks like CSV")


def test_an_empty_file_is_an_error_unless_allowed(built: Path, tmp_path: Path) -> None:
    file = tmp_path / "usage.jsonl"
    file.write_text("\n")
    line = error_line(invoke("--db", built, "ingest", "telemetry.usage", file))
    assert line.startswith(f"Error: {file}: the file holds no records; nothing was stored")
    result = invoke("--db", built, "ingest", "telemetry.usage", file, "--allow-empty")
    assert result.output == f"Stored 0 record(s) through 'telemetry.usage' from {file}\n"


def test_signals_needs_an_account(built: Path) -> None:
    assert "name at least one ACCOUNT_ID" in error_line(invoke("--db", built, "signals"))


def test_through_before_as_of(built: Path) -> None:
    line = error_line(
        invoke("--db", built, "run", "--as-of", "2026-11-20", "--through", "2026-11-01")
    )
    assert "is before --as-of" in line


@pytest.mark.parametrize("option", ["--as-of", "--through"])
def test_a_day_in_the_future_is_refused_as_the_api_refuses_it(built: Path, option: str) -> None:
    """The CLI and POST /v1/runs share one rule: a future day runs nothing."""
    future = (date.today() + timedelta(days=200)).isoformat()
    days = ["--as-of", future] if option == "--as-of" else ["--as-of", "2026-11-21", option, future]
    line = error_line(invoke("--db", built, "run", *days))
    assert f"{option} {future} is in the future: a run computes a day whose data" in line
    assert line.endswith("tomorrow in UTC); nothing was run")
    with sqlite3.connect(built) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)


def test_a_malformed_day_is_a_usage_error(built: Path) -> None:
    result = invoke("--db", built, "run", "--as-of", "20/11/2026")
    assert result.exit_code == 2
    assert "Invalid value for '--as-of'" in result.output
    assert "Traceback" not in result.output


def _day_options(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """(command path..., option) for every option of every command that takes a day."""
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _day_options(command, (*path, name))
            continue
        for param in command.params:
            if isinstance(param.type, click.DateTime):
                assert isinstance(param.type, Day), f"{name} {param.opts}: use telltales' DAY"
                found.append((*path, name, param.opts[0]))
    return found


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("metrics", "retention", "--to", "0001-01-01"), "--to"),
        (("run", "--as-of", "0001-01-01"), "--as-of"),
        (("metrics", "risk-reversal", "--as-of", "9999-12-31"), "--as-of"),
    ],
)
def test_a_day_at_the_ends_of_the_calendar_is_a_usage_error_not_a_traceback(
    built: Path, args: tuple[str, ...], option: str
) -> None:
    """Found by outside testers: ``metrics retention --to 0001-01-01`` and ``run --as-of
    0001-01-01`` overflowed date arithmetic and printed a traceback."""
    result = invoke("--db", built, *args)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': {args[-1]} is outside 1900-01-01..2999-12-31" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert len(_day_options(cli)) >= 10  # every day option is a DAY, so checked the same way


def test_progress_stays_quiet_off_a_terminal(built: Path) -> None:
    result = invoke("--db", built, "run", "--as-of", "2026-11-21")
    lines = result.output.strip().splitlines()
    assert [line[:4] for line in lines] == ["Run ", "  ru"]
    assert lines[1].startswith("  rules: ")


def test_plugins_json_reports_the_api_version_and_builtins() -> None:
    payload = json.loads(invoke("plugins", "--json").output)
    assert payload["plugin_api_version"] == "1.5"
    names = [p["name"] for p in payload["plugins"]]
    assert "telltales.default_plugins.accounts" in names


DEPLOY_CARD = """\
[scoring]
default = "deploy"

[scorecards.deploy]
min_coverage = 0.5
components = { deployment = 0.7, renewal = 0.3 }

[[scorecards.deploy.measures]]
component = "deployment"
signal = "account.seat_deployment"
weight = 1
thresholds = [{ at_least = 0.9, points = 100 }, { at_least = 0.4, points = 50 }]
otherwise = 0

[[scorecards.deploy.measures]]
component = "renewal"
signal = "account.days_to_renewal"
weight = 1
linear = { worst = 0, best = 90 }
"""


@pytest.fixture
def core_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the core's plugins, whatever else is installed: the scores stay hand-computed."""
    monkeypatch.setenv("TELLTALES_PLUGINS", "")


ACCOUNTS = [
    {
        "account_id": "ferrum",
        "name": "Ferrum Manufacturing",
        "seats_purchased": 200,
        "seats_assigned": 90,
        "renewal_date": "2026-12-20",
    },
    {
        "account_id": "tidewater",
        "name": "Tidewater Credit Union",
        "seats_purchased": 40,
        "seats_assigned": 12,
        "renewal_date": "2027-02-10",
    },
]


@pytest.fixture
def accounts_file(tmp_path: Path) -> Path:
    """Accounts of this file's own, so the hand-computed scores do not follow the examples."""
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(ACCOUNTS))
    return path


@pytest.fixture
def scored(db: Path, tmp_path: Path, accounts_file: Path, core_only: None) -> tuple[Path, Path]:
    config = tmp_path / "telltales.toml"
    config.write_text(DEPLOY_CARD)
    assert invoke("--db", db, "init").exit_code == 0
    assert invoke("--db", db, "ingest", "accounts", accounts_file).exit_code == 0
    for day in ("2026-10-21", "2026-11-13", "2026-11-20"):
        result = invoke("--db", db, "--config", config, "run", "--as-of", day)
        assert f"as of {day}: ok, 2 accounts, 4 signals, 2 scores" in result.output
    return db, config


def test_score_shows_grade_coverage_trend_and_breakdown(scored: tuple[Path, Path]) -> None:
    db, config = scored
    config_id = hashlib.sha256(config.read_bytes()).hexdigest()[:12]
    result = invoke("--db", db, "score", "ferrum")
    assert result.exit_code == 0, result.output
    # ferrum: 90 of 200 seats = 0.45 -> 50 points; renews in 30 days -> 30 / 90 = 33.3
    # 50 x 0.7 + 33.3 x 0.3 = 35 + 9.99 = 44.99 -> 45.0 (amber: 40 <= 45 < 70)
    # 7 days before: 37 days -> 41.1 points: 35 + 12.33 = 47.33 -> 47.3; change -2.3
    # 30 days before: 60 days -> 66.7 points: 35 + 20.01 = 55.01 -> 55.0; change -10.0
    assert result.output.splitlines() == [
        "ferrum  Ferrum Manufacturing  (as of 2026-11-20)",
        f"  health: 45.0  Concern (amber)  coverage 100%  config deploy@{config_id}",
        "  trend: -2.3 vs 7 days before (was 47.3, amber, on 2026-11-13); "
        "-10.0 vs 30 days before (was 55.0, amber, on 2026-10-21)",
        "  component / measure        value  points  weight  configured  evidence",
        "  deployment                          50.0     70%         70%",
        "    account.seat_deployment   0.45      50     70%         70%  "
        "90 of 200 purchased seats assigned (45%)",
        "  renewal                             33.3     30%         30%",
        "    account.days_to_renewal     30    33.3     30%         30%  "
        "renews in 30 days (renewal date 2026-12-20, as of 2026-11-20)",
    ]


def test_score_as_json(scored: tuple[Path, Path]) -> None:
    db, _ = scored
    (payload,) = json.loads(  # a list of one: the same shape as for several accounts
        invoke("--db", db, "score", "ferrum", "--as-of", "2026-11-19", "--json").output
    )
    assert payload["as_of"] == "2026-11-13", "the latest scored day at or before --as-of"
    (health,) = payload["scores"]
    assert (health["scorer"], health["value"], health["grade"]) == ("health", 47.3, "amber")
    assert health["trend_7d"] is None
    assert health["trend_30d"] is None
    measure = health["breakdown"][0]
    assert measure == {
        "measure": "account.seat_deployment",
        "component": "deployment",
        "signal_key": "account.seat_deployment",
        "value": 0.45,
        "points": 50.0,
        "weight": 0.7,
        "evidence": "90 of 200 purchased seats assigned (45%)",
        "configured_weight": 0.7,
    }
    both = json.loads(invoke("--db", db, "score", "ferrum", "tidewater", "--json").output)
    assert [entry["account_id"] for entry in both] == ["ferrum", "tidewater"]


def test_score_shows_missing_measures_and_insufficient_data(
    db: Path, accounts_file: Path, core_only: None
) -> None:
    assert invoke("--db", db, "init").exit_code == 0
    assert invoke("--db", db, "ingest", "accounts", accounts_file).exit_code == 0
    assert invoke("--db", db, "run", "--as-of", "2026-11-20").exit_code == 0
    lines = invoke("--db", db, "score", "tidewater").output.splitlines()
    # the shipped DEAR card: only the account's own measures can have data here,
    # deployment (14% of the card) and renewal (30%): 44%, under the card's 60%
    assert lines[1].startswith("  health: insufficient data (Insufficient data)  coverage 44%")
    assert lines[2] == (
        "  trend: no score 7 days before (2026-11-13); no score 30 days before (2026-10-21)"
    )
    rows = {line.split()[0]: line for line in lines[4:]}
    # each covered measure's weight is its share of the covered 44%: 14 / 44 = 31.8%
    assert rows["account.seat_deployment"].split()[1:5] == ["0.3", "0", "31.8%", "14%"]
    assert rows["account.days_to_renewal"].split()[1:5] == ["82", "34.7", "68.2%", "30%"]
    assert rows["telemetry.seat_utilization_30d"].split()[1:5] == ["missing", "-", "0%", "6.1%"]
    assert rows["telemetry.seat_utilization_30d"].endswith(
        "missing: source 'telemetry' is not installed"
    )
    assert rows["roi"].split()[1:5] == ["missing", "-", "0%", "14%"]


def test_score_says_when_nothing_was_scored(db: Path, accounts_file: Path) -> None:
    assert invoke("--db", db, "init").exit_code == 0
    assert invoke("--db", db, "ingest", "accounts", accounts_file).exit_code == 0
    result = invoke("--db", db, "score", "ferrum")
    assert result.output == (
        "ferrum  Ferrum Manufacturing  - no scores computed yet; run `telltales run`\n"
    )
    assert error_line(invoke("--db", db, "score", "nope")) == "Error: unknown account 'nope'"
    assert invoke("--db", db, "score").exit_code == 2


def test_run_refuses_a_bad_scorecard_naming_the_line(
    built: Path, tmp_path: Path, core_only: None
) -> None:
    config = tmp_path / "telltales.toml"
    config.write_text(DEPLOY_CARD.replace("weight = 1\nlinear", "weight = 0.5\nlinear"))
    line = error_line(invoke("--db", built, "--config", config, "run", "--as-of", "2026-11-21"))
    assert line == (
        f"Error: {config}, line 18: scorecard 'deploy': the measure weights of component "
        "'renewal' add up to 0.5, not 1 (0.5 on line 18)"
    )
