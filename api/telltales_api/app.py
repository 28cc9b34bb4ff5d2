"""The litestar application factory."""

from __future__ import annotations

from litestar import Litestar, get
from telltales import PLUGIN_API_VERSION, __version__


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok", "version": __version__, "plugin_api_version": PLUGIN_API_VERSION}


def create_app() -> Litestar:
    """Build the app; routes for accounts, health and metrics arrive with the API issue."""
    return Litestar(route_handlers=[healthz])
