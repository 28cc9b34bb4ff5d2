#!/usr/bin/env python3
"""Set up telltales in ./.venv and run it: the README's two commands.

    python3 dev.py demo    build the example database and show every account's signals
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
DEMO_DB = ROOT / ".telltales" / "example.db"
DEMO_CONFIG = ROOT / "examples" / "telltales.toml"
EXAMPLE_DAY = "2026-11-20"


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


def telltales(*args: str) -> None:
    env = {**os.environ, "TELLTALES_DB": str(DEMO_DB), "TELLTALES_CONFIG": str(DEMO_CONFIG)}
    subprocess.run([BIN / "telltales", *args], check=True, env=env)


def example_files() -> list[tuple[str, Path]]:
    """examples/data/<ingester>.json(l): accounts first, then every plugin's records."""
    data = ROOT / "examples" / "data"
    files = sorted(p for p in data.iterdir() if p.suffix in (".json", ".jsonl"))
    named = [(p.name.removesuffix(p.suffix), p) for p in files]
    return sorted(named, key=lambda item: item[0] != "accounts")


def demo(args: list[str]) -> int:
    """For now: the example book of business with a pilot, one run, signals, scores and tasks."""
    DEMO_DB.parent.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DEMO_DB}{suffix}").unlink(missing_ok=True)
    telltales("init")
    for ingester, path in example_files():
        telltales("ingest", ingester, str(path))
    telltales(
        "pilots", "create", "apac-pilot", "--group", "apac-midmarket",
        "--rule", "core_feature_drop", "--rule", "sponsor_left", "--rule", "score_red",
        "--playbook", "at_risk_response", "--starts-on", "2026-11-01",
        "--description", "At-Risk playbook for the APAC mid-market team",
        "--by", "ops@vendor.example",
    )  # fmt: skip
    telltales("run", "--as-of", EXAMPLE_DAY)
    telltales("signals", "--all", *args)
    telltales("score", "ferrum")
    print("\nStatuses, and the transitions that set them:")
    for account in ("ferrum", "bluepeak"):
        telltales("status", account, "--as-of", EXAMPLE_DAY)
    print("\nOpen tasks (the pilot's group only; other groups ran in shadow mode):")
    telltales("tasks", "list")
    print("\nThe outbox (`telltales worker` delivers what is pending):")
    telltales("outbox", "list")
    db = DEMO_DB.relative_to(ROOT)
    config = DEMO_CONFIG.relative_to(ROOT)
    print(
        f"\nThe database is {db}, the configuration {config}; try: "
        f"TELLTALES_DB={db} TELLTALES_CONFIG={config} .venv/bin/telltales tasks show 1"
    )
    return 0


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
