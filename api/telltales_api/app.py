"""The litestar application factory."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from telltales import __version__
from telltales.plugins import load_registry

from .auth import COMPONENTS, authorize, current_key
from .context import ApiContext, ApiSettings
from .problems import EXCEPTION_HANDLERS
from .routes import route_handlers

DESCRIPTION = """\
Accounts, health with its reasons, tasks, pilots, renewals and the metrics that show
whether the program works. Every `/v1` route needs an API key (`telltales keys
create`) sent as `Authorization: Bearer tt_...`; errors are RFC 9457 problem details.
"""


def _context(state: State) -> ApiContext:
    context: ApiContext = state.telltales
    return context


def create_app(settings: ApiSettings | None = None) -> Litestar:
    """Build the app for the installed plugins; the store and configuration open at startup."""
    settings = settings or ApiSettings.from_env()
    registry = load_registry()

    def open_context(app: Litestar) -> None:
        app.state.telltales = ApiContext.open(settings, registry)

    def close_context(app: Litestar) -> None:
        context: ApiContext | None = app.state.get("telltales")
        if context is not None:
            context.close()

    return Litestar(
        route_handlers=route_handlers(registry),
        on_startup=[open_context],
        on_shutdown=[close_context],
        guards=[authorize],
        dependencies={
            "context": Provide(_context, sync_to_thread=False),
            "key": Provide(current_key, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="telltales",
            version=__version__,
            description=DESCRIPTION,
            components=COMPONENTS,
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/"), JsonRenderPlugin(path="/openapi.json")],
        ),
        debug=False,
    )
