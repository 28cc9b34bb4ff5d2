"""Page sessions: an API key exchanged for a browser's session cookie.

A person signs in to the pages with an API key; the browser then holds a session
token instead of the key. Only the SHA-256 of the token is stored (as for keys: it
is 32 random bytes, nothing to guess). A session carries its key's scopes and CSM
groups by reference, so revoking the key ends every session made with it on the next
request; a session also ends when it expires or when its holder signs out. Each
session has its own CSRF token, which every form of the pages carries back.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from telltales import clock
from telltales.store import Store
from telltales.store.keys import ApiKey, key_by_id

SESSION_HOURS = 12
"""How long a session lasts after sign-in, whatever is done with it: a working day."""


@dataclass(frozen=True)
class PageSession:
    key: ApiKey
    """The key signed in with, as it is now (live: a revoked key has no session)."""
    csrf_token: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(store: Store, key: ApiKey, hours: int = SESSION_HOURS) -> tuple[str, PageSession]:
    """A new session for ``key``: its token (for the cookie, never stored) and itself."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = clock.now()
    expires = now + timedelta(hours=hours)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO page_sessions (token_hash, key_id, csrf_token, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [_hash(token), key.key_id, csrf, now.isoformat(), expires.isoformat()],
        )
    return token, PageSession(key=key, csrf_token=csrf, expires_at=expires)


def find_session(store: Store, token: str) -> PageSession | None:
    """The live session of ``token``: not expired, not signed out, its key not revoked."""
    if not token or len(token) > 200:
        return None
    row = store.db.execute(
        "SELECT key_id, csrf_token, expires_at, ended_at FROM page_sessions WHERE token_hash = ?",
        [_hash(token)],
    ).fetchone()
    if row is None or row[3] is not None:
        return None
    expires = datetime.fromisoformat(row[2])
    if expires <= clock.now():
        return None
    key = key_by_id(store, row[0])
    if key is None or key.revoked_at is not None:
        return None
    return PageSession(key=key, csrf_token=row[1], expires_at=expires)


def end_session(store: Store, token: str) -> None:
    """Sign out: the token opens nothing any more."""
    with store.transaction() as db:
        db.execute(
            "UPDATE page_sessions SET ended_at = ? WHERE token_hash = ? AND ended_at IS NULL",
            [clock.now().isoformat(), _hash(token)],
        )
