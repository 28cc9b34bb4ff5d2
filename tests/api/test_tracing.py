"""Runs and plugin calls are traced with OpenTelemetry; failures are recorded on spans."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from telltales import hookimpl
from telltales.engine.pipeline import run
from telltales.plugins import load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import open_store

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


class Broken:
    name = "broken"

    def compute(self, batch: object) -> list[object]:
        raise RuntimeError("no data today")


class Plugin:
    @hookimpl
    def register_signal_sources(self, register: object) -> None:
        register(Broken())  # type: ignore[operator]


def test_a_run_has_a_span_per_plugin_component(
    spans: InMemorySpanExporter, tmp_path: object
) -> None:
    registry = load_registry(extra=[("brk", Plugin())], use_entry_points=False)
    migrations = [e.obj for e in registry.migrations.values()]
    with open_store(tmp_path / "t.db", migrations, create=True) as store:  # type: ignore[operator]
        records = convert_records(registry, "accounts", [{"account_id": "a", "name": "A"}])
        ingest(store, registry, "accounts", records)
        run(store, registry, date(2026, 11, 20))
    finished = {
        span.name: span for span in spans.get_finished_spans() if span.name == "telltales.run"
    }
    run_span = finished["telltales.run"]
    assert run_span.attributes is not None
    assert run_span.attributes["telltales.status"] == "degraded"
    plugin_spans = {
        span.attributes["telltales.component"]: span  # type: ignore[index]
        for span in spans.get_finished_spans()
        if span.name == "telltales.plugin"
    }
    assert set(plugin_spans) == {
        "source:account",
        "source:broken",
        "scorer:health",
        "scorer:health_shadow",
    }
    failed = plugin_spans["source:broken"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.events[0].name == "exception"
    assert plugin_spans["source:account"].parent is not None
    assert plugin_spans["source:account"].parent.span_id == run_span.context.span_id
