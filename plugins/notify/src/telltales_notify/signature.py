"""Signing webhook bodies, and checking them on the receiving side.

The signature covers the timestamp as well as the body, so a captured request cannot be
replayed later with a fresh timestamp; a receiver refuses timestamps outside its
tolerance. A receiver written in Python can import this module as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body`` keyed with ``secret``."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` is ours for ``timestamp`` and ``body``, sent at most
    ``tolerance_seconds`` away from ``now`` (default: the clock).

    ``timestamp`` and ``body`` are the raw ``X-Telltales-Timestamp`` header and the
    request's bytes exactly as received, before any JSON parsing. The comparison takes
    the same time whatever the signature, so it leaks nothing about the right one.
    """
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, signature.encode())
