"""The CLI on accounts that change: versions by day, the ones not live, their end."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from click.testing import CliRunner, Result
from telltales.cli import cli

VERSIONS = [
    {"account_id": "a1", "name": "Alpha", "as_of": "2026-01-01", "renewal_date": "2026-12-01"},
    {"account_id": "a1", "name": "Alpha", "as_of": "2026-06-01", "renewal_date": "2027-12-01"},
    {"account_id": "a2", "name": "Beta", "as_of": "2026-01-01"},
    {"account_id": "a2", "name": "Beta", "as_of": "2026-05-01", "lifecycle": "churned"},
]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_versions_runs_and_lists_as_of_a_day(tmp_path: Path) -> None:
    db, records = tmp_path / "t.db", tmp_path / "accounts.json"
    records.write_text(json.dumps(VERSIONS))
    assert invoke("--db", db, "init").exit_code == 0
    stored = invoke("--db", db, "ingest", "accounts", records)
    assert "Stored 4 record(s) through 'accounts'" in stored.output
    again = invoke("--db", db, "ingest", "accounts", records)
    assert "Stored 4 record(s) through 'accounts'" in again.output
    with closing(sqlite3.connect(db)) as conn:  # held as the same versions: none added
        assert conn.execute("SELECT count(*) FROM account_versions").fetchone() == (4,)

    invoke("--db", db, "run", "--as-of", "2026-04-30")
    ran = invoke("--db", db, "run", "--as-of", "2026-05-02")
    assert "as of 2026-05-02: ok, 1 accounts (1 not live that day)" in ran.output
    assert "1 accounts no longer live: status Inactive, open tasks dismissed" in ran.output

    listed = invoke("--db", db, "accounts", "--as-of", "2026-05-02").output.splitlines()
    assert listed == [
        "a1\tAlpha\t-\t-\trenews 2026-12-01\tHealthy",
        "a2\tBeta\t-\t-\trenews -\tnot live (churned from 2026-05-01)",
    ]
    inactive = invoke("--db", db, "accounts", "--status", "inactive", "--as-of", "2026-05-02")
    assert inactive.output.startswith("a2\t")
    later = invoke("--db", db, "accounts", "--as-of", "2026-06-01", "--json")
    assert [a["renewal_date"] for a in json.loads(later.output)] == ["2027-12-01", None]
    status = invoke("--db", db, "status", "a2", "--as-of", "2026-05-02").output
    assert "a2: Healthy -> Inactive (lifecycle)" in status
    assert "not live on 2026-05-02: the account is churned since 2026-05-01" in status
