"""Probes for an orchestrator: alive, and ready to answer."""

from __future__ import annotations

import threading

import msgspec
from litestar import Router, get
from litestar.exceptions import HTTPException
from telltales import PLUGIN_API_VERSION, __version__, clock
from telltales.models import StaleSource, stale_among
from telltales.signals.freshness import default_limits, source_days

from telltales_api.context import ApiContext, Context
from telltales_api.freshness import change_stamp


class Liveness(msgspec.Struct, kw_only=True):
    status: str
    version: str
    plugin_api_version: str


class Readiness(msgspec.Struct, kw_only=True):
    status: str
    database: str
    plugin_failures: int
    stale: list[StaleSource] = msgspec.field(default_factory=list)
    """Sources whose latest data is older than their freshness limit today (UTC): a
    run now would leave their signals out. The service is still ready; the data is not
    fresh."""


@get("/healthz", sync_to_thread=False, tags=["probes"])
def healthz() -> Liveness:
    """Liveness: the process answers."""
    return Liveness(status="ok", version=__version__, plugin_api_version=PLUGIN_API_VERSION)


@get("/readyz", sync_to_thread=True, tags=["probes"])
def readyz(context: Context) -> Readiness:
    """Readiness: the database answers a query."""
    try:
        context.store.db.execute("SELECT 1 FROM accounts LIMIT 1").fetchall()
    except Exception as error:
        raise HTTPException(status_code=503, detail="the database does not answer") from error
    return Readiness(
        status="ok",
        database=str(context.store.path),
        plugin_failures=len(context.registry.failures),
        stale=_STALE.today(context),
    )


class _StaleToday:
    """Each thread's answer, kept until the database changes or the day turns.

    Reading every source's latest day is one index seek per account and table: too
    much for a probe polled every few seconds, and the answer only moves with a write
    or with the date.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def today(self, context: ApiContext) -> list[StaleSource]:
        db = context.store.db
        key = (change_stamp(db.conn), clock.today())
        cached: tuple[object, list[StaleSource]] | None = getattr(self._local, "cached", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        limits = context.plan.freshness or default_limits(context.registry)
        found = stale_among(source_days(db, limits, key[1]), key[1])
        self._local.cached = (key, found)
        return found


_STALE = _StaleToday()


router = Router(path="/", route_handlers=[healthz, readyz])
