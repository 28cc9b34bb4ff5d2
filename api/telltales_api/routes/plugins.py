"""``GET /v1/plugins``: what is installed, what it registers, and what failed to load."""

from __future__ import annotations

import msgspec
from litestar import Router, get
from telltales import PLUGIN_API_VERSION, __version__
from telltales.plugins import PluginFailure, PluginInfo

from telltales_api.auth import SECURITY, needs
from telltales_api.context import Context
from telltales_api.problems import problem_responses


class PluginsReport(msgspec.Struct, kw_only=True):
    version: str
    plugin_api_version: str
    plugins: list[PluginInfo]
    failures: list[PluginFailure]
    """Plugins left out, with the stage (``load``, ``register``, or ``migrate`` when the
    database was opened) and the error."""


@get(
    "/plugins",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(401, 403),
)
def list_plugins(context: Context) -> PluginsReport:
    """Installed plugins, their versions and hooks, and load errors."""
    registry = context.registry
    return PluginsReport(
        version=__version__,
        plugin_api_version=PLUGIN_API_VERSION,
        plugins=registry.plugins,
        failures=registry.failures,
    )


router = Router(path="/v1", tags=["plugins"], security=SECURITY, route_handlers=[list_plugins])
