"""Every route of the API, one module per concern, each exporting ``router``."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from . import (
    accounts,
    health,
    history,
    ingest,
    metrics,
    pilots,
    plugins,
    probes,
    renewals,
    runs,
    tasks,
)

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    probes.router,
    plugins.router,
    accounts.router,
    health.router,
    ingest.router,
    runs.router,
    tasks.router,
    pilots.router,
    renewals.router,
    history.router,
    metrics.router,
]
