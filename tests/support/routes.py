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


def app_routes(app: Litestar, *, pages: bool = False) -> list[tuple[str, str, str | None]]:
    """(method, path with sample parameters, scope) of every API handler but OPTIONS;
    with ``pages``, of the pages' and static files' handlers instead (not in the schema:
    pages are read with a session cookie, not a key; tests/pages cover them).

    litestar answers OPTIONS itself on every path (the methods allowed, no data).
    """
    found: list[tuple[str, str, str | None]] = []
    for route in app.routes:
        assert isinstance(route, HTTPRoute), f"{route.path}: only HTTP routes are expected"
        path = route.path_format
        for name, parameter in route.path_parameters.items():
            sample = {str: "no-such-thing", int: "999999", dt.date: "2026-01-01"}
            path = path.replace(f"{{{name}}}", sample.get(parameter.type, "no-such-file"))
        for handler in route.route_handlers:
            schema = route.path.startswith(SCHEMA_PREFIX)
            if (not handler.resolve_include_in_schema() and not schema) != pages:
                continue
            for method in sorted(handler.http_methods - {"OPTIONS"}):
                found.append((str(method), path, handler.opt.get(SCOPE_OPT)))
    # By path and method: litestar's order of one path's handlers varies between
    # processes, and pytest-xdist's workers must collect the same tests in one order.
    return sorted(found, key=lambda route: (route[1], route[0]))


APP = create_app(ApiSettings(db=Path("never-opened.db")))
ROUTES = app_routes(APP)
PAGE_ROUTES = app_routes(APP, pages=True)
"""The pages and /static: outside the API's schema and its keys."""


LOCKED = [(method, path, scope) for method, path, scope in ROUTES if scope is not None]


def route_id(route: tuple[str, str, str | None]) -> str:
    return f"{route[0]} {route[1]}"
