#!/usr/bin/env python3
"""Set up telltales in ./.venv and run it: the README's two commands.

    python3 dev.py demo    build the demo book of business, show what is at risk, serve the API
    python3 dev.py test    run every test: core, API, plugins and examples
    python3 dev.py bench   the speed benchmarks (benchmarks/README.md); --quick for a tenth
    python3 dev.py lock    update uv.lock after a pyproject.toml changed (arguments go to uv lock)
    python3 dev.py vendor  fetch the front-end packages listed in assets.json (needs npm)

Only the standard library is used here, so it runs on a fresh Python 3.11+. .venv
holds exactly the versions in uv.lock, installed by uv (a pinned release, which pip
puts into .telltales/uv on first use unless that release is on PATH): the core
and every plugin for demo and bench, plus the dev dependency group for test. It is
synced again only when uv.lock, a pyproject.toml, the Python or the uv release
changes; extra arguments after the command go to the command
(``python3 dev.py test -k store``).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SCRIPTS = "Scripts" if os.name == "nt" else "bin"
EXE = ".exe" if os.name == "nt" else ""
VENV = ROOT / ".venv"
BIN = VENV / SCRIPTS
STAMP = VENV / ".telltales-synced"
DEMO_DB = ROOT / ".telltales" / "demo.db"
LOCK = ROOT / "uv.lock"

# The uv release that installs uv.lock, and wrote it: the same one everywhere, so CI
# and every checkout read the lock alike. Bump it here and in uv.lock together.
UV_VERSION = "0.13.10"
UV_HOME = ROOT / ".telltales" / "uv"
UV_BOOTSTRAPPED = UV_HOME / SCRIPTS / f"uv{EXE}"


def say(message: str) -> None:
    print(f"dev.py: {message}", flush=True)


def plugin_dirs() -> list[Path]:
    """Every distribution under plugins/ (each has its own pyproject.toml)."""
    return sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))


def uv_version(command: str | Path) -> str | None:
    try:
        out = subprocess.run([command, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    words = out.stdout.split()  # "uv 0.13.10 (...)"
    return words[1] if len(words) > 1 and words[0] == "uv" else None


def find_uv() -> Path:
    """uv at UV_VERSION: the copy in .telltales/uv, else one on PATH, else installed now."""
    marker = UV_HOME / ".uv-version"
    if UV_BOOTSTRAPPED.exists() and marker.exists() and marker.read_text() == UV_VERSION:
        return UV_BOOTSTRAPPED
    on_path = shutil.which("uv")
    if on_path and uv_version(on_path) == UV_VERSION:
        return Path(on_path)
    say(f"getting uv {UV_VERSION} into {UV_HOME.relative_to(ROOT)} with pip (once) ...")
    shutil.rmtree(UV_HOME, ignore_errors=True)
    has_pip = [sys.executable, "-m", "pip", "--version"]
    if subprocess.run(has_pip, capture_output=True).returncode == 0:
        # Into a plain folder: no environment to create, and this Python is left as it is.
        pip = [sys.executable, "-m", "pip", "install", "--target", UV_HOME]
    else:  # a Python without pip: a virtual environment brings one (ensurepip)
        venv.EnvBuilder(with_pip=True).create(UV_HOME)
        pip = [UV_HOME / SCRIPTS / f"python{EXE}", "-m", "pip", "install"]
    quiet = ["--disable-pip-version-check", "--quiet"]
    env = {**os.environ, "PIP_USER": "0", "PIP_REQUIRE_VIRTUALENV": "0"}
    subprocess.run([*pip, *quiet, f"uv=={UV_VERSION}"], check=True, env=env)
    marker.write_text(UV_VERSION)
    return UV_BOOTSTRAPPED


def uv_env() -> dict[str, str]:
    """uv works on .venv with this Python; it never downloads a Python of its own."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PROJECT_ENVIRONMENT"] = str(VENV)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    # Trust the system's certificate store, as pip does where a proxy re-signs traffic.
    env.setdefault("UV_SYSTEM_CERTS", "1")
    return env


def run_uv(uv: Path, *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    command = [uv, *args, "--python", sys.executable]
    return subprocess.run(command, cwd=ROOT, env=uv_env())


def wanted_state() -> str:
    """What .venv was synced from: uv.lock, every pyproject.toml, this Python, uv's release."""
    manifests = [LOCK, ROOT / "pyproject.toml", *(d / "pyproject.toml" for d in plugin_dirs())]
    digest = hashlib.sha256(f"{sys.executable}\n{sys.version}\nuv {UV_VERSION}\n".encode())
    for manifest in manifests:
        digest.update(str(manifest.relative_to(ROOT)).encode() + manifest.read_bytes())
    return digest.hexdigest()


def ensure_environment(dev: bool = False) -> None:
    """Sync .venv to uv.lock: the core and every plugin, and the dev group if ``dev``."""
    if not LOCK.exists():
        sys.exit("uv.lock is missing: run `python3 dev.py lock` to create it")
    wanted = wanted_state()
    synced = STAMP.read_text().split() if STAMP.exists() else []
    current = (BIN / f"python{EXE}").exists() and synced[:1] == [wanted]
    if current and (not dev or synced[1:] == ["dev"]):
        return  # test's environment has everything demo's has
    uv = find_uv()
    plugins = len(plugin_dirs())
    what = "plus the dev tools " if dev else ""
    say(
        f"installing telltales and its {plugins} plugins {what}into .venv, "
        f"exactly as uv.lock pins them (uv sync) ..."
    )
    groups = ["--group", "dev"] if dev else []
    synced_now = run_uv(
        uv,
        "sync",
        "--locked",
        "--all-packages",
        "--extra",
        "fit",
        "--extra",
        "plots",
        "--no-default-groups",
        *groups,
    )
    if synced_now.returncode != 0:
        say(
            "uv sync failed. If it says uv.lock needs to be updated, a pyproject.toml "
            "changed: run `python3 dev.py lock` and commit uv.lock with it."
        )
        raise subprocess.CalledProcessError(synced_now.returncode, "uv sync")
    STAMP.write_text(f"{wanted} {'dev' if dev else 'runtime'}\n")


def demo(args: list[str]) -> int:
    """``telltales demo`` on .telltales/demo.db (rebuilt each time); extra arguments go to it."""
    ensure_environment()
    DEMO_DB.parent.mkdir(exist_ok=True)
    command = [BIN / "telltales", "--db", DEMO_DB.relative_to(ROOT), "demo", "--replace", *args]
    return subprocess.run(command, cwd=ROOT).returncode


def pytest_arguments(args: list[str]) -> list[str]:
    """What ``test`` gives pytest: ``args``, spread over every core unless they say ``-n``.

    pytest-xdist runs a file per worker at a time, so each file's module fixtures are
    built once; ``-n 0`` keeps every test in this process, as ``-s`` or ``--pdb`` need.
    """
    chosen = any(
        a in ("-n", "--numprocesses") or a.startswith(("-n", "--numprocesses=")) for a in args
    )
    return args if chosen else ["-n", "auto", "--dist", "loadfile", *args]


def test(args: list[str]) -> int:
    """pytest over tests/ and plugins/*/tests; examples are installed and run by tests/."""
    ensure_environment(dev=True)
    command = [BIN / "python", "-m", "pytest", *pytest_arguments(args)]
    return subprocess.run(command, cwd=ROOT).returncode


def bench(args: list[str]) -> int:
    """benchmarks/run.py: ratios against raw sqlite3 measured in the same run."""
    ensure_environment()
    return subprocess.run([BIN / "python", ROOT / "benchmarks" / "run.py", *args]).returncode


def lock(args: list[str]) -> int:
    """``uv lock`` with the pinned uv: after a dependency in a pyproject.toml changed."""
    return run_uv(find_uv(), "lock", *args).returncode


VENDOR = ROOT / "api" / "telltales_api" / "static" / "vendor"


def vendor(args: list[str]) -> int:
    """Fetch each package of assets.json with ``npm pack``, check its integrity (the
    registry's sha512) and copy the listed files, licences included, into
    static/vendor/NAME. The files are committed: nothing is fetched at run time."""
    import base64
    import json
    import tarfile
    import tempfile

    listed = json.loads((VENDOR / "assets.json").read_text())["packages"]
    for package in listed:
        spec = f"{package['name']}@{package['version']}"
        with tempfile.TemporaryDirectory() as folder:
            say(f"fetching {spec} ...")
            packed = subprocess.run(
                ["npm", "pack", spec, "--silent"], cwd=folder, capture_output=True, text=True
            )
            if packed.returncode != 0:
                print(packed.stderr, file=sys.stderr)
                return packed.returncode
            tarball = Path(folder) / packed.stdout.strip().splitlines()[-1]
            digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
            if f"sha512-{digest}" != package["integrity"]:
                print(f"{spec}: integrity sha512-{digest} is not the one listed", file=sys.stderr)
                return 1
            target = VENDOR / package["name"]
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            with tarfile.open(tarball) as archive:
                for name in package["files"]:
                    member = archive.extractfile(f"package/{name}")
                    if member is None:
                        print(f"{spec}: no file {name}", file=sys.stderr)
                        return 1
                    (target / name).write_bytes(member.read())
    return 0


COMMANDS = {"demo": demo, "test": test, "bench": bench, "lock": lock, "vendor": vendor}


def _closest(name: str) -> str:
    """``; did you mean 'demo'?`` for a near miss, else nothing."""
    found = difflib.get_close_matches(name, COMMANDS, n=1)
    return f"; did you mean {found[0]!r}?" if found else ""


def main() -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py must explain, not crash, on old Pythons
        sys.exit(f"telltales needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        if len(sys.argv) >= 2:  # a typo (`dmeo`) is said as such, not only answered with usage
            print(f"dev.py: unknown command {sys.argv[1]!r}{_closest(sys.argv[1])}\n")
        print(__doc__.strip())
        return 2
    try:
        return COMMANDS[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as error:
        return error.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
