"""Installed plugins as the real ``telltales`` command sees them, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_ACCOUNTS
from support.installed import BROKEN_ON_IMPORT, FAILS_AT_RUN, GOOD_PLUGIN, fake_install

TELLTALES = Path(sys.executable).parent / "telltales"


def telltales(*args: str | Path, site: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TELLTALES_")}
    environment.update(PYTHONPATH=str(site), **env)
    return subprocess.run(
        [TELLTALES, *map(str, args)], capture_output=True, text=True, env=environment, timeout=60
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    fake_install(tmp_path / "site", "broken", BROKEN_ON_IMPORT)
    fake_install(tmp_path / "site", "steady", GOOD_PLUGIN)
    return tmp_path / "site"


@pytest.fixture
def db(tmp_path: Path, site: Path) -> Path:
    path = tmp_path / "t.db"
    assert telltales("--db", path, "init", site=site).returncode == 0
    assert (
        telltales("--db", path, "ingest", "accounts", EXAMPLE_ACCOUNTS, site=site).returncode == 0
    )
    return path


def test_plugins_lists_the_broken_plugin_and_keeps_going(site: Path) -> None:
    result = telltales("plugins", site=site)
    assert result.returncode == 0
    assert "steady (0.0.1)" in result.stdout
    assert "broken (FAILED at load" in result.stdout
    assert "RuntimeError: vendor SDK missing" in result.stdout
    assert "warning: plugin 'broken' left out (load)" in result.stderr


def test_run_works_despite_the_broken_plugin(site: Path, db: Path) -> None:
    result = telltales("--db", db, "run", "--as-of", "2026-11-20", site=site)
    assert result.returncode == 0, result.stderr
    assert "warning: plugin 'broken' left out" in result.stderr
    assert ": degraded, 6 accounts, 18 signals" in result.stdout, "the broken plugin is missing"
    assert "degraded: plugin:broken (broken) failed" in result.stderr
    shown = telltales("--db", db, "signals", "northwind", site=site).stdout
    assert "steady.one" in shown


@pytest.mark.parametrize("command", [["plugins"], ["run", "--as-of", "2026-11-20"]])
def test_strict_mode_exits_non_zero(site: Path, db: Path, command: list[str]) -> None:
    result = telltales("--db", db, *command, site=site, TELLTALES_STRICT_PLUGINS="1")
    assert result.returncode == 1
    assert "Error: plugin 'broken' failed (load)" in result.stderr
    assert "Traceback" not in result.stderr


def test_allow_list_from_the_environment(site: Path) -> None:
    result = telltales("plugins", site=site, TELLTALES_PLUGINS="steady")
    assert "steady" in result.stdout
    assert "broken" not in result.stdout + result.stderr


def test_a_source_failing_during_the_run_degrades_it_visibly(tmp_path: Path, db: Path) -> None:
    site = fake_install(tmp_path / "site", "flaky", FAILS_AT_RUN)
    result = telltales("--db", db, "run", "--as-of", "2026-11-20", site=site)
    assert result.returncode == 0
    assert ": degraded, 6 accounts, 18 signals" in result.stdout
    assert (
        "degraded: source:flaky (flaky) failed, its output is missing: "
        "TimeoutError: vendor API did not answer"
    ) in result.stderr
    strict = telltales(
        "--db",
        db,
        "run",
        "--as-of",
        "2026-11-20",
        site=site,
        TELLTALES_STRICT_PLUGINS="1",
        TELLTALES_PLUGINS="steady,flaky",
    )
    assert strict.returncode == 1
    assert "Error: source:flaky of plugin 'flaky' failed" in strict.stderr
    assert "[strict mode: nothing stored]" in strict.stderr
