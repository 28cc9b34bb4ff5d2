"""examples/vendor-plugin, installed with pip the way a user would, then removed again.

The plugin goes into a throw-away virtual environment layered over this one (its
site-packages are added through a .pth file), so installing and uninstalling it
never touches the environment the rest of the suite runs in.
"""

from __future__ import annotations

import os
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import EXAMPLE_ACCOUNTS

PLUGIN = Path(__file__).parent.parent / "examples" / "vendor-plugin"


class Child:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("TELLTALES_", "PYTHON"))
        }
        self.env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(a) for a in args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=cwd,
            timeout=300,
        )
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
        return result

    def telltales(self, *args: str | Path) -> str:
        return self.run(self.bin / "telltales", "--db", self.root / "t.db", *args).stdout


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> Child:
    root = tmp_path_factory.mktemp("vendor") / "venv"
    venv.EnvBuilder(with_pip=False).create(root)
    site = Path(sysconfig.get_paths(vars={"base": str(root), "platbase": str(root)})["purelib"])
    parent = sysconfig.get_paths()["purelib"]
    (site / "_telltales_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return Child(root)


def test_install_run_test_uninstall(child: Child) -> None:
    python = child.bin / "python"
    pip = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    # telltales itself, built as a wheel, gives the child its own `telltales` command;
    # its dependencies come from the parent environment.
    child.run(*pip, PLUGIN.parent.parent)
    child.run(*pip, PLUGIN)
    assert "acme_nps (0.1.0)" in child.telltales("plugins")

    child.telltales("init")
    child.telltales("ingest", "accounts", EXAMPLE_ACCOUNTS)
    child.telltales("ingest", "acme_nps.responses", PLUGIN / "answers.json")
    child.telltales("run", "--as-of", "2026-11-20")
    shown = child.telltales("signals", "ferrum")
    assert "acme_nps.nps" in shown
    assert "NPS -75 from 4 responses" in shown

    tests = child.run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=PLUGIN)
    assert " passed" in tests.stdout
    assert "failed" not in tests.stdout

    child.run(python, "-m", "pip", "uninstall", "--yes", "--quiet", "telltales-acme-nps")
    assert "acme_nps" not in child.telltales("plugins")
    child.telltales("run", "--as-of", "2026-11-20")
    assert "acme_nps.nps" not in child.telltales("signals", "ferrum")
