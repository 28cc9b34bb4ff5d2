"""``telltales serve``: a real server process on 127.0.0.1, a key from the CLI, a clean stop."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.installed import BROKEN_ON_IMPORT, fake_install
from support.server import (
    Server,
    environment,
    free_port,
    other_program_listening,
    start_server,
    stop_server,
    telltales,
)
from telltales.cli import cli
from telltales.config import CONFIG_ENV
from telltales.store import DB_ENV


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "served.db"
    assert telltales("--db", path, "init").returncode == 0
    return path


@pytest.fixture
def serve(db: Path) -> Iterator[Server]:
    # One worker: granian 2.8 can hang on a SIGTERM that arrives while a second
    # worker is still starting (seen once here), and /readyz answers with the first.
    server = start_server(db, "--workers", "1", env=environment(OTEL_TRACES_EXPORTER="console"))
    yield server
    stop_server(server)


def test_serve_answers_with_a_cli_key_and_stops_on_sigterm(serve: Server, db: Path) -> None:
    token = telltales("--db", db, "keys", "create", "--scope", "read").stdout.strip()
    serve.wait_ready()
    headers = {"Authorization": f"Bearer {token}"}
    response = serve.http.get("/v1/plugins", headers=headers)
    assert response.status_code == 200
    assert response.json()["plugins"]
    assert serve.http.get("/v1/plugins").status_code == 401
    code, err = serve.stop()
    assert code == 0, err
    assert f"Serving telltales on {serve.url}" in err
    assert '"name": "GET /v1/plugins"' in err  # the worker's console exporter
    assert token not in err


@pytest.fixture
def restored_environment() -> Iterator[None]:
    """``serve`` passes the database and configuration to its workers in the environment."""
    saved = {name: os.environ.get(name) for name in (DB_ENV, CONFIG_ENV)}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.mark.usefixtures("restored_environment")
@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no-database", "Error: no telltales database at"),
        ("bad-config", "not valid TOML"),
        ("bad-exporter", "Error: OTEL_TRACES_EXPORTER='jaeger': use console, otlp or none"),
        ("bad-body-limit", "Error: TELLTALES_API_MAX_BODY='lots': give a number of bytes"),
    ],
)
def test_a_mistake_is_one_error_line_before_serving(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str, message: str
) -> None:
    """In process: the checks come before granian starts, so nothing listens if they fail."""
    args: list[str] = ["--db", str(db)]
    if setup == "no-database":
        args = ["--db", str(tmp_path / "missing.db")]
    elif setup == "bad-config":
        (tmp_path / "bad.toml").write_text("[rules\n")
        args += ["--config", str(tmp_path / "bad.toml")]
    elif setup == "bad-exporter":
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaeger")
    else:
        monkeypatch.setenv("TELLTALES_API_MAX_BODY", "lots")
    result = CliRunner().invoke(cli, [*args, "serve", "--port", str(free_port())])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("Error:") == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_port_another_program_holds_is_one_error_line_before_serving(db: Path) -> None:
    """Issue 16: granian printed a 36-line traceback after "Serving telltales on ..."."""
    with other_program_listening() as (port, holder):
        refused = telltales("--db", db, "serve", "--port", str(port), "--workers", "1")
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"Error: port {port} on 127.0.0.1 is in use by pid {holder.pid} (")
    assert line.endswith("): stop it, or choose another --port")


def test_a_port_another_telltales_serves_is_refused_and_keeps_its_traffic(
    serve: Server, db: Path, tmp_path: Path
) -> None:
    """Issue 16: a second server joined the first one's port (granian binds with
    SO_REUSEPORT) and the kernel split the first one's clients between two databases."""
    token = telltales("--db", db, "keys", "create", "--scope", "read").stdout.strip()
    serve.wait_ready()
    other = tmp_path / "other.db"
    assert telltales("--db", other, "init").returncode == 0
    port = int(serve.url.rpartition(":")[2])
    second = start_server(other, "--workers", "1", port=port)
    try:
        code = second.process.wait(timeout=30)
        _, err = second.process.communicate(timeout=30)
    finally:
        stop_server(second)
    assert code == 1
    assert err.splitlines() == [
        f"Error: port {port} on 127.0.0.1 is in use by telltales serve (pid "
        f"{serve.process.pid}, http://127.0.0.1:{port}, database {db.resolve()}): "
        "stop it, or choose another --port"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    answers = [serve.http.get("/v1/plugins", headers=headers).status_code for _ in range(12)]
    assert answers == [200] * 12


@pytest.mark.parametrize("change", ["gone", "replaced"])
def test_readyz_fails_once_its_database_file_is_gone_or_replaced(
    serve: Server, db: Path, tmp_path: Path, change: str
) -> None:
    """Issue 16: a demo rebuilt under a running server left it answering from the
    deleted file while /readyz said ok."""
    serve.wait_ready()
    assert serve.http.get("/readyz").status_code == 200
    if change == "gone":
        db.unlink()
    else:
        copy = tmp_path / "copy.db"
        with (
            contextlib.closing(sqlite3.connect(db)) as source,
            contextlib.closing(sqlite3.connect(copy)) as target,
        ):
            source.backup(target)
        os.replace(copy, db)
    answer = serve.http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["detail"] == (
        f"the database file {db.resolve()} is {change}: restart the server"
        if change == "gone"
        else f"the database file {db.resolve()} was replaced: restart the server"
    )


def test_the_probes_say_degraded_and_name_a_plugin_left_out(db: Path, tmp_path: Path) -> None:
    """Issue 16: /healthz said ok while a plugin was left out. Both probes keep their
    status code (restarting or unrouting the server fixes nothing) and say degraded;
    the plugin's error stays behind a key."""
    site = fake_install(tmp_path / "site", "acme", BROKEN_ON_IMPORT)
    server = start_server(db, "--workers", "1", env=environment(PYTHONPATH=str(site)))
    try:
        server.wait_ready()
        health = server.http.get("/healthz")
        ready = server.http.get("/readyz")
        token = telltales("--db", db, "keys", "create", "--scope", "read").stdout.strip()
        plugins = server.http.get("/v1/plugins", headers={"Authorization": f"Bearer {token}"})
    finally:
        stop_server(server)
    left_out = [{"plugin": "acme", "stage": "load"}]
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["plugins_left_out"] == left_out
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["plugins_left_out"] == left_out
    assert "vendor SDK missing" not in health.text + ready.text
    assert "RuntimeError: vendor SDK missing" in plugins.text
