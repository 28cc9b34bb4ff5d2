"""Probes for an orchestrator: alive, and ready to answer."""

from __future__ import annotations

import msgspec
from litestar import Router, get
from litestar.exceptions import HTTPException
from telltales import PLUGIN_API_VERSION, __version__

from telltales_api.context import Context
from telltales_api.problems import ProblemError


class Liveness(msgspec.Struct, kw_only=True):
    status: str
    version: str
    plugin_api_version: str


class Readiness(msgspec.Struct, kw_only=True):
    status: str
    database: str
    plugin_failures: int


@get("/healthz", sync_to_thread=False, tags=["probes"])
def healthz() -> Liveness:
    """Liveness: the process answers."""
    return Liveness(status="ok", version=__version__, plugin_api_version=PLUGIN_API_VERSION)


@get("/readyz", sync_to_thread=False, tags=["probes"])
def readyz(context: Context) -> Readiness:
    """Readiness: the database answers a query, from the file its path names."""
    try:
        context.store.db.execute("SELECT 1 FROM accounts LIMIT 1").fetchall()
    except Exception as error:
        raise HTTPException(status_code=503, detail="the database does not answer") from error
    replaced = context.database_replaced()
    if replaced is not None:
        raise ProblemError(503, replaced)
    return Readiness(
        status="ok",
        database=str(context.store.path),
        plugin_failures=len(context.registry.failures),
    )


router = Router(path="/", route_handlers=[healthz, readyz])
