"""``dev.py``: the README's entry point says what it did not understand."""

from __future__ import annotations

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
