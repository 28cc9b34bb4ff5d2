"""The CLI end to end, in process: the happy path and every user mistake."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import EXAMPLE_ACCOUNTS
from telltales.cli import cli


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
    assert "as of 2026-11-20: ok, 6 accounts, 12 signals, 0 scores" in result.output
    result = invoke("--db", db, "signals", "ferrum")
    assert result.exit_code == 0
    assert "ferrum  Ferrum Manufacturing  (as of 2026-11-20)" in result.output
    assert "180 of 400 purchased seats assigned (45%)" in result.output
    assert "renews in 30 days" in result.output


def test_signals_as_json(built: Path) -> None:
    payload = json.loads(invoke("--db", built, "signals", "tidewater", "--json").output)
    assert payload["as_of"] == "2026-11-20"
    by_key = {s["key"]: s for s in payload["signals"]}
    assert by_key["account.seat_deployment"]["value"] == 0.3
    assert (
        by_key["account.seat_deployment"]["evidence"] == "12 of 40 purchased seats assigned (30%)"
    )


def test_run_replays_a_range_of_days(built: Path) -> None:
    result = invoke("--db", built, "run", "--as-of", "2026-11-01", "--through", "2026-11-03")
    assert result.output.count(": ok, 6 accounts") == 3
    earlier = json.loads(
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
    assert line == "Error: record 1, field 'name': required field is missing"
    listed = json.loads(invoke("--db", built, "accounts", "--json").output)
    assert "new" not in [account["account_id"] for account in listed]
    assert len(listed) == 6


def test_signals_needs_an_account(built: Path) -> None:
    assert "name at least one ACCOUNT_ID" in error_line(invoke("--db", built, "signals"))


def test_through_before_as_of(built: Path) -> None:
    line = error_line(
        invoke("--db", built, "run", "--as-of", "2026-11-20", "--through", "2026-11-01")
    )
    assert "is before --as-of" in line


def test_a_malformed_day_is_a_usage_error(built: Path) -> None:
    result = invoke("--db", built, "run", "--as-of", "20/11/2026")
    assert result.exit_code == 2
    assert "Invalid value for '--as-of'" in result.output
    assert "Traceback" not in result.output


def test_progress_stays_quiet_off_a_terminal(built: Path) -> None:
    result = invoke("--db", built, "run", "--as-of", "2026-11-21")
    assert result.output.strip().splitlines() == [
        line for line in result.output.strip().splitlines() if line.startswith("Run ")
    ]


def test_plugins_json_reports_the_api_version_and_builtins() -> None:
    payload = json.loads(invoke("plugins", "--json").output)
    assert payload["plugin_api_version"] == "1.1"
    names = [p["name"] for p in payload["plugins"]]
    assert "telltales.default_plugins.accounts" in names
