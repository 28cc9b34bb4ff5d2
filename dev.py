#!/usr/bin/env python3
"""Set up telltales in ./.venv and run it: the README's two commands.

    python3 dev.py demo    build the demo book of business, show what is at risk, serve the API
    python3 dev.py test    run every test: core, API, plugins and examples
    python3 dev.py bench   the speed benchmarks (benchmarks/README.md); --quick for a tenth

Only the standard library is used here, so it runs on a fresh Python 3.11+. The
virtual environment is (re)installed when a pyproject.toml changes; extra arguments
after the command go to the command (``python3 dev.py test -k store``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".telltales-installed"
DEMO_DB = ROOT / ".telltales" / "demo.db"


def plugin_dirs() -> list[Path]:
    """Every distribution under plugins/ (each has its own pyproject.toml)."""
    return sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def ensure_environment() -> None:
    """Create .venv and install telltales, its dev tools and every plugin, if needed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py must explain, not crash, on old Pythons
        sys.exit(f"telltales needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    manifests = [ROOT / "pyproject.toml", *(d / "pyproject.toml" for d in plugin_dirs())]
    digest = hashlib.sha256(sys.version.encode())
    for manifest in manifests:
        digest.update(str(manifest.relative_to(ROOT)).encode() + manifest.read_bytes())
    wanted = digest.hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("Creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing telltales and its plugins into .venv ...", flush=True)
    editable = ["-e", f"{ROOT}[dev]"]
    for directory in plugin_dirs():
        editable += ["-e", str(directory)]
    quiet = [] if os.environ.get("TELLTALES_VERBOSE_INSTALL") else ["--quiet"]
    subprocess.run(
        [BIN / "python", "-m", "pip", "install", "--disable-pip-version-check", *quiet, *editable],
        check=True,
    )
    STAMP.write_text(wanted)


def demo(args: list[str]) -> int:
    """``telltales demo`` on .telltales/demo.db (rebuilt each time); extra arguments go to it."""
    DEMO_DB.parent.mkdir(exist_ok=True)
    command = [BIN / "telltales", "--db", DEMO_DB.relative_to(ROOT), "demo", "--replace", *args]
    return subprocess.run(command, cwd=ROOT).returncode


def test(args: list[str]) -> int:
    """pytest over tests/ and plugins/*/tests; examples are installed and run by tests/."""
    return subprocess.run([BIN / "python", "-m", "pytest", *args], cwd=ROOT).returncode


def bench(args: list[str]) -> int:
    """benchmarks/run.py: ratios against raw sqlite3 measured in the same run."""
    return subprocess.run([BIN / "python", ROOT / "benchmarks" / "run.py", *args]).returncode


COMMANDS = {"demo": demo, "test": test, "bench": bench}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__.strip())
        return 2
    try:
        ensure_environment()
        return COMMANDS[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as error:
        return error.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
