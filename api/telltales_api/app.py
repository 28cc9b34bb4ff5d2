"""The litestar application factory."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.params import BodyKwarg
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider
from telltales import __version__
from telltales.models import date_problem
from telltales.plugins import Registry, load_registry

from . import pages
from .auth import COMPONENTS, SCOPE_OPT, Authorize, request_key
from .context import ApiContext, ApiSettings
from .idempotency import METHODS as IDEMPOTENT_METHODS
from .idempotency import Idempotency
from .problems import EXCEPTION_HANDLERS, ApiRequest, FieldError, ProblemError, problem_responses
from .routes import route_handlers
from .schema_constraints import state_constraints
from .static_assets import static_router, swagger_page
from .strict_body import ALSO_ACCEPTS
from .tracing import RequestSpans

DESCRIPTION = """\
Accounts, health with its reasons, tasks, pilots, renewals and the metrics that show
whether the program works. Every `/v1` route needs an API key (`telltales keys
create`) sent as `Authorization: Bearer tt_...`; errors are RFC 9457 problem details.
"""


QUIET_LOGGERS = ("httpx", "httpcore")
"""Held at WARNING: httpx logs every request's full URL at INFO, and a webhook's or a
CRM's URL can carry a token in its path or query."""


def logging_config() -> LoggingConfig:
    """Litestar's logging, with the root logger at WARNING rather than litestar's INFO.

    Litestar configures the root logger of the process it runs in; at INFO that would
    print what any library says at INFO, URLs included. telltales itself logs only
    warnings and errors (``telltales.api``).
    """
    return LoggingConfig(
        root={"level": "WARNING", "handlers": ["queue_listener"]},
        loggers={
            "litestar": {"level": "INFO", "handlers": ["queue_listener"], "propagate": False},
            **{name: {"level": "WARNING"} for name in QUIET_LOGGERS},
        },
    )


def _context(state: State) -> ApiContext:
    context: ApiContext = state.telltales
    return context


SQLITE_INTEGER = range(-(2**63), 2**63)
MAX_QUERY_BYTES = 8192
"""A query string's length: every filter of every route fits many times over."""


def _day(text: str) -> date | None:
    """``text`` as a date if it is one (YYYY-MM-DD), else None."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


async def check_request(request: Request[Any, Any, Any]) -> None:
    """Refuse, before any handler runs, what no handler should have to think of.

    An integer path parameter too large for SQLite would fail deep in a query as an
    OverflowError (a 500); a body sent as something other than JSON to a route that
    decodes JSON would come back as "malformed JSON" and send the caller looking in
    the wrong place (415 says what to send instead). A date in a query outside the
    days telltales reasons about (a year typed as 0001) would overflow date arithmetic.
    A query string of more than ``MAX_QUERY_BYTES`` is no filter anyone means: it is
    refused before it is parsed or matched against anything.
    """
    query = request.scope.get("query_string", b"")
    if len(query) > MAX_QUERY_BYTES:
        raise ProblemError(
            400,
            f"the query string is {len(query)} bytes; at most {MAX_QUERY_BYTES}",
            errors=[FieldError(field="query", reason=f"longer than {MAX_QUERY_BYTES} bytes")],
        )
    for name, text in request.query_params.items():
        day = _day(text)
        problem = None if day is None else date_problem(day)
        if problem is not None:
            raise ProblemError(
                400,
                f"query.{name}: {problem}",
                errors=[FieldError(field=f"query.{name}", reason=problem)],
            )
    for name, value in request.path_params.items():
        if isinstance(value, int) and value not in SQLITE_INTEGER:
            raise ProblemError(
                400,
                f"path.{name}: out of range",
                errors=[FieldError(field=f"path.{name}", reason="out of range")],
            )
    parameter = request.route_handler.parsed_fn_signature.parameters.get("data")
    if parameter is None:
        return
    body = parameter.kwarg_definition
    if isinstance(body, BodyKwarg) and body.media_type != RequestEncodingType.JSON:
        return
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    others: tuple[str, ...] = request.route_handler.opt.get(ALSO_ACCEPTS, ())
    if media_type in others:
        return
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        wanted = " or ".join(("application/json", *others))
        raise ProblemError(
            415,
            "send the body as JSON with 'Content-Type: application/json'"
            + "".join(f" (or {other})" for other in others)
            + f", not {media_type!r}",
            errors=[FieldError(field="header.Content-Type", reason=f"must be {wanted}")],
        )


def _document_platform_errors(app: Litestar) -> None:
    """Add to each route's schema the errors the app answers before its handler does.

    A query string can be too long (400) on any route; a body can be too large (413)
    or not JSON (415) on any route that takes one, and an Idempotency-Key can be
    malformed (400), in flight (409) or reused (422) on any POST or PUT; the route's
    own declarations, if any, take precedence.
    """
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if handler.opt.get(SCOPE_OPT) is None:
                continue
            statuses = [400]
            if "data" in handler.parsed_fn_signature.parameters:
                statuses += [413, 415]
            if handler.http_methods & IDEMPOTENT_METHODS:
                statuses += [409, 422]
            handler.responses = {**problem_responses(*statuses), **(handler.responses or {})}


def create_app(
    settings: ApiSettings | None = None,
    *,
    registry: Registry | None = None,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> Litestar:
    """Build the app; the store and configuration open at startup.

    ``registry`` defaults to the installed plugins (``telltales.testing`` passes the
    plugins a test registered); the providers default to the global ones, which
    :func:`telltales.observability.configure` installs.
    """
    settings = settings or ApiSettings.from_env()
    registry = load_registry() if registry is None else registry

    def open_context(app: Litestar) -> None:
        app.state.telltales = ApiContext.open(settings, registry)

    def close_context(app: Litestar) -> None:
        context: ApiContext | None = app.state.get("telltales")
        if context is not None:
            context.close()

    app = Litestar(
        route_handlers=[*route_handlers(registry), static_router(), pages.router],
        template_config=pages.template_config(),
        on_startup=[open_context],
        on_shutdown=[close_context],
        middleware=[Authorize(), Idempotency()],
        before_request=check_request,
        dependencies={
            "context": Provide(_context, sync_to_thread=False),
            "key": Provide(request_key, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=ApiRequest,
        logging_config=logging_config(),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="telltales",
            version=__version__,
            description=DESCRIPTION,
            components=COMPONENTS,
            path="/schema",
            render_plugins=[swagger_page(), JsonRenderPlugin(path="/openapi.json")],
        ),
        debug=False,
    )
    _document_platform_errors(app)
    state_constraints(app)
    # Outside litestar's own exception handling, so a 404 or a 405 has its span too.
    app.asgi_handler = RequestSpans(app.asgi_handler, tracer_provider, meter_provider)
    return app
