"""One JSON POST, and what its answer means for a retry: shared by the webhook and the CRM.

Retrying only what can succeed later keeps the outbox honest: a timeout, a refused
connection, 408, 425, 429 or a 5xx may pass next time; any other answer (a 400, a 401,
a 404, a redirect, which is never followed) will be the same tomorrow, so it is
reported at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx
from telltales import ActionOutcome

from .outcomes import quote

RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""4xx answers that mean "not now": timeout, too early, too many requests."""


def post_json(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout_seconds: float,
    hide: Sequence[str] = (),
) -> ActionOutcome:
    """POST ``body`` to ``url`` once; ``hide`` are strings the detail must never show."""
    try:
        with httpx.Client(timeout=timeout_seconds, follow_redirects=False) as client:
            response = client.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}
            )
    except httpx.TimeoutException:
        detail = f"no answer within {timeout_seconds:g} s"
        return ActionOutcome(delivered=False, retryable=True, detail=detail)
    except httpx.TransportError as error:
        reason = quote(str(error) or type(error).__name__, hide=hide)
        return ActionOutcome(delivered=False, retryable=True, detail=f"cannot connect: {reason}")
    return outcome_of(response.status_code, response.text, hide=hide)


def outcome_of(status: int, text: str, *, hide: Sequence[str] = ()) -> ActionOutcome:
    """``HTTP 200`` for a 2xx; otherwise the status and the start of the body."""
    if 200 <= status < 300:
        return ActionOutcome(delivered=True, detail=f"HTTP {status}")
    detail = f"HTTP {status}"
    if 300 <= status < 400:
        detail += " (redirects are not followed)"
    if answer := quote(text, hide=hide):
        detail += f": {answer}"
    retryable = status in RETRYABLE_STATUSES or status >= 500
    return ActionOutcome(delivered=False, retryable=retryable, detail=detail)
