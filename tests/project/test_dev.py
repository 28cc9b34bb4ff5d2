"""``dev.py``: the README's entry point says what it did not understand."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def dev(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_an_unknown_command_is_named_with_the_closest_one_before_the_usage() -> None:
    typo = dev("dmeo")
    assert typo.returncode == 2
    first, blank, usage = typo.stdout.split("\n", 2)
    assert (first, blank) == ("dev.py: unknown command 'dmeo'; did you mean 'demo'?", "")
    assert usage.startswith("Set up telltales in ./.venv and run it")
    far = dev("zzz")
    assert far.stdout.startswith("dev.py: unknown command 'zzz'\n")


def test_no_command_prints_the_usage_alone() -> None:
    bare = dev()
    assert bare.returncode == 2
    assert bare.stdout.startswith("Set up telltales in ./.venv and run it")


def _dev_module() -> object:
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tests_spread_over_every_core_unless_told_how_many_workers() -> None:
    arguments = _dev_module().pytest_arguments  # type: ignore[attr-defined]
    spread = ["-n", "auto", "--dist", "loadfile"]
    assert arguments([]) == spread
    assert arguments(["-m", "not reliability"]) == [*spread, "-m", "not reliability"]
    for chosen in (["-n", "0", "-s"], ["-n0"], ["--numprocesses=3"], ["-x", "--numprocesses", "2"]):
        assert arguments(chosen) == chosen
    # A word that only starts like the option is not it.
    assert arguments(["--no-header"]) == [*spread, "--no-header"]
