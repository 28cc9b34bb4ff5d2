"""The benchmarks' quick mode, as a smoke test: it runs, and the plugin agrees with bare SQL.

Speed is never asserted here (a shared CI machine is no place to time things); the
ratios are measured by ``python3 dev.py bench`` and written in benchmarks/README.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_quick_benchmark_runs_and_matches_bare_sql(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / "run.py", "--quick", "--json", out],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    ingest = report["ingest"]
    assert ingest["rows"] > 90_000
    assert ingest["ratio"] > 0
    assert [run["accounts"] for run in report["runs"]] == [1_250, 2_500, 5_000]
    for run in report["runs"]:
        assert run["status"] == "ok"
        assert run["rows"] > run["accounts"] * 300
        assert run["scores"] == run["accounts"]
        assert run["figures_checked"] == run["accounts"]
        # Active users in 30 days, from the plugin's signals and from bare SQL: identical.
        assert run["figures_mismatched"] == 0
        assert run["ratio"] > 0
        assert run["run_peak_mb"] > 0
        # The engine's own time, for `run.py compare` (the 5% budget of issue 17).
        assert 0 < run["engine_s"] <= run["run_s"]
        assert len(run["engine_s_each"]) == len(run["run_s_each"]) == run["repeat"] == 1
    # Every request of the load runs answered 2xx: the health route, with its key, and
    # the bare baseline on the same server, with the health cache on and off.
    for mode in ("cached", "uncached"):
        api = report["api"][mode]
        for name in ("health", "bare"):
            assert api[name]["requests"] > 0
            assert api[name]["non_2xx"] == 0
        assert api["ratio"] > 0


def daily_run(accounts: int, engine: list[float], bare: float) -> dict[str, object]:
    return {
        "accounts": accounts,
        "rows": accounts * 400,
        "engine_s": min(engine),
        "engine_s_each": engine,
        "bare_sql_s": bare,
        "status": "ok",
    }


def test_compare_refuses_a_run_that_did_less_work(tmp_path: Path) -> None:
    """A source that hit its time limit under load made a 'degraded' run that read
    fewer rows: its time is no figure to compare."""
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(
        json.dumps({"runs": [{**daily_run(50_000, [50.0], 30.0), "status": "degraded"}]})
    )
    after.write_text(json.dumps({"runs": [daily_run(50_000, [51.0], 30.0)]}))
    done = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / "run.py", "compare", before, after],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == (
        "run 50,000 accounts: not comparable, the before run was degraded (a source failed "
        "or hit its time limit, so it did less work): measure again\n"
    )


def test_compare_checks_the_daily_run_against_a_budget(tmp_path: Path) -> None:
    """Item 7 of issue 17: the 5% budget is checked between two --json files."""
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps({"runs": [daily_run(50_000, [50.0, 52.0], 30.0)]}))
    for engine, expected, code in (
        ([52.0, 51.0], "+2.0%; against the bare SQL +2.0%), repeats spread up to 4.0%: within", 0),
        ([53.0, 54.0], "+6.0%; against the bare SQL +6.0%), repeats spread up to 4.0%: over", 1),
    ):
        after.write_text(json.dumps({"runs": [daily_run(50_000, engine, 30.0)]}))
        done = subprocess.run(
            [sys.executable, ROOT / "benchmarks" / "run.py", "compare", before, after],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == code, done.stderr
        assert done.stdout == (
            f"run 50,000 accounts / 20,000,000 rows: engine 50.00 s -> {min(engine):.2f} s "
            f"({expected} the 5% budget\n"
        )
