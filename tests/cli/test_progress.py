"""Progress bars: on a terminal's standard error, for each long command, and nowhere else.

The commands run as a person runs them: the installed ``telltales`` in a process of
its own, its standard error a real pseudo-terminal, standard output a pipe.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

TELLTALES = Path(sys.executable).parent / "telltales"
ACCOUNTS = Path(__file__).parents[2] / "examples" / "data" / "accounts.json"

pytestmark = pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")


def on_a_terminal(*args: str | Path) -> tuple[int, str, str]:
    """Run ``telltales ARGS`` with standard error on a terminal: (code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    main, child = pty.openpty()
    try:
        with subprocess.Popen(
            [str(TELLTALES), *map(str, args)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=child,
            env=env,
        ) as process:
            os.close(child)
            seen = bytearray()
            while True:
                try:
                    block = os.read(main, 65536)
                except OSError:  # the terminal closes with the last process holding it
                    break
                if not block:
                    break
                seen += block
            out = process.stdout.read() if process.stdout else b""
            code = process.wait(timeout=60)
    finally:
        os.close(main)
    return code, out.decode(), seen.decode(errors="replace")


def test_ingest_shows_progress_on_a_terminal_and_keeps_stdout_for_its_answer(
    tmp_path: Path,
) -> None:
    db = tmp_path / "t.db"
    assert subprocess.run([TELLTALES, "--db", db, "init"], capture_output=True).returncode == 0
    code, out, err = on_a_terminal("--db", db, "ingest", "accounts", ACCOUNTS)
    assert code == 0, err
    assert out.startswith("Stored 6 record(s) through 'accounts'")
    assert "Ingesting accounts" in err
    assert "100%" in err


def test_ingest_shows_no_progress_off_a_terminal(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    assert subprocess.run([TELLTALES, "--db", db, "init"], capture_output=True).returncode == 0
    done = subprocess.run(
        [TELLTALES, "--db", db, "ingest", "accounts", ACCOUNTS], capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_run_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    assert subprocess.run([TELLTALES, "--db", db, "init"], capture_output=True).returncode == 0
    ingest = [TELLTALES, "--db", db, "ingest", "accounts", ACCOUNTS]
    assert subprocess.run(ingest, capture_output=True).returncode == 0
    code, out, err = on_a_terminal("--db", db, "run", "--as-of", "2026-11-20")
    assert code == 0, err
    assert out.startswith("Run 1 as of 2026-11-20")
    assert "Computing signals" in err
