"""What telltales serves from its own files: vendored front-end packages, under /static.

Every script, style and icon a page of telltales uses comes from here, vendored from
the npm registry with its licence (``static/vendor/assets.json``, refreshed by
``python3 dev.py vendor``), so the OpenAPI page and the CSM's pages work on a machine
with no way out to the internet and load nothing from a third party's server.
"""

from __future__ import annotations

from pathlib import Path

from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

STATIC = Path(__file__).parent / "static"
PREFIX = "/static"
SWAGGER = f"{PREFIX}/vendor/swagger-ui-dist"
CACHE_SECONDS = 3600
"""Vendored files change only with a release; an hour keeps a page's reloads cheap."""


def static_router() -> Router:
    """``/static/...``: public (no key), never in the API's schema."""
    return create_static_files_router(
        path=PREFIX,
        directories=[STATIC],
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=CACHE_SECONDS, public=True),
        send_as_attachment=False,
        html_mode=False,
        name="static",
    )


def swagger_page() -> SwaggerRenderPlugin:
    """Swagger UI at /schema, its script, style and icon served by telltales."""
    return SwaggerRenderPlugin(
        path="/",
        js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{SWAGGER}/favicon-32x32.png'>",
    )
