"""Routes for ingest (being built under issue 5)."""

from __future__ import annotations

from litestar import Router
from telltales.plugins import Registry


def router_for(registry: Registry) -> Router:
    """One ``POST /v1/ingest/{source}`` route per ingester the plugins registered."""
    return Router(path="/v1", route_handlers=[])
