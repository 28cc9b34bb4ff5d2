"""OWASP API8 (security misconfiguration): keys and secrets never logged, traced or shown.

A real ``telltales serve`` runs with console span export on, the SMTP password and the
webhook signing secret in its environment and a webhook URL that carries a token; it
is asked everything the API answers (every read operation of its schema, a run, a key
created, listed and revoked, refused keys, invalid requests). Then ``telltales worker``
delivers the run's webhook and email (the SMTP receiver does not offer the login the
configuration asks for, so that attempt fails with the password in hand), and the
CLI's listing commands run. Neither the server's nor the worker's standard output or
error, nor any answer or CLI output, may hold an API token, the SMTP password, the
webhook secret or the URL's token; a key's token is in the answer that created it and
nowhere else. In process: the spans of every operation, and the logging litestar
sets up (httpx logs every request's URL at INFO).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from support.api import ApiHarness, api_settings
from support.api_example import build_example
from support.outbox_receivers import SECRET, HttpReceiver, SmtpReceiver
from support.security_routes import B_ACCOUNTS, DAY, operations
from support.server import Server, environment, start_server, stop_server, telltales
from telltales.testing import ApiClient
from telltales_api import create_app
from telltales_api.app import QUIET_LOGGERS
from telltales_notify.http_delivery import post_json

pytestmark = pytest.mark.reliability

SMTP_PASSWORD = "smtp-pa55word-never-shown"
URL_TOKEN = "hooktoken0123456789abcdef"
CONFIG = """\
[actions.email]
host = "127.0.0.1"
port = {smtp_port}
sender = "telltales@vendor.example"
username = "alerts@vendor.example"
password_env = "TT_SMTP_PASSWORD"
timeout_seconds = 5
internal_domains = ["vendor.example"]

[actions.webhook]
secret_env = "TT_WEBHOOK_SECRET"
timeout_seconds = 5

# One day of the example data: the drop rule that fires the first day it holds
# (support.book.ONE_DAY_DROP), so two accounts enter At-Risk.
[rules.core_feature_drop]
description = "Active users of a core feature down more than 30% over 14 days"
status = "at_risk"
severity = "high"
cooldown_days = 30
conditions = [{{ signal = "telemetry.core_feature_drop_14d", below = -0.30 }}]

[playbooks.at_risk_response]
on_enter = "at_risk"
steps = [
  {{ action = "task", due_business_days = 3 }},
  {{ action = "webhook", url = "{webhook_url}?token={token}" }},
  {{ action = "email", to = ["cs-leads@vendor.example"] }},
]
"""
PILOT = {
    "pilot_id": "secrets",
    "csm_groups": ["apac-midmarket", "na-enterprise"],
    "rules": ["core_feature_drop", "sponsor_left"],
    "playbooks": ["at_risk_response"],
    "starts_on": "2026-11-01",
}


@dataclass
class Session:
    """What the server, the worker and the CLI printed, and what the API answered."""

    tokens: list[str] = field(default_factory=list)
    """Every token used or made, with its secret part (after the last ``_``)."""
    created: str = ""
    """The answer that created a key over the API: the one place its token may appear."""
    answers: list[str] = field(default_factory=list)
    server_output: str = ""
    worker_output: str = ""
    cli_output: str = ""
    webhooks: int = 0

    def secrets(self) -> list[str]:
        parts = [token.split("_", 2)[2] for token in self.tokens]  # tt_<key id>_<secret>
        return [*self.tokens, *parts, SMTP_PASSWORD, SECRET, URL_TOKEN]


class Drain:
    """Reads a server's output as it comes: console spans would fill a pipe and stall it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.chunks: list[str] = []
        streams = (server.process.stdout, server.process.stderr)
        self.threads = [
            threading.Thread(target=self._read, args=(stream,), daemon=True) for stream in streams
        ]
        for thread in self.threads:
            thread.start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self.chunks.append(line)

    def stop(self) -> str:
        """SIGTERM, then everything the server printed."""
        self.server.http.close()
        self.server.process.send_signal(signal.SIGTERM)
        self.server.process.wait(timeout=60)
        for thread in self.threads:
            thread.join(timeout=60)
        for stream in (self.server.process.stdout, self.server.process.stderr):
            if stream is not None:
                stream.close()
        return "".join(self.chunks)


def _exercise(server: Server, session: Session, admin: str) -> None:
    http = server.http
    bearer = {"Authorization": f"Bearer {admin}"}

    def call(method: str, path: str, **options: Any) -> Any:
        response = http.request(method, path, **options)
        assert response.status_code < 500, f"{method} {path}: {response.text}"
        session.answers.append(response.text)
        return response

    assert call("POST", "/v1/pilots", json=PILOT, headers=bearer).status_code == 201
    assert (
        call("POST", "/v1/runs", json={"as_of": DAY.isoformat()}, headers=bearer).status_code == 201
    )
    created = http.post("/v1/keys", json={"scopes": ["read"], "name": "bot"}, headers=bearer)
    assert created.status_code == 201
    session.created = created.text
    new_token = created.json()["token"]
    session.tokens.append(new_token)
    reader = {"Authorization": f"Bearer {new_token}"}
    tasks = call("GET", "/v1/tasks", headers=bearer).json()["items"]
    samples = {
        "account_id": B_ACCOUNTS[1],
        "task_id": tasks[0]["task_id"],
        "run_id": 1,
        "backtest_id": 1,
        "delivery_id": 1,
        "pilot_id": PILOT["pilot_id"],
        "key_id": created.json()["key"]["key_id"],
    }
    schema = http.get("/schema/openapi.json").json()
    for op in operations_from(schema):
        if op[0] == "GET":
            call("GET", op[1].format(**samples), headers=bearer)
            call("GET", op[1].format(**samples), headers=reader)
    call("POST", "/v1/keys", json={"scopes": ["read"], "token": admin}, headers=bearer)
    call("POST", "/v1/tasks/1/dismiss", json={"reason": admin}, headers=reader)
    call("GET", "/v1/accounts", params={"cursor": admin}, headers=bearer)
    call("DELETE", f"/v1/keys/{samples['key_id']}", headers=bearer)
    for header in (f"Bearer {new_token}", f"Token {admin}", f"Bearer {admin}x", admin):
        assert call("GET", "/v1/plugins", headers={"Authorization": header}).status_code == 401


def operations_from(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every operation a served schema lists."""
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    ]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    folder = tmp_path_factory.mktemp("secrets")
    smtp = SmtpReceiver().start()
    hooks = HttpReceiver().start()
    try:
        config = folder / "telltales.toml"
        config.write_text(
            CONFIG.format(smtp_port=smtp.port, webhook_url=hooks.url, token=URL_TOKEN)
        )
        db = folder / "api.db"
        build_example(db)
        env = environment(
            TELLTALES_CONFIG=str(config),
            TT_SMTP_PASSWORD=SMTP_PASSWORD,
            TT_WEBHOOK_SECRET=SECRET,
            OTEL_TRACES_EXPORTER="console",
        )
        made = telltales("--db", db, "keys", "create", "--scope", "admin", "--name", "ops", env=env)
        assert made.returncode == 0, made.stderr
        admin = made.stdout.strip()
        found = Session(tokens=[admin], cli_output=made.stderr)
        server = start_server(db, "--workers", "1", env=env)
        drain = Drain(server)
        try:
            server.wait_ready()
            _exercise(server, found, admin)
            found.server_output = drain.stop()
        finally:
            if server.process.poll() is None:
                stop_server(server)
        worker = telltales("--db", db, "worker", "--once", env=env)
        assert worker.returncode == 0, worker.stderr
        found.worker_output = worker.stdout + worker.stderr
        found.webhooks = sum(1 for request in hooks.requests if request.signed)
        for command in (
            ["plugins"],
            ["rules"],
            ["playbooks"],
            ["outbox", "list"],
            ["keys", "list"],
            ["keys", "list", "--json"],
            ["runs"],
        ):
            ran = telltales("--db", db, *command, env=env)
            assert ran.returncode == 0, f"{command}: {ran.stderr}"
            found.cli_output += ran.stdout + ran.stderr
        yield found
    finally:
        hooks.stop()
        smtp.stop()


def _found(text: str, secrets: list[str]) -> list[str]:
    return [secret for secret in secrets if secret in text]


def test_the_servers_logs_and_spans_hold_no_key_or_secret(session: Session) -> None:
    output = session.server_output
    assert '"name": "POST /v1/keys"' in output, "the console spans were not printed"
    assert '"name": "GET /v1/accounts/{account_id}/health"' in output
    assert _found(output, session.secrets()) == []


def test_the_api_answers_hold_no_key_or_secret(session: Session) -> None:
    assert len(session.answers) > 40
    for answer in session.answers:
        assert _found(answer, session.secrets()) == [], answer[:300]


def test_a_new_keys_token_is_in_its_creation_answer_only(session: Session) -> None:
    new_token = session.tokens[-1]
    assert new_token in session.created
    assert all(new_token not in answer for answer in session.answers)


def test_the_worker_delivers_and_logs_no_secret(session: Session) -> None:
    """Two signed webhooks delivered; two emails refused when the login was attempted."""
    assert session.webhooks == 2, session.worker_output
    assert "Delivered 2, to retry 0, failed 2" in session.worker_output
    assert "SMTP AUTH extension not supported" in session.worker_output
    assert _found(session.worker_output, session.secrets()) == []


def test_the_cli_shows_no_key_or_secret(session: Session) -> None:
    secrets = [s for s in session.secrets() if s != URL_TOKEN]
    assert _found(session.cli_output, secrets) == []


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[ApiHarness, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = api_settings(tmp_path)
    with ApiClient(lambda: create_app(settings, tracer_provider=provider)) as api:
        yield api, exporter
    provider.shutdown()


def test_no_span_holds_a_key(traced: tuple[ApiHarness, InMemorySpanExporter]) -> None:
    """Every operation, with a good, a revoked and a malformed key: names, attributes and
    events of every span are free of them."""
    api, exporter = traced
    good = api.key("admin")
    revoked = api.client.post("/v1/keys", json={"scopes": ["read"]}, headers=api.headers(good))
    bad = revoked.json()["token"]
    api.client.delete(f"/v1/keys/{revoked.json()['key']['key_id']}", headers=api.headers(good))
    tokens = [good, bad]
    samples = {
        "account_id": "x",
        "task_id": 1,
        "run_id": 1,
        "backtest_id": 1,
        "delivery_id": 1,
        "pilot_id": "x",
        "key_id": "x",
    }
    for op in operations(api.client.app):
        url = op.url(samples)
        for header in (f"Bearer {good}", f"Bearer {bad}", f"Token {good}"):
            api.client.request(op.method, url, json={}, headers={"Authorization": header})
    spans = exporter.get_finished_spans()
    assert len(spans) >= 3 * len(operations(api.client.app))
    secrets = [*tokens, *(token.split("_", 2)[2] for token in tokens)]
    for span in spans:
        seen = [span.name, str(dict(span.attributes or {}))]
        seen += [f"{event.name} {dict(event.attributes or {})}" for event in span.events]
        assert _found(" ".join(seen), secrets) == [], span.name


def test_request_urls_are_not_logged_once_the_app_runs(
    traced: tuple[ApiHarness, InMemorySpanExporter], caplog: pytest.LogCaptureFixture
) -> None:
    """Litestar configures the process's logging; httpx would log a webhook's URL, token
    and all, at INFO."""
    api, _ = traced
    assert api.client.get("/healthz").status_code == 200
    hooks = HttpReceiver().start()
    try:
        url = f"{hooks.url}?token={URL_TOKEN}"
        outcome = post_json(url, b"{}", {}, timeout_seconds=5, hide=(url,))
    finally:
        hooks.stop()
    assert outcome.detail == "HTTP 200"
    for name in QUIET_LOGGERS:
        assert not logging.getLogger(name).isEnabledFor(logging.INFO)
    assert URL_TOKEN not in caplog.text
    assert all(URL_TOKEN not in record.getMessage() for record in caplog.records)
