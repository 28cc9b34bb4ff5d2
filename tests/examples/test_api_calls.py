"""The API call examples (examples/api-python, examples/api-shell) run against a real server.

Each walkthrough is run as its README says, against ``telltales serve`` on a fresh
database with examples/telltales.toml and an admin key: first with a revoked token,
where it must stop with the problem detail, then with the live one, where it must
carry the whole flow through (ingest, pilot, run, health, task, renewals, metrics)
and print what the example book gives: ferrum At-Risk, its task done, the metrics.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.server import Server, environment, start_server, stop_server, telltales

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "examples" / "telltales.toml"
PYTHON_EXAMPLE = ROOT / "examples" / "api-python" / "walkthrough.py"
SHELL_EXAMPLE = ROOT / "examples" / "api-shell" / "walkthrough.sh"


class Served:
    """A running server, a live admin token and a revoked one."""

    def __init__(self, server: Server, token: str, revoked: str) -> None:
        self.server = server
        self.token = token
        self.revoked = revoked

    def walk(self, command: list[str], token: str) -> subprocess.CompletedProcess[str]:
        """Run an example with TELLTALES_URL and TELLTALES_TOKEN, as its README says."""
        env = environment(
            TELLTALES_URL=self.server.url, TELLTALES_TOKEN=token, NO_PROXY="127.0.0.1"
        )
        return subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
        )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    db = tmp_path / "examples.db"
    env = environment(TELLTALES_CONFIG=str(CONFIG))
    assert telltales("--db", db, "init", env=env).returncode == 0
    tokens = []
    for name in ("walkthrough", "revoked"):
        created = telltales(
            "--db", db, "keys", "create", "--scope", "admin", "--name", name, env=env
        )
        assert created.returncode == 0, created.stderr
        tokens.append(created.stdout.strip())
    revoked_id = tokens[1].split("_")[1]
    assert telltales("--db", db, "keys", "revoke", revoked_id, env=env).returncode == 0
    server = start_server(db, "--workers", "1", env=env)
    try:
        server.wait_ready()
        yield Served(server, tokens[0], tokens[1])
    finally:
        stop_server(server)


def assert_stops_on_problem(result: subprocess.CompletedProcess[str]) -> None:
    """A refused call stops the walkthrough at the first request, naming the problem."""
    assert result.returncode == 1
    assert "PUT /v1/accounts" in result.stderr
    assert "this API key is unknown or revoked" in result.stderr
    assert "ingest" not in result.stdout


def test_python_walkthrough(served: Served) -> None:
    command = [sys.executable, str(PYTHON_EXAMPLE)]
    assert_stops_on_problem(served.walk(command, served.revoked))

    result = served.walk(command, served.token)

    assert (result.returncode, result.stderr) == (0, "")
    out = result.stdout
    assert "accounts: 6 created, 0 updated" in out
    assert "ingested telemetry.usage: 4623 of 4623 records stored" in out
    assert "pilot apac-pilot: enabled for apac-midmarket" in out
    assert "accounts: 6, rules fired: 4, playbooks started: 1" in out
    assert "status:      At-Risk since 2026-11-20" in out
    assert "top reason:  rule core_feature_drop" in out
    assert "reporting: 10 active users" in out
    assert "next action: Complete task 1: Ferrum Manufacturing: At-Risk" in out
    assert "task 1 for ferrum: done" in out
    assert "At-Risk episodes: 1, acknowledged: 1, still waiting: 0" in out
    # GRR = (min(0, 150k) + min(462k, 420k)) / 570k; NRR = (0 + 462k) / 570k.
    assert "2 renewals (1 renewed, 1 churned), ARR before 570,000, after 462,000" in out
    assert "GRR 73.7%, NRR 81.1%" in out


def section(output: str, heading: str) -> str:
    """The text the shell walkthrough printed under the ``== heading`` line."""
    after = output.split(f"== {heading}", 1)[1].split("\n", 1)[1]
    return after.split("\n== ", 1)[0]


@pytest.mark.skipif(shutil.which("curl") is None, reason="the shell example needs curl")
@pytest.mark.skipif(
    shutil.which("python3") is None, reason="the shell example reads JSON with python3"
)
def test_shell_walkthrough(served: Served) -> None:
    command = [str(SHELL_EXAMPLE)]
    assert_stops_on_problem(served.walk(command, served.revoked))

    result = served.walk(command, served.token)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    ingested = [json.loads(line) for line in section(out, "records").splitlines()]
    assert len(ingested) == 8
    assert all(batch["stored"] == batch["received"] > 0 for batch in ingested)
    assert section(out, "pilot").strip() == "enabled"
    actions = json.loads(section(out, "run 2026-11-20"))
    assert (actions["rules_fired"], actions["playbooks_live"], actions["tasks"]) == (4, 1, 1)
    health = section(out, "ferrum's health")
    assert "status:      At-Risk\n" in health
    assert "top reason:  rule core_feature_drop" in health
    task = json.loads(section(out, "the open task, completed"))
    assert (task["account_id"], task["state"]) == ("ferrum", "done")
    acknowledged = json.loads(section(out, "time to acknowledge"))
    assert (acknowledged["episodes"], acknowledged["acknowledged"]) == (1, 1)
    assert acknowledged["median_hours"] > 0
    retention = json.loads(section(out, "retention, "))
    assert (retention["renewals"], retention["arr_before"], retention["arr_after"]) == (
        2,
        570_000,
        462_000,
    )
    assert retention["grr"] == pytest.approx(420_000 / 570_000)
    assert retention["nrr"] == pytest.approx(462_000 / 570_000)
