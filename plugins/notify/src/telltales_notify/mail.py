"""The ``email`` action: tell the owner, the manager or a list, over SMTP.

The module is not called ``email`` so that it can never shadow the standard library's
package of that name, which it uses to build the message.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import string
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from telltales import ActionOutcome, ActionRequest

from .outcomes import missing_secret, quote
from .settings import RECIPIENT_ROLES, EmailParams, EmailSettings, is_address
from .summary import default_subject, email_body, one_line

_ID_SAFE = frozenset(string.ascii_letters + string.digits + "-_")


def message_id(idempotency_key: str) -> str:
    """``<key@telltales>``, with every character a message id cannot hold spelt ``=XX``.

    The encoding is one-to-one (``=`` itself becomes ``=3D``), so two deliveries share a
    Message-ID exactly when they share an idempotency key, and a mail system that drops
    duplicate ids drops only true repeats.
    """
    left = "".join(
        char if char in _ID_SAFE else "".join(f"={byte:02X}" for byte in char.encode())
        for char in idempotency_key
    )
    return f"<{left}@telltales>"


def resolve_recipients(to: list[str], request: ActionRequest) -> list[str] | ActionOutcome:
    """The addresses ``to`` stands for, each once, or why this step cannot be delivered."""
    account = request.account
    addresses: list[str] = []
    for recipient in to:
        if recipient == "owner":
            address, whose = account.owner, f"the owner of account {account.account_id!r}"
            missing = f"account {account.account_id!r} has no owner"
        elif recipient == "manager":
            address, whose = request.manager, f"the manager of CSM group {account.csm_group!r}"
            missing = f"no manager is configured for CSM group {account.csm_group!r}"
        else:  # an address of the step's own, checked when the configuration loaded
            address, whose, missing = recipient, "", ""
        if not address:
            return ActionOutcome(delivered=False, retryable=False, detail=missing)
        if not is_address(address):
            return ActionOutcome(
                delivered=False, retryable=False, detail=f"{whose} is {address!r}, not an address"
            )
        if address not in addresses:
            addresses.append(address)
    return addresses


def build_message(request: ActionRequest, subject: str, sender: str, to: list[str]) -> EmailMessage:
    """The email, carrying the idempotency key in Message-ID and in a header of its own."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = one_line(subject or default_subject(request))
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id(request.idempotency_key)
    message["X-Telltales-Idempotency-Key"] = request.idempotency_key
    message.set_content(email_body(request))
    return message


class EmailAction:
    """Sends one plain-text email per playbook step, to people inside the vendor only."""

    name = "email"
    reaches_customer = False
    params_type = EmailParams
    settings_type = EmailSettings

    def check_step(self, params: EmailParams, settings: EmailSettings, approval: bool) -> str:
        """Refuse a step that emails outside ``internal_domains`` without approval."""
        if not settings.internal_domains or approval:
            return ""
        outside = [
            address
            for address in params.to
            if address not in RECIPIENT_ROLES
            and address.rsplit("@", 1)[-1].lower() not in settings.internal_domains
        ]
        if not outside:
            return ""
        return (
            f"{', '.join(outside)} is outside internal_domains "
            f"({', '.join(settings.internal_domains)}): an email that reaches the customer "
            "needs approval = true on its step"
        )

    def execute(self, request: ActionRequest) -> ActionOutcome:
        params: EmailParams = request.params
        settings: EmailSettings = request.settings
        recipients = resolve_recipients(params.to, request)
        if isinstance(recipients, ActionOutcome):
            return recipients
        password = ""
        if settings.username:
            password = os.environ.get(settings.password_env, "")
            if not password:
                return missing_secret(settings.password_env, "the SMTP password")
        message = build_message(request, params.subject, settings.sender, recipients)
        return send(message, recipients, settings, password)


def send(
    message: EmailMessage, recipients: list[str], settings: EmailSettings, password: str
) -> ActionOutcome:
    """Hand ``message`` to the server once and say whether trying again could help.

    A 4xx answer, a dropped connection, a refused or timed-out connection are
    temporary; a 5xx answer (unknown recipient, message rejected, bad credentials) and
    a server lacking what the settings ask for (STARTTLS, AUTH) are not.
    """
    server = f"{settings.host}:{settings.port}"
    hide = (password,)
    try:
        with _connect(settings) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, password)
            refused = smtp.send_message(message, settings.sender, recipients)
    except smtplib.SMTPRecipientsRefused as error:
        retryable = all(400 <= code < 500 for code, _ in error.recipients.values())
        detail = _refusals(error.recipients, hide)
        return ActionOutcome(delivered=False, retryable=retryable, detail=detail)
    except smtplib.SMTPResponseException as error:
        code, text = error.smtp_code, error.smtp_error
        answer = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return ActionOutcome(
            delivered=False,
            retryable=400 <= code < 500,
            detail=f"SMTP {code} from {server}: {quote(answer, hide=hide)}",
        )
    except smtplib.SMTPServerDisconnected as error:
        detail = f"{server} closed the connection: {quote(str(error), hide=hide)}"
        return ActionOutcome(delivered=False, retryable=True, detail=detail)
    except smtplib.SMTPException as error:
        detail = f"{server}: {quote(str(error), hide=hide)}"
        return ActionOutcome(delivered=False, retryable=False, detail=detail)
    except OSError as error:
        reason = quote(str(error) or type(error).__name__, hide=hide)
        detail = f"cannot reach SMTP server {server}: {reason}"
        return ActionOutcome(delivered=False, retryable=True, detail=detail)
    if refused:
        accepted = [address for address in recipients if address not in refused]
        detail = f"{_refusals(refused, hide)}; sent to {', '.join(accepted)} only"
        # Not retryable whatever the codes: a retry would send the others a second copy.
        return ActionOutcome(delivered=False, retryable=False, detail=detail)
    return ActionOutcome(delivered=True, detail=f"sent to {', '.join(recipients)}")


def _connect(settings: EmailSettings) -> smtplib.SMTP:
    if settings.ssl:
        return smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=settings.timeout_seconds,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)


def _refusals(refused: dict[str, tuple[int, bytes]], hide: tuple[str, ...]) -> str:
    """``refused a@example.com 550 no such user; ...``: each turned-down recipient's answer."""
    return "refused " + "; ".join(
        f"{address} {code} {quote(text.decode(errors='replace'), hide=hide)}"
        for address, (code, text) in refused.items()
    )
