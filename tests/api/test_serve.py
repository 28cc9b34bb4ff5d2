"""``telltales serve``: a real server process on 127.0.0.1, a key from the CLI, a clean stop."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.server import (
    Server,
    environment,
    free_port,
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
