"""What the configuration says: ``[actions.email]``, ``[actions.webhook]``, playbook step
parameters and ``[crm.settings]``.

The core decodes each table into these structs when it loads the configuration, so a
typo, a malformed address or URL, or settings that contradict each other stop the load
with a message instead of failing the first delivery days later. Secrets never sit in
the configuration: a setting names the environment variable that holds one.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

Seconds = Annotated[float, msgspec.Meta(gt=0, le=300)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
EnvVar = Annotated[str, msgspec.Meta(pattern=r"^([A-Za-z_][A-Za-z0-9_]*)?$")]
"""The name of an environment variable (or empty where that is allowed)."""

_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+$")
RECIPIENT_ROLES = ("owner", "manager")


def is_address(text: str) -> bool:
    """Whether ``text`` has the shape of a bare email address (``name@domain``).

    Deliberately simple: the SMTP server has the last word, this only catches a name
    or a display-name form (``Li Chen <li@example.com>``) where an address belongs.
    """
    return _ADDRESS.match(text) is not None


def url_problem(url: str) -> str | None:
    """Say why ``url`` is not an absolute http(s) URL, or None.

    The message never repeats the URL: webhook URLs often carry a token in their path.
    """
    if url != url.strip() or any(char.isspace() for char in url):
        return "url must not contain whitespace"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "url must be an absolute http:// or https:// URL with a host"
    return None


class EmailSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[actions.email]``: the SMTP server every email step sends through."""

    host: str = "localhost"
    """The SMTP server's host name."""
    port: Port = 25
    """Its port: usually 25 (relay), 587 (submission with STARTTLS) or 465 (implicit TLS)."""
    sender: str = "telltales@localhost"
    """The envelope sender and the From header."""
    username: str = ""
    """Log in with this user name; empty to send without logging in."""
    password_env: EnvVar = ""
    """The NAME of the environment variable holding the password, needed with ``username``."""
    starttls: bool = False
    """Upgrade the connection with STARTTLS before logging in and sending."""
    ssl: bool = False
    """Speak TLS from the first byte (implicit TLS, port 465)."""
    timeout_seconds: Seconds = 10.0
    """How long to wait for the server to connect or answer, per operation."""
    internal_domains: list[str] = msgspec.field(default_factory=list)
    """Your own company's mail domains. When set, a step that emails any other address
    reaches the customer, so it must say ``approval = true`` (a CSM approves each one)."""

    def __post_init__(self) -> None:
        self.internal_domains = [domain.strip().lower() for domain in self.internal_domains]
        if not all(self.internal_domains):
            raise ValueError("internal_domains: a domain cannot be empty")
        if not is_address(self.sender):
            raise ValueError(f"sender {self.sender!r} is not an email address")
        if self.ssl and self.starttls:
            raise ValueError("ssl and starttls exclude each other: choose one")
        if self.username and not self.password_env:
            raise ValueError("username is set: password_env must name the password's variable")


class EmailParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An ``email`` playbook step: ``{ action = "email", to = ["manager"] }``."""

    to: Annotated[list[str], msgspec.Meta(min_length=1)]
    """Recipients: ``"owner"`` (the account's CSM), ``"manager"`` (the manager of its CSM
    group) or an email address."""
    subject: str = ""
    """The subject line; empty for one naming the account, its status and the rules."""

    def __post_init__(self) -> None:
        for index, recipient in enumerate(self.to):
            if recipient not in RECIPIENT_ROLES and not is_address(recipient):
                raise ValueError(
                    f"to[{index}]: {recipient!r} is not 'owner', 'manager' or an email address"
                )


class WebhookSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[actions.webhook]``: how every webhook step signs and waits."""

    secret_env: EnvVar = "TELLTALES_WEBHOOK_SECRET"
    """The NAME of the environment variable holding the signing secret."""
    timeout_seconds: Seconds = 10.0
    """How long to wait to connect, and then for the response."""


class WebhookParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A ``webhook`` playbook step: ``{ action = "webhook", url = "https://..." }``."""

    url: str
    """Where to POST the event: an http:// or https:// URL. Redirects are not followed."""
    secret_env: EnvVar = ""
    """The NAME of the variable holding this receiver's secret; empty for the setting's."""

    def __post_init__(self) -> None:
        if (problem := url_problem(self.url)) is not None:
            raise ValueError(problem)


class HttpCrmSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[crm.settings]`` when ``[crm] adapter = "http"``: the endpoint that flags renewals."""

    url: str
    """Where to POST each renewal flag: an http:// or https:// URL."""
    token_env: EnvVar = ""
    """The NAME of the variable holding a bearer token; empty to send no Authorization."""
    timeout_seconds: Seconds = 10.0
    """How long to wait to connect, and then for the response."""

    def __post_init__(self) -> None:
        if (problem := url_problem(self.url)) is not None:
            raise ValueError(problem)
