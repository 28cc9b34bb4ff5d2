"""Every route of the app with the scope it requires, read from the app itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from litestar import Litestar
from litestar.routes import HTTPRoute
from telltales_api import create_app
from telltales_api.auth import SCOPE_OPT
from telltales_api.context import ApiSettings

OPEN_PATHS = {"/healthz", "/readyz"}
"""Probes: an orchestrator calls them without a key."""


SCHEMA_PREFIX = "/schema"
"""The OpenAPI schema and its UI: public, they describe the API, not its data."""


def app_routes(app: Litestar) -> list[tuple[str, str, str | None]]:
    """(method, path with sample parameters, scope) of every handler but OPTIONS.

    litestar answers OPTIONS itself on every path (the methods allowed, no data).
    """
    found: list[tuple[str, str, str | None]] = []
    for route in app.routes:
        assert isinstance(route, HTTPRoute), f"{route.path}: only HTTP routes are expected"
        path = route.path_format
        for name, parameter in route.path_parameters.items():
            sample = {str: "no-such-thing", int: "999999", dt.date: "2026-01-01"}[parameter.type]
            path = path.replace(f"{{{name}}}", sample)
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"OPTIONS"}):
                found.append((str(method), path, handler.opt.get(SCOPE_OPT)))
    return found


ROUTES = app_routes(create_app(ApiSettings(db=Path("never-opened.db"))))


LOCKED = [(method, path, scope) for method, path, scope in ROUTES if scope is not None]


def route_id(route: tuple[str, str, str | None]) -> str:
    return f"{route[0]} {route[1]}"
