"""The ``email`` action against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import msgspec
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from telltales import ActionOutcome, ActionRequest
from telltales_notify.mail import EmailAction, message_id
from telltales_notify.settings import EmailParams, EmailSettings

USER = "telltales"
PASSWORD = "correct horse battery staple"

FERRUM_BODY = """\
Ferrum Manufacturing (ferrum) entered At-Risk on 2026-11-20.
Renews 2026-12-20, ARR 150,000, owner li.chen@vendor.example, CSM group apac-midmarket.

Why:
- core_feature_drop (high), holding since 2026-11-18
  Active users of a core feature down more than 30% over 14 days
  * telemetry.core_feature_drop_14d = -0.62 (below -0.3): active users of Workflows \
fell from 29 to 11 in the 14 days to 2026-11-20
- low_seat_utilization (medium), holding since 2026-10-02
  Fewer than half the purchased seats active over 30 days
  * telemetry.seat_utilization_30d = 0.45 (below 0.5): 36 of 80 seats active in the 30 days \
to 2026-11-20

Open the account: https://telltales.vendor.example/accounts/ferrum

Sent by telltales for playbook at_risk_response, run 42, step 2.
"""


class Sink:
    """An aiosmtpd handler: keeps each accepted message, answers as the test scripts.

    ``rcpt_answers`` maps an address to the reply to its RCPT TO; ``data_answer`` is the
    reply to DATA. ``logins`` holds the user name of each accepted message's session.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.rcpt_answers: dict[str, str] = {}
        self.data_answer = "250 OK"
        self.envelopes: list[Envelope] = []
        self.logins: list[str | None] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_answers:
            return self.rcpt_answers[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_answer.startswith("250"):
            self.envelopes.append(envelope)
            login = session.auth_data.login.decode() if session.authenticated else None
            self.logins.append(login)
        return self.data_answer

    def message(self, index: int = 0) -> EmailMessage:
        content = self.envelopes[index].original_content
        assert isinstance(content, bytes)
        # SMTP carries CRLF line ends; compare text with the newlines Python writes.
        parsed = email.message_from_bytes(
            content.replace(b"\r\n", b"\n"), policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        return parsed


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """Accept only USER with PASSWORD; anything else gets aiosmtpd's 535."""
    valid = isinstance(auth_data, LoginPassword) and auth_data == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=valid, handled=False, auth_data=auth_data)


@pytest.fixture
def smtp(free_port: int) -> Iterator[Sink]:
    sink = Sink(free_port)
    # AUTH without TLS: the test server has no certificate, and nothing leaves 127.0.0.1.
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=free_port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def send(
    request: ActionRequest, port: int, to: list[str], subject: str = "", **settings: Any
) -> ActionOutcome:
    """Run the action as the core would, with params and settings decoded from tables."""
    configured = msgspec.convert(
        {"host": "127.0.0.1", "port": port, "sender": "telltales@vendor.example", **settings},
        EmailSettings,
    )
    params = msgspec.convert({"to": to, "subject": subject}, EmailParams)
    return EmailAction().execute(
        msgspec.structs.replace(request, params=params, settings=configured)
    )


def test_email_reaches_owner_manager_and_address(smtp: Sink, at_risk: ActionRequest) -> None:
    outcome = send(at_risk, smtp.port, ["owner", "manager", "cs-leads@vendor.example"])

    everyone = "li.chen@vendor.example, priya.nair@vendor.example, cs-leads@vendor.example"
    assert outcome == ActionOutcome(delivered=True, detail=f"sent to {everyone}")
    (envelope,) = smtp.envelopes
    assert envelope.mail_from == "telltales@vendor.example"
    assert envelope.rcpt_tos == everyone.split(", ")
    assert smtp.logins == [None]
    message = smtp.message()
    assert message["From"] == "telltales@vendor.example"
    assert message["To"] == everyone
    assert message["Subject"] == (
        "[telltales] Ferrum Manufacturing is At-Risk: core_feature_drop, low_seat_utilization"
    )
    assert message["Message-ID"] == "<tt-42-2-9f1c2b7a5d3e4f60@telltales>"
    assert message["X-Telltales-Idempotency-Key"] == "tt-42-2-9f1c2b7a5d3e4f60"
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == FERRUM_BODY


def test_subject_from_the_step_and_each_address_once(smtp: Sink, at_risk: ActionRequest) -> None:
    outcome = send(
        at_risk, smtp.port, ["owner", "li.chen@vendor.example"], subject="Ferrum needs a call"
    )

    assert outcome.delivered
    assert smtp.envelopes[0].rcpt_tos == ["li.chen@vendor.example"]
    assert smtp.message()["Subject"] == "Ferrum needs a call"
    assert smtp.message()["To"] == "li.chen@vendor.example"


def test_without_firings_the_reason_and_evidence_explain(
    smtp: Sink, at_risk: ActionRequest
) -> None:
    request = msgspec.structs.replace(at_risk, firings=(), account_url="")

    assert send(request, smtp.port, ["owner"]).delivered

    assert smtp.message()["Subject"] == (
        "[telltales] Ferrum Manufacturing is At-Risk: core_feature_drop, low_seat_utilization"
    )
    assert smtp.message().get_content().split("\n\n")[1:] == [
        "Why:\n- core_feature_drop, low_seat_utilization\n"
        "  core_feature_drop: telemetry.core_feature_drop_14d = -0.62 (below -0.3); "
        "low_seat_utilization: telemetry.seat_utilization_30d = 0.45 (below 0.5)",
        "Sent by telltales for playbook at_risk_response, run 42, step 2.\n",
    ]


def test_no_manager_for_the_group_fails_for_good(smtp: Sink, at_risk: ActionRequest) -> None:
    outcome = send(msgspec.structs.replace(at_risk, manager=""), smtp.port, ["owner", "manager"])

    assert outcome == ActionOutcome(
        delivered=False,
        retryable=False,
        detail="no manager is configured for CSM group 'apac-midmarket'",
    )
    assert smtp.envelopes == []


def test_an_owner_that_is_a_name_fails_for_good(smtp: Sink, at_risk: ActionRequest) -> None:
    account = msgspec.structs.replace(at_risk.account, owner="Li Chen")
    outcome = send(msgspec.structs.replace(at_risk, account=account), smtp.port, ["owner"])

    assert outcome == ActionOutcome(
        delivered=False,
        retryable=False,
        detail="the owner of account 'ferrum' is 'Li Chen', not an address",
    )
    assert smtp.envelopes == []


@pytest.mark.parametrize(
    ("answer", "retryable"),
    [("550 5.7.1 Message rejected as spam", False), ("451 4.3.0 Try again later", True)],
)
def test_data_refused_permanently_or_for_now(
    smtp: Sink, at_risk: ActionRequest, answer: str, retryable: bool
) -> None:
    smtp.data_answer = answer

    outcome = send(at_risk, smtp.port, ["owner"])

    code, text = answer.split(" ", 1)
    assert outcome == ActionOutcome(
        delivered=False,
        retryable=retryable,
        detail=f"SMTP {code} from 127.0.0.1:{smtp.port}: {text}",
    )


@pytest.mark.parametrize(
    ("answer", "retryable"),
    [("550 5.1.1 No such user", False), ("451 4.2.1 Mailbox busy", True)],
)
def test_every_recipient_refused(
    smtp: Sink, at_risk: ActionRequest, answer: str, retryable: bool
) -> None:
    smtp.rcpt_answers = {"li.chen@vendor.example": answer}

    outcome = send(at_risk, smtp.port, ["owner"])

    assert outcome == ActionOutcome(
        delivered=False, retryable=retryable, detail=f"refused li.chen@vendor.example {answer}"
    )
    assert smtp.envelopes == []


def test_some_recipients_refused_is_not_retried(smtp: Sink, at_risk: ActionRequest) -> None:
    smtp.rcpt_answers = {"priya.nair@vendor.example": "451 4.2.1 Mailbox busy"}

    outcome = send(at_risk, smtp.port, ["owner", "manager"])

    assert outcome == ActionOutcome(
        delivered=False,
        retryable=False,
        detail="refused priya.nair@vendor.example 451 4.2.1 Mailbox busy; "
        "sent to li.chen@vendor.example only",
    )
    assert smtp.envelopes[0].rcpt_tos == ["li.chen@vendor.example"]


def test_server_down_is_retried(free_port: int, at_risk: ActionRequest) -> None:
    outcome = send(at_risk, free_port, ["owner"])

    assert outcome.delivered is False
    assert outcome.retryable is True
    assert outcome.detail.startswith(f"cannot reach SMTP server 127.0.0.1:{free_port}: ")
    assert "Connection refused" in outcome.detail


def test_login_with_the_password_from_the_environment(
    smtp: Sink, at_risk: ActionRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)

    outcome = send(at_risk, smtp.port, ["owner"], username=USER, password_env="SMTP_PASSWORD")

    assert outcome.delivered
    assert smtp.logins == [USER]


def test_a_wrong_password_fails_for_good_and_is_never_shown(
    smtp: Sink, at_risk: ActionRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")

    outcome = send(at_risk, smtp.port, ["owner"], username=USER, password_env="SMTP_PASSWORD")

    assert outcome == ActionOutcome(
        delivered=False,
        retryable=False,
        detail=f"SMTP 535 from 127.0.0.1:{smtp.port}: 5.7.8 Authentication credentials invalid",
    )
    assert "hunter2" not in outcome.detail
    assert smtp.envelopes == []


def test_a_missing_password_variable_fails_for_good(
    smtp: Sink, at_risk: ActionRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)

    outcome = send(at_risk, smtp.port, ["owner"], username=USER, password_env="SMTP_PASSWORD")

    assert outcome == ActionOutcome(
        delivered=False,
        retryable=False,
        detail="environment variable SMTP_PASSWORD holding the SMTP password is not set or empty",
    )
    assert smtp.envelopes == []


def test_starttls_the_server_does_not_offer_fails_for_good(
    smtp: Sink, at_risk: ActionRequest
) -> None:
    outcome = send(at_risk, smtp.port, ["owner"], starttls=True)

    assert outcome == ActionOutcome(
        delivered=False,
        retryable=False,
        detail=f"127.0.0.1:{smtp.port}: STARTTLS extension not supported by server.",
    )
    assert smtp.envelopes == []


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("playbook_run:42:step:2", "<playbook_run=3A42=3Astep=3A2@telltales>"),
        ("a=b", "<a=3Db@telltales>"),
        ("a:b", "<a=3Ab@telltales>"),
        (".lead dot", "<=2Elead=20dot@telltales>"),
        ("café", "<caf=C3=A9@telltales>"),
    ],
)
def test_message_id_spells_out_what_a_message_id_cannot_hold(key: str, expected: str) -> None:
    assert message_id(key) == expected
