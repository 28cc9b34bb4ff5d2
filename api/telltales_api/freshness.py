"""When did this database last change? The stamp the in-memory caches check.

``PRAGMA data_version`` of a connection moves when another connection commits, and
the connection's own ``total_changes`` moves with its own writes; together they
change whenever anything is written, by this process or another (the CLI, a
worker). Reading both costs a few microseconds. ``data_version`` means something
only to the connection that read it, so caches that use the stamp are per thread,
like the connections.
"""

from __future__ import annotations

import sqlite3

Stamp = tuple[int, int]


def change_stamp(connection: sqlite3.Connection) -> Stamp:
    """A value that differs as soon as anything was committed since the last call."""
    (version,) = connection.execute("PRAGMA data_version").fetchone()
    return version, connection.total_changes
