"""The pulse survey action, against a stand-in for Acme's API on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import telltales_acme_nps
from telltales import Account, ActionRequest
from telltales.testing import PluginHarness
from telltales_acme_nps.pulse import PulseParams, PulseSettings, PulseSurveyAction


class AcmeStandIn:
    """Records every POST and answers with ``status``."""

    def __init__(self) -> None:
        self.status = 202
        self.received: list[tuple[dict[str, str], Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                stand_in.received.append((dict(self.headers), body))
                self.send_response(stand_in.status)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/pulses"


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> Iterator[AcmeStandIn]:
    monkeypatch.setenv("ACME_SURVEYS_TOKEN", "secret-token")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    stand_in = AcmeStandIn()
    thread = threading.Thread(target=stand_in.server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()
    thread.join()


# [docs:action-test]
def step(url: str, key: str = "run-7-step-2") -> ActionRequest:
    """One playbook step as the outbox worker hands it to the action."""
    return ActionRequest(
        idempotency_key=key,
        account=Account(account_id="ferrum", name="Ferrum Manufacturing"),
        params=PulseParams(survey="nps-pulse"),
        reason="nps_detractors",
        evidence="acme_nps.nps = -75 (below 0)",
        playbook="nps_follow_up",
        step=2,
        as_of=date(2026, 11, 20),
        settings=PulseSettings(api_url=url, timeout_seconds=5),
    )


def test_a_survey_is_requested_with_the_step_idempotency_key(acme: AcmeStandIn) -> None:
    outcome = PulseSurveyAction().execute(step(acme.url))
    assert outcome.delivered
    assert outcome.detail == "nps-pulse sent, HTTP 202"
    [(headers, body)] = acme.received
    assert headers["Idempotency-Key"] == "run-7-step-2"
    assert headers["Authorization"] == "Bearer secret-token"
    assert body == {
        "account_id": "ferrum",
        "account_name": "Ferrum Manufacturing",
        "survey": "nps-pulse",
        "reason": "nps_detractors",
    }
    # [/docs:action-test]


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (400, False)])
def test_a_refusal_is_retried_only_when_it_may_pass_later(
    acme: AcmeStandIn, status: int, retryable: bool
) -> None:
    acme.status = status
    outcome = PulseSurveyAction().execute(step(acme.url))
    assert not outcome.delivered
    assert outcome.retryable is retryable
    assert outcome.detail == f"Acme answered HTTP {status}"


def test_an_unreachable_api_is_retried(acme: AcmeStandIn) -> None:
    acme.server.shutdown()
    acme.server.server_close()
    outcome = PulseSurveyAction().execute(step(acme.url))
    assert (outcome.delivered, outcome.retryable) == (False, True)
    assert outcome.detail.startswith("cannot reach Acme: ")


def test_without_a_token_it_gives_up_at_once(
    acme: AcmeStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_SURVEYS_TOKEN")
    outcome = PulseSurveyAction().execute(step(acme.url))
    assert (outcome.delivered, outcome.retryable) == (False, False)
    assert outcome.detail == "ACME_SURVEYS_TOKEN is not set"
    assert acme.received == []


def test_the_action_is_registered_and_waits_for_approval(telltales_env: PluginHarness) -> None:
    telltales_env.register(telltales_acme_nps, name="acme_nps")
    action = telltales_env.registry.actions["acme_nps.pulse_survey"]
    assert action.plugin == "acme_nps"
    assert action.obj.reaches_customer is True
