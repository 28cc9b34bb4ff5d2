"""Each plugin under plugins/ installs alone, is listed by `telltales plugins`, and works alone.

For every plugins/<name>/ with a pyproject.toml, telltales and that one plugin are
installed from wheels (not editable) into a throw-away virtual environment. The
environment borrows the third-party packages of the one the suite runs in through a
filtered view of its site-packages: symlinks to every entry except those belonging to
telltales or to any plugin of it (this environment holds editable installs of all of
them, whose .pth files would make every plugin visible). The real `telltales`
command of the child then has to list exactly the core's built-ins plus the plugin,
and a run over the example data has to be ok and carry the plugin's signals (a plugin
with no signal source, only actions or CRM adapters, is checked by its listing).

Everything is built and installed offline: `pip wheel` / `pip install --no-index`
with the build backend taken from this environment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_ACCOUNTS

ROOT = Path(__file__).parents[2]
PLUGINS = ROOT / "plugins"
EXAMPLES = ROOT / "examples" / "data"
AS_OF = "2026-11-20"
NAMES = sorted(path.name for path in PLUGINS.iterdir() if (path / "pyproject.toml").is_file())
PARENT_PYTHON = Path(sys.executable)
PARENT_TELLTALES = PARENT_PYTHON.parent / "telltales"

# Printed by the child interpreter: where telltales comes from and what it can see.
PROBE = """\
import importlib.metadata as m, json, telltales
print(json.dumps({
    "module": telltales.__file__,
    "distributions": sorted(
        d.metadata["Name"] for d in m.distributions() if "telltales" in d.metadata["Name"].lower()
    ),
    "entry_points": sorted(ep.name for ep in m.entry_points(group="telltales")),
}))
"""


def clean_env() -> dict[str, str]:
    """The environment without telltales, Python, pip or virtualenv settings of the caller."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TELLTALES_", "PYTHON", "PIP_")) and key != "VIRTUAL_ENV"
    }
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def describe(args: tuple[str, ...], result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"$ {' '.join(args)}\nexit status {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def run(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = tuple(str(arg) for arg in args)
    result = subprocess.run(
        command, capture_output=True, text=True, env=clean_env(), cwd=cwd, timeout=timeout
    )
    assert result.returncode == 0, describe(command, result)
    return result


def normalize(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


def belongs_to_telltales(site: Path) -> set[str]:
    """Top-level names in ``site`` owned by telltales or by a distribution plugging into it."""
    owned: set[str] = set()
    for dist in metadata.distributions(path=[str(site)]):
        project = normalize(dist.metadata["Name"] or "")
        is_plugin = any(ep.group == "telltales" for ep in dist.entry_points)
        if project == "telltales" or project.startswith("telltales-") or is_plugin:
            owned.update(file.parts[0] for file in dist.files or [] if file.parts[0] != "..")
    return owned


def wheel(source: Path, into: Path) -> Path:
    """Builds the project at ``source`` into a wheel in ``into``, offline."""
    into.mkdir(parents=True, exist_ok=True)
    before = set(into.glob("*.whl"))
    run(
        PARENT_PYTHON,
        *("-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"),
        *("--wheel-dir", into, source),
        cwd=into,
    )
    built = set(into.glob("*.whl")) - before
    assert len(built) == 1, f"expected one new wheel from {source} in {into}, got {built}"
    return built.pop()


@pytest.fixture(scope="session")
def parent_view(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This environment's site-packages as symlinks, minus telltales and all its plugins."""
    view = tmp_path_factory.mktemp("parent-site-view")
    paths = sysconfig.get_paths()
    for site in dict.fromkeys(Path(paths[key]) for key in ("purelib", "platlib")):
        owned = belongs_to_telltales(site)
        for entry in sorted(site.iterdir()):
            name = entry.name
            if name in owned or "telltales" in name.lower() or name == "__pycache__":
                continue
            if not os.path.lexists(view / name):
                (view / name).symlink_to(entry)
    return view


@pytest.fixture(scope="session")
def telltales_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheel(ROOT, tmp_path_factory.mktemp("telltales-wheel"))


@pytest.fixture(scope="session")
def full_listing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`telltales plugins --json` in this environment, where every plugin is installed."""
    cwd = tmp_path_factory.mktemp("full-listing")
    listing: dict[str, Any] = json.loads(
        run(PARENT_TELLTALES, "plugins", "--json", cwd=cwd, timeout=120).stdout
    )
    return listing


class Child:
    """A throw-away virtual environment seeing ``view`` and whatever is installed into it."""

    def __init__(self, root: Path, view: Path) -> None:
        self.root = root
        self.work = root.parent
        venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
        site = Path(sysconfig.get_paths(vars={"base": str(root), "platbase": str(root)})["purelib"])
        (site / "_parent_view.pth").write_text(f"import site; site.addsitedir({str(view)!r})\n")
        self.python = root / "bin" / "python"
        self.db = self.work / "t.db"

    def install(self, *wheels: Path) -> None:
        pip = (PARENT_PYTHON, "-m", "pip", "--python", self.python)
        run(*pip, "install", "--quiet", "--no-deps", "--no-index", *wheels, cwd=self.work)

    def telltales(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        command = self.root / "bin" / "telltales"
        return run(command, "--db", self.db, *args, cwd=self.work, timeout=120)


def example_files(ingester: str) -> list[Path]:
    return [
        EXAMPLES / f"{ingester}{suffix}"
        for suffix in (".json", ".jsonl")
        if (EXAMPLES / f"{ingester}{suffix}").is_file()
    ]


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_plugin_installs_and_runs_alone(
    name: str,
    tmp_path: Path,
    parent_view: Path,
    telltales_wheel: Path,
    full_listing: dict[str, Any],
) -> None:
    project = tomllib.loads((PLUGINS / name / "pyproject.toml").read_text())["project"]
    entry_points = project.get("entry-points", {}).get("telltales", {})
    assert len(entry_points) == 1, f"plugins/{name}: telltales entry points {entry_points}"
    (plugin,) = entry_points

    child = Child(tmp_path / "venv", parent_view)
    child.install(telltales_wheel, wheel(PLUGINS / name, tmp_path / "wheels"))

    # Only the fresh telltales and this one plugin are visible to the child.
    seen = json.loads(run(child.python, "-c", PROBE, cwd=tmp_path, timeout=120).stdout)
    assert Path(seen["module"]).is_relative_to(child.root), seen
    assert sorted(map(normalize, seen["distributions"])) == sorted(
        ["telltales", normalize(project["name"])]
    ), seen
    assert seen["entry_points"] == [plugin], seen

    # `telltales plugins`: the core's built-ins plus this plugin, registering what it
    # registers when every plugin is installed, and nothing failed.
    listed = child.telltales("plugins", "--json")
    listing = json.loads(listed.stdout)
    shown = f"\n{listed.stdout}\n{listed.stderr}"
    assert listing["failures"] == [], shown
    builtins = [entry for entry in full_listing["plugins"] if entry["builtin"]]
    assert [entry for entry in listing["plugins"] if entry["builtin"]] == builtins, shown
    added = [entry for entry in listing["plugins"] if not entry["builtin"]]
    assert [entry["name"] for entry in added] == [plugin], shown
    entry = added[0]
    assert entry["version"] == project["version"] == "0.1.0", shown
    everywhere = [e for e in full_listing["plugins"] if e["name"] == plugin]
    assert len(everywhere) == 1, f"{plugin} is not installed in {sys.prefix}: {full_listing}"
    assert entry["registered"] == everywhere[0]["registered"], shown
    registered = entry["registered"]
    if not registered.get("sources"):
        # A delivery plugin (playbook actions, CRM adapters) has no data to run over:
        # being listed, alone, with what it registers is its whole check.
        assert registered.get("actions") or registered.get("crm_adapters"), (
            f"{plugin} registers no sources, actions or CRM adapters{shown}"
        )
        return
    for kind in ("sources", "ingesters", "migrations"):
        assert registered.get(kind), f"{plugin} registers no {kind}{shown}"

    # A run over the example data with only this plugin.
    created = child.telltales("init").stdout
    for migration in registered["migrations"]:
        assert migration in created, created
    child.telltales("ingest", "accounts", EXAMPLE_ACCOUNTS)
    without_examples = []
    for ingester in registered["ingesters"]:
        files = example_files(ingester)
        if not files:
            without_examples.append(ingester)
        for file in files:
            child.telltales("ingest", ingester, file)
    ran = child.telltales("run", "--as-of", AS_OF)
    status = re.search(rf"^Run \d+ as of {AS_OF}: (\w+),", ran.stdout, re.MULTILINE)
    assert status is not None, f"\n{ran.stdout}\n{ran.stderr}"
    assert status.group(1) == "ok", f"\n{ran.stdout}\n{ran.stderr}"
    assert "degraded" not in ran.stdout + ran.stderr, f"\n{ran.stdout}\n{ran.stderr}"

    accounts = json.loads(child.telltales("signals", "--all", "--json").stdout)
    keys = sorted({signal["key"] for account in accounts for signal in account["signals"]})
    assert any(key.startswith(f"{plugin}.") for key in keys), (
        f"no {plugin}.* signal after the run; ingesters without an example file in "
        f"{EXAMPLES.relative_to(ROOT)}: {without_examples}; signal keys: {keys}"
    )
