"""The app the API load benchmark serves: telltales' own, plus a bare baseline route.

The baseline is the least a litestar endpoint can do with this database: read one
account row by primary key on a per-thread ``sqlite3`` connection and return it as
JSON, with no authentication. It is served by the same granian process, so the
ratio compares the handlers and nothing else.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import msgspec
from litestar import Litestar, get
from litestar.exceptions import NotFoundException
from telltales_api import create_app
from telltales_api.context import ApiSettings

_local = threading.local()


class BareAccount(msgspec.Struct):
    account_id: str
    name: str
    csm_group: str
    arr: float


def _connection(path: str) -> sqlite3.Connection:
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(path, check_same_thread=False)
        _local.conn = conn
    return conn


def app() -> Litestar:
    """granian's factory: ``telltales_api`` with ``GET /bench/bare/{account_id}`` added."""
    settings = ApiSettings.from_env()
    path = str(settings.db)

    @get("/bench/bare/{account_id:str}", sync_to_thread=False)
    def bare(account_id: str) -> BareAccount:
        row: Any = (
            _connection(path)
            .execute(
                "SELECT account_id, name, csm_group, arr FROM accounts WHERE account_id = ?",
                [account_id],
            )
            .fetchone()
        )
        if row is None:
            raise NotFoundException(f"no account {account_id}")
        return BareAccount(*row)

    application = create_app(settings)
    application.register(bare)
    return application
