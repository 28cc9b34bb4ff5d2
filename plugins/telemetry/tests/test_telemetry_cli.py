"""The example usage file through the real command line, twice: nothing counts twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from telltales.cli import cli

DATA = Path(__file__).parents[3] / "examples" / "data"


def test_reingesting_the_example_usage_file_changes_no_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELLTALES_PLUGINS", "telemetry")
    db = tmp_path / "t.db"
    runner = CliRunner()

    def telltales(*args: str) -> str:
        result = runner.invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    def counts() -> tuple[object, ...]:
        with sqlite3.connect(db) as conn:
            usage = conn.execute(
                "SELECT count(*), sum(events), sum(logins) FROM telemetry_usage"
            ).fetchone()
            signals = conn.execute(
                "SELECT count(*), total(value) FROM signals WHERE key LIKE 'telemetry.%'"
            ).fetchone()
        return (*usage, *signals)

    telltales("init")
    telltales("ingest", "accounts", str(DATA / "accounts.json"))
    usage_file = str(DATA / "telemetry.usage.jsonl")
    lines = sum(1 for line in (DATA / "telemetry.usage.jsonl").read_text().splitlines() if line)
    assert f"Stored {lines} record(s)" in telltales("ingest", "telemetry.usage", usage_file)
    telltales("run", "--as-of", "2026-11-20")
    first = counts()
    assert first[0] == lines
    assert first[3] > 0
    telltales("ingest", "telemetry.usage", usage_file)
    telltales("run", "--as-of", "2026-11-20")
    assert counts() == first
