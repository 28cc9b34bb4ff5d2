"""Every route of the API, one module per concern, each exporting ``router``.

A module's router carries its OpenAPI tag and, under ``/v1``, the API-key security
requirement: litestar layers both onto every handler of the router, so a handler
added to a module is tagged and secured like its neighbours without saying so.
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler
from telltales.plugins import Registry

from . import (
    accounts,
    backtests,
    deliveries,
    health,
    history,
    ingest,
    keys,
    metrics,
    pilots,
    plugins,
    probes,
    renewals,
    runs,
    tasks,
)


def route_handlers(registry: Registry) -> list[ControllerRouterHandler]:
    """Every router; ingestion serves one route per record type the plugins declare."""
    return [
        probes.router,
        plugins.router,
        accounts.router,
        health.router,
        ingest.router_for(registry),
        runs.router,
        backtests.router,
        tasks.router,
        deliveries.router,
        pilots.router,
        renewals.router,
        history.router,
        metrics.router,
        keys.router,
    ]
