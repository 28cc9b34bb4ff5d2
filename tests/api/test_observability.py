"""OpenTelemetry: a span per request named by its route, and the product's counters.

Spans are read from an in-memory exporter on a provider handed to the app, so this
file leaves the global tracer provider to tests/api/test_tracing.py. The counters are
read from an in-memory reader on the global meter provider (set once per process).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import post
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from support.api import ApiHarness, api_settings
from telltales import ActionOutcome, ActionRequest, PlaybookAction, hookimpl, observability
from telltales.config import load_config
from telltales.engine.pipeline import run
from telltales.errors import ConfigError
from telltales.playbooks import outbox
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.playbooks.plan import load_plan
from telltales.plugins import load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import open_store
from telltales.testing import ApiClient
from telltales_api import create_app
from telltales_api.auth import needs

_READER = InMemoryMetricReader()


def _counters() -> InMemoryMetricReader:
    """The in-memory reader on the global meter provider, installed on first use."""
    current = metrics.get_meter_provider()
    if not isinstance(current, MeterProvider):
        metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))
    assert isinstance(metrics.get_meter_provider(), MeterProvider)
    return _READER


def _points(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], float]:
    """The current value of every series of a metric, keyed by its sorted attributes."""
    found: dict[tuple[tuple[str, Any], ...], float] = {}
    data = reader.get_metrics_data()
    if data is None:
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        key = tuple(sorted((point.attributes or {}).items()))
                        found[key] = getattr(point, "value", getattr(point, "count", 0))
    return found


@post("/v1/test/crash", opt=needs("act"), sync_to_thread=False)
def crash() -> None:
    raise RuntimeError("boom")


@pytest.fixture
def traced(
    tmp_path: Path,
) -> Iterator[tuple[ApiHarness, InMemorySpanExporter, InMemoryMetricReader]]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    settings = api_settings(tmp_path)
    with ApiClient(
        lambda: create_app(settings, tracer_provider=tracer_provider, meter_provider=meter_provider)
    ) as api:
        api.client.app.register(crash)
        yield api, exporter, reader
    meter_provider.shutdown()


def _server_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]


def test_a_request_has_a_server_span_named_by_its_route(
    traced: tuple[ApiHarness, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    api, exporter, _ = traced
    token = api.key("admin")
    api.client.delete("/v1/keys/nosuchkey", headers=api.headers(token))
    (span,) = _server_spans(exporter)
    assert span.name == "DELETE /v1/keys/{key_id}"
    attributes = dict(span.attributes or {})
    assert attributes["http.route"] == "/v1/keys/{key_id}"
    assert attributes["http.request.method"] == "DELETE"
    assert attributes["http.response.status_code"] == 404
    assert attributes["url.path"] == "/v1/keys/nosuchkey"
    assert token not in str(attributes)
    assert span.status.status_code is StatusCode.UNSET


def test_unknown_routes_and_server_errors_are_traced(
    traced: tuple[ApiHarness, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    api, exporter, _ = traced
    api.client.get("/v1/nothing")
    api.client.post("/v1/test/crash", headers=api.headers(api.key("act")))
    missing, crashed = _server_spans(exporter)
    assert missing.name == "GET"
    assert missing.attributes is not None
    assert missing.attributes["http.response.status_code"] == 404
    assert "http.route" not in missing.attributes
    assert crashed.name == "POST /v1/test/crash"
    assert crashed.status.status_code is StatusCode.ERROR
    (event,) = [e for e in crashed.events if e.name == "exception"]
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "RuntimeError"
    assert event.attributes["exception.message"] == "boom"


def test_a_callers_trace_is_continued(
    traced: tuple[ApiHarness, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    api, exporter, _ = traced
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    api.client.get("/healthz", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    (span,) = _server_spans(exporter)
    assert span.name == "GET /healthz"
    assert f"{span.context.trace_id:032x}" == trace_id
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"


def test_request_durations_are_recorded_by_route_and_status(
    traced: tuple[ApiHarness, InMemorySpanExporter, InMemoryMetricReader],
) -> None:
    api, _, reader = traced
    headers = api.headers(api.key("admin"))
    for _ in range(3):
        api.client.get("/v1/keys", headers=headers)
    api.client.get("/v1/keys")
    points = _points(reader, "http.server.request.duration")
    ok = (
        ("http.request.method", "GET"),
        ("http.response.status_code", 200),
        ("http.route", "/v1/keys"),
    )
    refused = (
        ("http.request.method", "GET"),
        ("http.response.status_code", 401),
        ("http.route", "/v1/keys"),
    )
    assert points[ok] == 3
    assert points[refused] == 1


class Probe:
    """An action that delivers, or one that the destination refuses for good."""

    reaches_customer = False

    def __init__(self, name: str, delivers: bool) -> None:
        self.name = name
        self.delivers = delivers

    def execute(self, request: ActionRequest) -> ActionOutcome:
        return ActionOutcome(delivered=self.delivers, retryable=False, detail=self.name)


class Probes:
    @hookimpl
    def register_playbook_actions(self, register: Callable[[PlaybookAction], None]) -> None:
        register(Probe("tt_probe_ok", True))  # type: ignore[arg-type]
        register(Probe("tt_probe_down", False))  # type: ignore[arg-type]


CONFIG = """\
[rules.tt_shelfware]
description = "Fewer than half the purchased seats assigned"
status = "at_risk"
severity = "high"
conditions = [{ signal = "account.seat_deployment", below = 0.5 }]

[rules.score_red]
enabled = false

[playbooks.at_risk_response]
enabled = false

[playbooks.tt_alert]
on_enter = "at_risk"
rules = ["tt_shelfware"]
steps = [{ action = "tt_probe_ok" }, { action = "tt_probe_down" }]
"""


def test_rows_signals_rules_and_actions_are_counted(tmp_path: Path) -> None:
    reader = _counters()
    before = {
        name: _points(reader, name)
        for name in (
            "telltales.ingest.rows",
            "telltales.signals.computed",
            "telltales.rules.fired",
            "telltales.actions.delivered",
            "telltales.actions.failed",
        )
    }
    registry = load_registry(extra=[("tt_probes", Probes())], use_entry_points=False)
    config = tmp_path / "telltales.toml"
    config.write_text(CONFIG)
    plan = load_plan(load_config(config), registry)
    accounts = [
        {"account_id": "ferrum", "name": "Ferrum", "csm_group": "emea", "seats_purchased": 80,
         "seats_assigned": 36},
        {"account_id": "tidewater", "name": "Tidewater", "csm_group": "emea",
         "seats_purchased": 40, "seats_assigned": 12},
        {"account_id": "bluepeak", "name": "Bluepeak", "csm_group": "emea",
         "seats_purchased": 10, "seats_assigned": 10},
    ]  # fmt: skip
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(tmp_path / "t.db", migrations, create=True) as store:
        ingest(store, registry, "accounts", convert_records(registry, "accounts", accounts))
        create_pilot(
            store,
            plan,
            NewPilot(
                pilot_id="tt-pilot",
                csm_groups=["emea"],
                rules=["tt_shelfware"],
                playbooks=["tt_alert"],
                starts_on=date(2026, 11, 1),
            ),
            by="tests",
        )
        result = run(store, registry, date(2026, 11, 20), plan=plan)
        assert result.signals > 0
        later = datetime.now(UTC) + timedelta(minutes=1)
        summary = outbox.deliver_due(store, registry, plan, clock=lambda: later)
    assert (summary.delivered, summary.failed) == (2, 2)

    def added(name: str, **attributes: str) -> float:
        key = tuple(sorted(attributes.items()))
        return _points(reader, name).get(key, 0) - before[name].get(key, 0)

    assert added("telltales.ingest.rows", **{"telltales.ingester": "accounts"}) == 3
    assert added("telltales.signals.computed", **{"telltales.source": "account"}) == result.signals
    fired = {"telltales.rule": "tt_shelfware", "telltales.mode": "live"}
    assert added("telltales.rules.fired", **fired) == 2
    assert added("telltales.actions.delivered", **{"telltales.action": "tt_probe_ok"}) == 2
    assert added("telltales.actions.failed", **{"telltales.action": "tt_probe_down"}) == 2
    assert added("telltales.actions.failed", **{"telltales.action": "tt_probe_ok"}) == 0


def test_exporters_are_chosen_by_the_standard_variables() -> None:
    assert observability.providers({}) == (None, None)
    assert observability.providers({"OTEL_TRACES_EXPORTER": "none"}) == (None, None)
    tracer_provider, meter_provider = observability.providers(
        {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "crm-sync-api"}
    )
    assert isinstance(tracer_provider, TracerProvider)
    assert meter_provider is None
    assert tracer_provider.resource.attributes["service.name"] == "crm-sync-api"
    tracer_provider.shutdown()
    tracer_provider, meter_provider = observability.providers({"OTEL_METRICS_EXPORTER": "console"})
    assert tracer_provider is None
    assert isinstance(meter_provider, MeterProvider)
    meter_provider.shutdown()


def test_console_spans_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    tracer_provider, _ = observability.providers({"OTEL_TRACES_EXPORTER": "console"})
    assert tracer_provider is not None
    with tracer_provider.get_tracer("tests").start_as_current_span("telltales.test-span"):
        pass
    tracer_provider.shutdown()
    captured = capsys.readouterr()
    assert '"name": "telltales.test-span"' in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"OTEL_TRACES_EXPORTER": "zipkin"},
            "OTEL_TRACES_EXPORTER='zipkin': use console, otlp or none",
        ),
        ({"OTEL_METRICS_EXPORTER": "console,prometheus"}, "use console, otlp or none"),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
            "OTEL_EXPORTER_OTLP_PROTOCOL='http/json': use http/protobuf or grpc",
        ),
    ],
)
def test_a_wrong_variable_is_one_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        observability.check(env)
    with pytest.raises(ConfigError):
        observability.providers(env)


@pytest.mark.parametrize("variable", ["OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"])
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_otlp_without_its_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, variable: str, protocol: str
) -> None:
    transport = "grpc" if protocol == "grpc" else "http"
    for signal in ("trace", "metric"):
        module = f"opentelemetry.exporter.otlp.proto.{transport}.{signal}_exporter"
        monkeypatch.setitem(sys.modules, module, None)
    env = {variable: "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
    with pytest.raises(ConfigError) as error:
        observability.check(env)
    assert str(error.value) == (
        f"{variable}=otlp needs the opentelemetry-exporter-otlp package, which is not "
        "installed: pip install 'telltales[otlp]'"
    )


VENDOR_TEST = """
from telltales import hookimpl


class Vendor:
    @hookimpl
    def register_playbook_actions(self, register):
        class Ping:
            name = "vendor_ping"
            reaches_customer = False

            def execute(self, request):
                raise NotImplementedError

        register(Ping())


def test_vendor(telltales_env, telltales_api):
    telltales_env.register(Vendor(), name="vendor")
    telltales_env.add_accounts([{"account_id": "a", "name": "A"}])
    headers = telltales_api.headers(telltales_api.key("read"))
    response = telltales_api.client.get("/v1/plugins", headers=headers)
    assert response.status_code == 200
    assert "vendor" in [plugin["name"] for plugin in response.json()["plugins"]]
    assert telltales_api.client.get("/v1/plugins").status_code == 401
"""


def test_plugin_vendors_get_an_api_client_over_their_registered_plugin(tmp_path: Path) -> None:
    """Run as a vendor would: pytest finds ``telltales_api`` through the entry point."""
    (tmp_path / "test_vendor.py").write_text(VENDOR_TEST)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_vendor.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
