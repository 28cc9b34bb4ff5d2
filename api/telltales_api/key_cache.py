"""Checked API keys, remembered until the database changes.

Every request under ``/v1`` carries a key, and checking one is a read, a hash and a
decode. The answer (a key, or None for an unknown or revoked one) is kept per
thread and dropped as soon as anything is written to the database
(``freshness.change_stamp``), so a revocation is still refused on the very next
request.
"""

from __future__ import annotations

import threading

from telltales.store import Store
from telltales.store.keys import ApiKey, verify_token

from telltales_api.freshness import Stamp, change_stamp

MAX_TOKENS = 10_000
"""Per thread; a flood of made-up tokens cannot grow the cache past this."""


class _Entries:
    __slots__ = ("connection", "keys", "stamp")

    def __init__(self, connection: object, stamp: Stamp) -> None:
        self.connection = connection
        self.stamp = stamp
        self.keys: dict[str, ApiKey | None] = {}


class KeyCache:
    """What :func:`telltales.store.keys.verify_token` answered, per thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def verify(self, store: Store, token: str) -> tuple[ApiKey | None, Stamp]:
        """The token's live key (None if unknown or revoked) and the stamp it was read at."""
        connection = store.db.conn
        stamp = change_stamp(connection)
        entries: _Entries | None = getattr(self._local, "entries", None)
        if entries is None or entries.connection is not connection or entries.stamp != stamp:
            entries = _Entries(connection, stamp)
            self._local.entries = entries
        if token in entries.keys:
            return entries.keys[token], stamp
        key = verify_token(store, token)
        if len(entries.keys) < MAX_TOKENS:
            entries.keys[token] = key
        return key, stamp
