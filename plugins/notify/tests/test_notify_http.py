"""The ``webhook`` action and the ``http`` CRM adapter against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import msgspec
import pytest
from telltales import ActionOutcome, ActionRequest, RenewalFlag
from telltales_notify.crm import HttpCrmAdapter
from telltales_notify.settings import HttpCrmSettings, WebhookParams, WebhookSettings
from telltales_notify.signature import verify
from telltales_notify.webhook import WebhookAction

SECRET = "whsec-3f9a1c7e5b"
TOKEN = "crm-token-8d2e41"


class Reply(NamedTuple):
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0


class Received(NamedTuple):
    method: str
    path: str
    headers: Message
    body: bytes


class Receiver:
    """A ThreadingHTTPServer that records each request and answers with the next ``Reply``.

    Handler threads are joined when the server closes; a delayed reply wakes up as soon
    as the test ends, so no thread outlives its test.
    """

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        self.ending = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = False
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}/hooks/telltales"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(Received("POST", self.path, self.headers, body))
                reply = receiver.replies.pop(0) if receiver.replies else Reply()
                receiver.ending.wait(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up waiting (the timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ending.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("TELLTALES_WEBHOOK_SECRET", SECRET)
    return SECRET.encode()


def call_webhook(
    request: ActionRequest, url: str, secret_env: str = "", **settings: Any
) -> ActionOutcome:
    """Run the action as the core would, with params and settings decoded from tables."""
    params = msgspec.convert({"url": url, "secret_env": secret_env}, WebhookParams)
    configured = msgspec.convert(settings, WebhookSettings)
    return WebhookAction().execute(
        msgspec.structs.replace(request, params=params, settings=configured)
    )


FERRUM_EVENT = {
    "idempotency_key": "tt-42-2-9f1c2b7a5d3e4f60",
    "event": "playbook.action",
    "account": {
        "account_id": "ferrum",
        "name": "Ferrum Manufacturing",
        "owner": "li.chen@vendor.example",
        "csm_group": "apac-midmarket",
        "segment": "mid-market",
        "arr": 150000.0,
        "renewal_date": "2026-12-20",
    },
    "status": "at_risk",
    "status_label": "At-Risk",
    "as_of": "2026-11-20",
    "playbook": "at_risk_response",
    "playbook_run_id": 42,
    "step": 2,
    "reason": "core_feature_drop, low_seat_utilization",
    "evidence": "core_feature_drop: telemetry.core_feature_drop_14d = -0.62 (below -0.3); "
    "low_seat_utilization: telemetry.seat_utilization_30d = 0.45 (below 0.5)",
    "firings": [
        {
            "rule": "core_feature_drop",
            "description": "Active users of a core feature down more than 30% over 14 days",
            "status": "at_risk",
            "severity": "high",
            "held_since": "2026-11-18",
            "matches": [
                {
                    "subject": "telemetry.core_feature_drop_14d",
                    "value": -0.62,
                    "comparison": "below -0.3",
                    "evidence": "active users of Workflows fell from 29 to 11 in the 14 days "
                    "to 2026-11-20",
                }
            ],
        },
        {
            "rule": "low_seat_utilization",
            "description": "Fewer than half the purchased seats active over 30 days",
            "status": "concern",
            "severity": "medium",
            "held_since": "2026-10-02",
            "matches": [
                {
                    "subject": "telemetry.seat_utilization_30d",
                    "value": 0.45,
                    "comparison": "below 0.5",
                    "evidence": "36 of 80 seats active in the 30 days to 2026-11-20",
                }
            ],
        },
    ],
    "account_url": "https://telltales.vendor.example/accounts/ferrum",
    "text": "Ferrum Manufacturing (ferrum) entered At-Risk on 2026-11-20 (renews 2026-12-20, "
    "ARR 150,000, owner li.chen@vendor.example, CSM group apac-midmarket). "
    "core_feature_drop: active users of Workflows fell from 29 to 11 in the 14 days to "
    "2026-11-20. low_seat_utilization: 36 of 80 seats active in the 30 days to 2026-11-20. "
    "https://telltales.vendor.example/accounts/ferrum",
}


def test_webhook_posts_the_event_signed(
    receiver: Receiver, at_risk: ActionRequest, secret: bytes
) -> None:
    before = int(time.time())
    outcome = call_webhook(at_risk, receiver.url)
    after = int(time.time())

    assert outcome == ActionOutcome(delivered=True, detail="HTTP 200")
    (request,) = receiver.received
    assert (request.method, request.path) == ("POST", "/hooks/telltales")
    assert json.loads(request.body) == FERRUM_EVENT
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "tt-42-2-9f1c2b7a5d3e4f60"
    timestamp = request.headers["X-Telltales-Timestamp"]
    assert before <= int(timestamp) <= after
    signed = timestamp.encode() + b"." + request.body
    expected = "sha256=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
    assert request.headers["X-Telltales-Signature"] == expected


def test_a_receiver_verifies_the_request_with_verify(
    receiver: Receiver, at_risk: ActionRequest, secret: bytes
) -> None:
    assert call_webhook(at_risk, receiver.url).delivered
    (request,) = receiver.received
    timestamp = request.headers["X-Telltales-Timestamp"]
    signature = request.headers["X-Telltales-Signature"]

    assert verify(secret, timestamp, request.body, signature)
    tampered = request.body.replace(b'"arr":150000.0', b'"arr":1.0')
    assert tampered != request.body
    assert not verify(secret, timestamp, tampered, signature)
    assert not verify(b"another secret", timestamp, request.body, signature)
    assert not verify(secret, str(int(timestamp) + 1), request.body, signature)
    assert verify(secret, timestamp, request.body, signature, now=int(timestamp) + 300)
    assert not verify(secret, timestamp, request.body, signature, now=int(timestamp) + 301)


def test_the_step_names_its_own_secret_variable(
    receiver: Receiver, at_risk: ActionRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELLTALES_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("CHAT_WEBHOOK_SECRET", "chat-secret")

    assert call_webhook(at_risk, receiver.url, secret_env="CHAT_WEBHOOK_SECRET").delivered

    (request,) = receiver.received
    headers = request.headers
    assert verify(
        b"chat-secret",
        headers["X-Telltales-Timestamp"],
        request.body,
        headers["X-Telltales-Signature"],
    )


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_a_missing_secret_fails_for_good(
    receiver: Receiver,
    at_risk: ActionRequest,
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
) -> None:
    if value is None:
        monkeypatch.delenv("HOOK_SECRET", raising=False)
    else:
        monkeypatch.setenv("HOOK_SECRET", value)

    outcome = call_webhook(at_risk, receiver.url, secret_env="HOOK_SECRET")

    assert outcome == ActionOutcome(
        delivered=False,
        retryable=False,
        detail="environment variable HOOK_SECRET holding the webhook signing secret "
        "is not set or empty",
    )
    assert receiver.received == []


@pytest.mark.parametrize(
    ("reply", "retryable", "detail"),
    [
        (Reply(500, b"Internal Server Error"), True, "HTTP 500: Internal Server Error"),
        (Reply(503, b""), True, "HTTP 503"),
        (Reply(429, b"slow down"), True, "HTTP 429: slow down"),
        (Reply(408, b""), True, "HTTP 408"),
        (Reply(400, b'{"error": "unknown field"}'), False, 'HTTP 400: {"error": "unknown field"}'),
        (Reply(404, b"no such hook"), False, "HTTP 404: no such hook"),
        (Reply(302, b""), False, "HTTP 302 (redirects are not followed)"),
    ],
)
def test_webhook_answers_classified(
    receiver: Receiver,
    at_risk: ActionRequest,
    secret: bytes,
    reply: Reply,
    retryable: bool,
    detail: str,
) -> None:
    receiver.replies.append(reply)

    outcome = call_webhook(at_risk, receiver.url)

    assert outcome == ActionOutcome(delivered=False, retryable=retryable, detail=detail)


def test_a_long_answer_is_quoted_on_one_line_up_to_200_characters(
    receiver: Receiver, at_risk: ActionRequest, secret: bytes
) -> None:
    receiver.replies.append(Reply(502, b"<html>\n  <body>" + b"x" * 500 + b"</body>\n</html>"))

    outcome = call_webhook(at_risk, receiver.url)

    assert outcome.retryable
    assert outcome.detail == "HTTP 502: <html> <body>" + "x" * 184 + "..."
    assert len(outcome.detail) == len("HTTP 502: ") + 200


def test_no_answer_in_time_is_retried(
    receiver: Receiver, at_risk: ActionRequest, secret: bytes
) -> None:
    receiver.replies.append(Reply(200, b"ok", delay=10))

    started = time.monotonic()
    outcome = call_webhook(at_risk, receiver.url, timeout_seconds=0.3)

    assert time.monotonic() - started < 5
    assert outcome == ActionOutcome(
        delivered=False, retryable=True, detail="no answer within 0.3 s"
    )


def test_a_refused_connection_is_retried(
    free_port: int, at_risk: ActionRequest, secret: bytes
) -> None:
    outcome = call_webhook(at_risk, f"http://127.0.0.1:{free_port}/hooks/telltales")

    assert outcome.delivered is False
    assert outcome.retryable is True
    assert outcome.detail.startswith("cannot connect: ")
    assert "Connection refused" in outcome.detail


def test_the_secret_and_url_never_show_in_a_detail(
    receiver: Receiver, at_risk: ActionRequest, secret: bytes
) -> None:
    receiver.replies.append(Reply(401, f"bad signature for {SECRET} at {receiver.url}".encode()))

    outcome = call_webhook(at_risk, receiver.url)

    assert outcome == ActionOutcome(
        delivered=False, retryable=False, detail="HTTP 401: bad signature for [hidden] at [hidden]"
    )


@pytest.fixture
def flag() -> RenewalFlag:
    return RenewalFlag(
        idempotency_key="renewal_flag:ferrum:2026-12-20",
        account_id="ferrum",
        account_name="Ferrum Manufacturing",
        renewal_date=date(2026, 12, 20),
        flag="Renewal At Risk",
        reason="core_feature_drop, low_seat_utilization",
        evidence="core_feature_drop: telemetry.core_feature_drop_14d = -0.62 (below -0.3)",
        flagged_at=datetime(2026, 11, 20, 6, 0, tzinfo=UTC),
        account_url="https://telltales.vendor.example/accounts/ferrum",
    )


def push(flag: RenewalFlag, **settings: Any) -> ActionOutcome:
    """Push as the core would, with ``[crm.settings]`` decoded from its table."""
    configured = msgspec.convert(settings, HttpCrmSettings)
    return HttpCrmAdapter().push(msgspec.structs.replace(flag, settings=configured))


def test_crm_flag_posted_with_bearer_token(
    receiver: Receiver, flag: RenewalFlag, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_TOKEN", TOKEN)

    outcome = push(flag, url=receiver.url, token_env="CRM_TOKEN")

    assert outcome == ActionOutcome(delivered=True, detail="HTTP 200")
    (request,) = receiver.received
    assert (request.method, request.path) == ("POST", "/hooks/telltales")
    assert json.loads(request.body) == {
        "idempotency_key": "renewal_flag:ferrum:2026-12-20",
        "account_id": "ferrum",
        "account_name": "Ferrum Manufacturing",
        "renewal_date": "2026-12-20",
        "flag": "Renewal At Risk",
        "reason": "core_feature_drop, low_seat_utilization",
        "evidence": "core_feature_drop: telemetry.core_feature_drop_14d = -0.62 (below -0.3)",
        "flagged_at": "2026-11-20T06:00:00Z",
        "account_url": "https://telltales.vendor.example/accounts/ferrum",
    }
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "renewal_flag:ferrum:2026-12-20"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_crm_without_token_sends_no_authorization(receiver: Receiver, flag: RenewalFlag) -> None:
    assert push(flag, url=receiver.url).delivered

    assert receiver.received[0].headers["Authorization"] is None


def test_crm_missing_token_fails_for_good(
    receiver: Receiver, flag: RenewalFlag, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_TOKEN", raising=False)

    outcome = push(flag, url=receiver.url, token_env="CRM_TOKEN")

    assert outcome == ActionOutcome(
        delivered=False,
        retryable=False,
        detail="environment variable CRM_TOKEN holding the CRM bearer token is not set or empty",
    )
    assert receiver.received == []


@pytest.mark.parametrize(
    ("reply", "retryable", "detail"),
    [
        (Reply(503, b"maintenance"), True, "HTTP 503: maintenance"),
        (Reply(425, b""), True, "HTTP 425"),
        (
            Reply(422, b"no open renewal opportunity"),
            False,
            "HTTP 422: no open renewal opportunity",
        ),
        (Reply(401, f"token {TOKEN} expired".encode()), False, "HTTP 401: token [hidden] expired"),
    ],
)
def test_crm_answers_classified(
    receiver: Receiver,
    flag: RenewalFlag,
    monkeypatch: pytest.MonkeyPatch,
    reply: Reply,
    retryable: bool,
    detail: str,
) -> None:
    monkeypatch.setenv("CRM_TOKEN", TOKEN)
    receiver.replies.append(reply)

    outcome = push(flag, url=receiver.url, token_env="CRM_TOKEN")

    assert outcome == ActionOutcome(delivered=False, retryable=retryable, detail=detail)


def test_crm_timeout_and_refusal_are_retried(
    receiver: Receiver, flag: RenewalFlag, free_port: int
) -> None:
    receiver.replies.append(Reply(200, b"ok", delay=10))

    timed_out = push(flag, url=receiver.url, timeout_seconds=0.3)
    refused = push(flag, url=f"http://127.0.0.1:{free_port}/crm")

    assert timed_out == ActionOutcome(
        delivered=False, retryable=True, detail="no answer within 0.3 s"
    )
    assert (refused.delivered, refused.retryable) == (False, True)
    assert "Connection refused" in refused.detail
