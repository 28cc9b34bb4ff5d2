"""A server span and a duration for every request, named by its route.

Written here rather than taken from ``opentelemetry-instrumentation-asgi`` (which
litestar's OpenTelemetry plugin wraps) because that package names spans by the raw
path (``GET /v1/accounts/ferrum``: one span name per account) and wraps every ASGI
message in a span of its own; naming by the route template (``GET
/v1/accounts/{account_id}``) needs litestar's ``path_template``, which is known only
after routing. This wrapper sits outside the whole app, so unknown routes (404) and
refused methods (405) are traced too; it never records headers, the query string or
bodies (an API key travels in a header).
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import SpanKind, Status, StatusCode, TracerProvider
from telltales import __version__

KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


class RequestSpans:
    """Wraps an ASGI app: one SERVER span per HTTP request, continuing a caller's trace."""

    def __init__(
        self,
        app: ASGIApp,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.app = app
        self.tracer = trace.get_tracer("telltales.api", __version__, tracer_provider)
        meter = metrics.get_meter("telltales.api", __version__, meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Time to answer a request, by method, route and status.",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method"))
        if method not in KNOWN_METHODS:
            method = "_OTHER"
        carrier = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        started = perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with self.tracer.start_as_current_span(
            method,
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            },
        ) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                attributes: dict[str, Any] = {"http.request.method": method}
                route = scope.get("path_template")
                if route:
                    span.update_name(f"{method} {route}")
                    attributes["http.route"] = route
                if status:
                    attributes["http.response.status_code"] = status
                if status >= 500 or not status:
                    attributes["error.type"] = str(status) if status else "no response"
                    span.set_status(Status(StatusCode.ERROR))
                span.set_attributes(attributes)
                self.duration.record(perf_counter() - started, attributes)
