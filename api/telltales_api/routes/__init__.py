"""Every route of the API, one module per concern, each exporting ``router``."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler
from telltales.plugins import Registry

from . import (
    accounts,
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
        tasks.router,
        deliveries.router,
        pilots.router,
        renewals.router,
        history.router,
        metrics.router,
        keys.router,
    ]
