"""Probes for an orchestrator: alive, and ready to answer; and for monitoring, degraded.

A plugin left out at start (it failed to load or to register) leaves the server up
and every run without that plugin's signals: nothing a restart or another replica
fixes, and nothing a load balancer should act on, so both probes keep their status
code and say ``"status": "degraded"`` with the plugins left out, for monitoring to
alert on. They name the plugin and the stage, not the error: the probes need no key,
and a plugin's error can hold whatever its code put there; ``GET /v1/plugins`` (a read
key) and ``telltales plugins`` give it.
"""

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
from telltales_api.problems import ProblemError


class LeftOut(msgspec.Struct, kw_only=True):
    plugin: str
    stage: str
    """``load`` (it could not be imported or implements an unknown hook) or
    ``register`` (it raised or registered something malformed)."""


class Liveness(msgspec.Struct, kw_only=True):
    status: str
    """``ok``, or ``degraded`` while ``plugins_left_out`` names any."""
    version: str
    plugin_api_version: str
    plugins_left_out: list[LeftOut]


class Readiness(msgspec.Struct, kw_only=True):
    status: str
    """``ok``, or ``degraded`` while ``plugins_left_out`` names any."""
    database: str
    plugin_failures: int
    plugins_left_out: list[LeftOut]
    stale: list[StaleSource] = msgspec.field(default_factory=list)
    """Sources whose latest data is older than their freshness limit today (UTC): a
    run now would leave their signals out. The service is still ready; the data is not
    fresh."""


def _left_out(context: ApiContext) -> list[LeftOut]:
    return [LeftOut(plugin=f.plugin, stage=f.stage) for f in context.registry.failures]


@get("/healthz", sync_to_thread=False)
def healthz(context: Context) -> Liveness:
    """Liveness: the process answers (200 while it does); degraded while a plugin is left out."""
    left_out = _left_out(context)
    return Liveness(
        status="degraded" if left_out else "ok",
        version=__version__,
        plugin_api_version=PLUGIN_API_VERSION,
        plugins_left_out=left_out,
    )


@get("/readyz", sync_to_thread=True)
def readyz(context: Context) -> Readiness:
    """Readiness: the database answers a query, from the file its path names (503 if not);
    degraded, still 200, while a plugin is left out; ``stale`` names the sources whose
    data is older than their freshness limit today."""
    try:
        context.store.db.execute("SELECT 1 FROM accounts LIMIT 1").fetchall()
    except Exception as error:
        raise HTTPException(status_code=503, detail="the database does not answer") from error
    replaced = context.database_replaced()
    if replaced is not None:
        raise ProblemError(503, replaced)
    left_out = _left_out(context)
    return Readiness(
        status="degraded" if left_out else "ok",
        database=str(context.store.path),
        plugin_failures=len(left_out),
        plugins_left_out=left_out,
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


router = Router(path="/", tags=["probes"], route_handlers=[healthz, readyz])
