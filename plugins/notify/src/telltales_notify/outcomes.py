"""How every delivery reports back: a one-line detail that never carries a secret.

Details end up in the outbox, in ``telltales`` listings and in logs, where anyone
operating the system reads them, so a password, token or signing secret that a server
happens to echo is masked before it gets there.
"""

from __future__ import annotations

from collections.abc import Iterable

from telltales import ActionOutcome

from .summary import one_line

DETAIL_LIMIT = 200
"""How much of a server's answer a detail quotes, in characters."""


def quote(text: str, *, hide: Iterable[str] = ()) -> str:
    """A server's answer as one line of at most ``DETAIL_LIMIT`` characters, secrets masked."""
    for secret in hide:
        if secret:
            text = text.replace(secret, "[hidden]")
    text = one_line(text)
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 3] + "..."


def missing_secret(variable: str, what: str) -> ActionOutcome:
    """Refuse for good: without the secret every retry fails the same way."""
    return ActionOutcome(
        delivered=False,
        retryable=False,
        detail=f"environment variable {variable} holding {what} is not set or empty",
    )
