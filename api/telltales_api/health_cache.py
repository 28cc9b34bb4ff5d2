"""Encoded health documents, served again until the database changes.

``GET /v1/accounts/{id}/health`` is composed from about ten indexed queries, and a
dashboard or a bot reads the same accounts again and again between two runs. This
cache keeps the encoded JSON per (account, day asked for) and empties itself as
soon as the database has changed (``freshness.change_stamp``, read before every
lookup), so a run, a transition, a completed task or an upserted account is visible
on the very next request. Each thread has its own connection, so its own cache.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from telltales_api.freshness import Stamp

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Per thread: room for the health of some 8,000 accounts (about 8 KB each)."""

CacheKey = tuple[str, date | None]
"""(account_id, the ``as_of`` asked for; None for the default)."""


@dataclass(frozen=True, slots=True)
class CachedHealth:
    """An account's encoded health, with the group that decides who may read it."""

    csm_group: str
    body: bytes


class HealthEntries:
    """One thread's entries, least recently used first, within a byte budget."""

    __slots__ = ("_entries", "_max_bytes", "_size", "connection", "stamp")

    def __init__(self, connection: sqlite3.Connection, stamp: Stamp, max_bytes: int):
        self.connection = connection
        self.stamp = stamp
        self._max_bytes = max_bytes
        self._entries: OrderedDict[CacheKey, CachedHealth] = OrderedDict()
        self._size = 0

    def get(self, key: CacheKey) -> CachedHealth | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: CacheKey, value: CachedHealth) -> None:
        if len(value.body) > self._max_bytes:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._size -= len(previous.body)
        self._entries[key] = value
        self._size += len(value.body)
        while self._size > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted.body)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._size


class HealthCache:
    """The health documents of every thread, each thread's checked against its connection."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._local = threading.local()

    def entries(self, connection: sqlite3.Connection, stamp: Stamp) -> HealthEntries:
        """This thread's entries, emptied first if the database changed since they were read.

        ``stamp`` is ``freshness.change_stamp(connection)`` read at the start of the
        request (the auth middleware reads it once for every cache); a commit after it
        only makes the next request empty the entries again.
        """
        current: HealthEntries | None = getattr(self._local, "entries", None)
        if current is None or current.connection is not connection or current.stamp != stamp:
            current = HealthEntries(connection, stamp, self.max_bytes)
            self._local.entries = current
        return current
