"""examples/vendor-plugin, installed with pip the way a user would, then removed again.

The plugin goes into a throw-away virtual environment layered over this one (its
site-packages are added through a .pth file), so installing and uninstalling it
never touches the environment the rest of the suite runs in. The tests share that
environment and run in file order: install (the fixture), the plugin's own tests,
try.sh and the action it sets up, the plugin refusing an older plugin API, uninstall
(on the database try.sh built).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
import threading
import venv
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
PLUGIN = ROOT / "examples" / "vendor-plugin"


class Child:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("TELLTALES_", "PYTHON"))
        }
        self.env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def run(
        self, *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(a) for a in args],
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            cwd=cwd,
            timeout=300,
        )
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
        return result

    @property
    def db(self) -> Path:
        return self.root / "acme-nps.db"

    def telltales(self, *args: str | Path, **env: str) -> str:
        return self.run(self.bin / "telltales", "--db", self.db, *args, env=env).stdout


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> Child:
    root = tmp_path_factory.mktemp("vendor") / "venv"
    venv.EnvBuilder(with_pip=False).create(root)
    site = Path(sysconfig.get_paths(vars={"base": str(root), "platbase": str(root)})["purelib"])
    parent = sysconfig.get_paths()["purelib"]
    (site / "_telltales_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    child = Child(root)
    pip: list[str | Path] = [child.bin / "python", "-m", "pip", "install", "--quiet"]
    # telltales itself, built as a wheel, gives the child its own `telltales` command;
    # its dependencies come from the parent environment.
    child.run(*pip, "--no-deps", "--no-build-isolation", ROOT)
    child.run(*pip, "--no-deps", "--no-build-isolation", PLUGIN)
    return child


def test_its_own_tests_pass_where_it_is_installed(child: Child) -> None:
    tests = child.run(
        child.bin / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=PLUGIN
    )
    assert " passed" in tests.stdout
    assert "failed" not in tests.stdout


class AcmeStandIn:
    """Acme's API on 127.0.0.1: records each POST, answers 202."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append((dict(self.headers), body))
                self.send_response(202)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/pulses"


@pytest.fixture
def acme() -> Iterator[AcmeStandIn]:
    stand_in = AcmeStandIn()
    thread = threading.Thread(target=stand_in.server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()
    thread.join()


def test_try_sh_then_a_csm_approves_the_survey_and_the_worker_sends_it(
    child: Child, acme: AcmeStandIn, tmp_path: Path
) -> None:
    # The example configuration as shipped, with Acme's API at the stand-in.
    shipped = (PLUGIN / "telltales.toml").read_text()
    config = tmp_path / "telltales.toml"
    config.write_text(shipped.replace("https://api.acme-surveys.example/v1/pulses", acme.url))
    assert config.read_text() != shipped
    path = os.pathsep.join([str(child.bin), child.env["PATH"]])
    tried = child.run(
        PLUGIN / "try.sh", child.db, env={"PATH": path, "TELLTALES_CONFIG": str(config)}
    )
    out = tried.stdout
    assert "acme_nps (0.1.0)" in out
    assert "Stored 7 record(s) through 'acme_nps.responses'" in out
    # ferrum: 4 answers in the 90 days, 0 promoters, 3 detractors (4, 5, 2): -75.
    assert "acme_nps.nps" in out
    assert "NPS -75 from 4 responses" in out
    # Its signal entered ferrum into Concern; the playbook gave the owner a task, and
    # the survey, which reaches the customer, waits for approval: nothing is sent.
    assert "ferrum: none -> Concern (rules: nps_detractors)" in out
    assert "Call the detractors" in out

    def telltales(*args: str | Path) -> str:
        env = {"ACME_SURVEYS_TOKEN": "secret-token", "NO_PROXY": "127.0.0.1"}
        return child.telltales("--config", config, *args, **env)

    tasks = {task["kind"]: task for task in json.loads(telltales("tasks", "list", "--json"))}
    assert tasks["approval"]["account_id"] == "ferrum"
    telltales("worker", "--once")
    assert acme.received == []

    telltales("tasks", "approve", str(tasks["approval"]["task_id"]), "--by", "li.chen")
    telltales("worker", "--once")

    [(headers, body)] = acme.received
    assert headers["Authorization"] == "Bearer secret-token"
    assert body == {
        "account_id": "ferrum",
        "account_name": "Ferrum Manufacturing",
        "survey": "nps-pulse",
        "reason": "nps_detractors",
    }
    outbox = {d["action"]: d for d in json.loads(telltales("outbox", "list", "--json"))}
    delivery = outbox["acme_nps.pulse_survey"]
    assert (delivery["status"], delivery["detail"]) == ("delivered", "nps-pulse sent, HTTP 202")
    assert delivery["idempotency_key"] == headers["Idempotency-Key"]


def test_on_an_older_plugin_api_it_is_left_out_and_says_why(child: Child) -> None:
    # The child's own copy of telltales, made to offer plugin API 1.2 for this test.
    where = child.run(
        child.bin / "python", "-c", "import telltales.version as v; print(v.__file__)"
    )
    version = Path(where.stdout.strip())
    shipped = version.read_text()
    older = re.sub(r'PLUGIN_API_VERSION = "[0-9.]+"', 'PLUGIN_API_VERSION = "1.2"', shipped)
    assert older != shipped
    version.write_text(older)
    try:
        # No bytecode of the edited file: after the restore, the shipped text is read.
        listed = child.telltales("plugins", PYTHONDONTWRITEBYTECODE="1")
    finally:
        version.write_text(shipped)
    assert "telltales 0.1.0, plugin API 1.2" in listed
    assert "acme_nps (FAILED at load, " in listed
    assert (
        "error: ImportError: telltales-acme-nps needs plugin API 1.3 or a later 1.x; "
        "this telltales offers 1.2"
    ) in listed
    assert "telemetry (0.1.0)" in listed
    assert "acme_nps (0.1.0)" in child.telltales("plugins")


def test_uninstalled_it_is_gone(child: Child) -> None:
    # On the database try.sh built: the plugin's table stays, its signal goes.
    child.run(
        child.bin / "python", "-m", "pip", "uninstall", "--yes", "--quiet", "telltales-acme-nps"
    )
    assert "acme_nps" not in child.telltales("plugins")
    child.telltales("run", "--as-of", "2026-11-20")
    assert "acme_nps.nps" not in child.telltales("signals", "ferrum")


def test_the_readme_shows_its_sources() -> None:
    spec = importlib.util.spec_from_file_location("docs_snippets", ROOT / "docs" / "snippets.py")
    assert spec is not None
    assert spec.loader is not None
    snippets = importlib.util.module_from_spec(spec)
    sys.modules["docs_snippets"] = snippets
    spec.loader.exec_module(snippets)
    problems, _ = snippets.check_document(PLUGIN / "README.md", ROOT, snippets.Sources(ROOT))
    assert not problems, "\n".join(str(problem) for problem in problems)
