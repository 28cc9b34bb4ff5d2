"""OpenTelemetry: the exporters chosen by the standard variables, and the product's counters.

Spans and counters go through the OpenTelemetry API everywhere; until a process
installs providers they cost next to nothing and go nowhere. :func:`configure`
installs them once per process, from ``OTEL_TRACES_EXPORTER`` and
``OTEL_METRICS_EXPORTER`` (``console``, ``otlp`` or ``none``; default ``none``, so
nothing leaves the machine unless asked). ``telltales serve`` calls it in each
worker; the long commands (``run``, ``worker``) call it when they start.

The counters answer "is the program doing its work": rows ingested by ingester,
signals computed by source, rules fired by rule, action attempts delivered or
failed by action, and plugin failures by plugin and component.

A plugin that fails during a run or a delivery is reported in three places at once
(:func:`plugin_failed`): its span, the failure counter, and a warning on the
``telltales`` logger, so an operator finds it whichever of them they watch.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace import Span, Status, StatusCode

from telltales.errors import ConfigError
from telltales.version import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

TRACES_ENV = "OTEL_TRACES_EXPORTER"
METRICS_ENV = "OTEL_METRICS_EXPORTER"
EXPORTERS = ("console", "otlp", "none")
OTLP_PACKAGE = "opentelemetry-exporter-otlp"
OTLP_INSTALL = "pip install 'telltales[otlp]'"
_PROTOCOLS = ("http/protobuf", "grpc")

_meter = metrics.get_meter("telltales", __version__)
ROWS_INGESTED = _meter.create_counter(
    "telltales.ingest.rows",
    unit="{row}",
    description="Records stored, by ingester (telltales.ingester).",
)
SIGNALS_COMPUTED = _meter.create_counter(
    "telltales.signals.computed",
    unit="{signal}",
    description="Signals a source computed in a run, by source (telltales.source).",
)
RULES_FIRED = _meter.create_counter(
    "telltales.rules.fired",
    unit="{firing}",
    description="Rules that fired for an account, by rule and mode (live or shadow).",
)
ACTIONS_DELIVERED = _meter.create_counter(
    "telltales.actions.delivered",
    unit="{attempt}",
    description="Outbox attempts that delivered, by action (telltales.action).",
)
ACTIONS_FAILED = _meter.create_counter(
    "telltales.actions.failed",
    unit="{attempt}",
    description="Outbox attempts that failed (retried or given up), by action.",
)

PLUGIN_FAILURES = _meter.create_counter(
    "telltales.plugin.failures",
    unit="{failure}",
    description="Plugin components that failed in a run or an attempt, by plugin and component.",
)

log = logging.getLogger("telltales")


def plugin_failed(
    span: Span,
    *,
    plugin: str,
    component: str,
    error: str,
    where: str,
    exception: BaseException | None = None,
) -> None:
    """Report one failure of a plugin's component on its span, the counter and the log.

    ``component`` is ``source:<name>``, ``scorer:<name>`` or ``action:<name>``;
    ``where`` says which run or delivery attempt it spoilt. ``error`` is the one-line
    message already recorded with the run or the attempt (actions mask the secrets in
    theirs), never a traceback; the log record carries ``plugin``, ``component`` and
    ``error`` as attributes too, for structured handlers.
    """
    if exception is not None:
        span.record_exception(exception)
    span.set_status(Status(StatusCode.ERROR, error))
    PLUGIN_FAILURES.add(1, {"telltales.plugin": plugin, "telltales.component": component})
    log.warning(
        "%s: %s of plugin %r failed: %s",
        where,
        component,
        plugin,
        error,
        extra={"plugin": plugin, "component": component, "error": error},
    )


_configured = False
_lock = threading.Lock()


def configure(env: Mapping[str, str] | None = None) -> None:
    """Install the providers the environment asks for; later calls do nothing.

    Raises :class:`ConfigError` (one line: the variable, the value, the fix) for an
    unknown exporter or an ``otlp`` exporter whose package is not installed, so a
    command stops before it starts rather than running unobserved.
    """
    global _configured
    with _lock:
        if _configured:
            return
        tracer_provider, meter_provider = providers(os.environ if env is None else env)
        if tracer_provider is not None:
            trace.set_tracer_provider(tracer_provider)
        if meter_provider is not None:
            metrics.set_meter_provider(meter_provider)
        _configured = True


def providers(env: Mapping[str, str]) -> tuple[TracerProvider | None, MeterProvider | None]:
    """The tracer and meter providers ``env`` asks for (None for ``none``), not installed.

    The SDK is imported only here: a process that exports nothing never loads it.
    """
    traces = exporters(env, TRACES_ENV)
    meters = exporters(env, METRICS_ENV)
    if not traces and not meters:
        return None, None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create(
        {
            "service.name": env.get("OTEL_SERVICE_NAME") or "telltales",
            "service.version": __version__,
        }
    )
    tracer_provider = None
    if traces:
        tracer_provider = TracerProvider(resource=resource)
        for name in traces:
            tracer_provider.add_span_processor(_span_processor(name, env))
    meter_provider = None
    if meters:
        readers: list[MetricReader] = [
            PeriodicExportingMetricReader(_metric_exporter(name, env)) for name in meters
        ]
        meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    return tracer_provider, meter_provider


def exporters(env: Mapping[str, str], variable: str) -> list[str]:
    """The exporters named in ``variable`` (a comma-separated list), ``none`` left out."""
    names = [name.strip().lower() for name in env.get(variable, "none").split(",")]
    for name in names:
        if name not in EXPORTERS:
            raise ConfigError(f"{variable}={env[variable]!r}: use console, otlp or none")
    return [name for name in dict.fromkeys(names) if name != "none"]


def check(env: Mapping[str, str]) -> None:
    """Raise now what :func:`configure` would refuse, installing nothing.

    ``telltales serve`` calls it before it starts its workers, which configure
    themselves: a mistake is one line in the terminal, not a worker that dies.
    """
    for variable, signal in ((TRACES_ENV, "trace"), (METRICS_ENV, "metric")):
        if "otlp" in exporters(env, variable):
            _otlp_class(env, variable, signal)


def _otlp_class(env: Mapping[str, str], variable: str, signal: str) -> Any:
    """The OTLP exporter class for the protocol the standard variables name (default HTTP)."""
    protocol_variable = f"OTEL_EXPORTER_OTLP_{signal.upper()}S_PROTOCOL"
    if protocol_variable not in env:
        protocol_variable = "OTEL_EXPORTER_OTLP_PROTOCOL"
    protocol = env.get(protocol_variable, "http/protobuf").strip()
    if protocol not in _PROTOCOLS:
        raise ConfigError(f"{protocol_variable}={protocol!r}: use http/protobuf or grpc")
    transport = "grpc" if protocol == "grpc" else "http"
    try:
        module = importlib.import_module(
            f"opentelemetry.exporter.otlp.proto.{transport}.{signal}_exporter"
        )
    except ImportError as error:
        raise ConfigError(
            f"{variable}=otlp needs the {OTLP_PACKAGE} package, which is not installed: "
            f"{OTLP_INSTALL}"
        ) from error
    return getattr(module, "OTLPSpanExporter" if signal == "trace" else "OTLPMetricExporter")


def _span_processor(name: str, env: Mapping[str, str]) -> SpanProcessor:
    """Console spans print as they end (to stderr: stdout may be a command's JSON)."""
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )

    if name == "console":
        return SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr))
    exporter: SpanExporter = _otlp_class(env, TRACES_ENV, "trace")()
    return BatchSpanProcessor(exporter)


def _metric_exporter(name: str, env: Mapping[str, str]) -> MetricExporter:
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

    if name == "console":
        return ConsoleMetricExporter(out=sys.stderr)
    exporter: MetricExporter = _otlp_class(env, METRICS_ENV, "metric")()
    return exporter
