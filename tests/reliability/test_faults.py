"""Plugin faults (issue 7, part 4): a component that raises, hangs or returns garbage
spoils its own output only.

Each fault is a real plugin (``support.faulty_plugins``) in a real run over a SQLite
file, beside a well-behaved source: the run finishes, the others' signals and scores
are stored, the run is *degraded*, and the failure can be seen in the run as stored
and served by the API, in ``telltales run`` and ``telltales runs``, as a warning on
the ``telltales`` logger and on an errored span. A source that hangs is abandoned at
its time limit; an action whose ``execute`` raises or hangs past the outbox's
attempt limit is a failed, retryable attempt, delivered once later.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from support.api import api_settings
from support.configs import SHELFWARE
from support.faulty_plugins import (
    ERROR,
    INSTALLED,
    ExecuteFaults,
    Faults,
    HangingSource,
    MalformedSource,
    RaisingScorer,
    RaisingSource,
    RecordRaises,
    SteadySource,
)
from support.installed import fake_install
from support.server import environment, telltales
from telltales.config import load_config
from telltales.engine import pipeline
from telltales.models import RunFailure, RunResult
from telltales.playbooks import launch, outbox
from telltales.playbooks.outbox import WorkSummary
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.playbooks.plan import EngineSpec, Plan, load_plan
from telltales.plugins import Registry, load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store, open_store
from telltales.store.queries import get_run, scores_for, signals_for
from telltales.testing import ApiClient
from telltales_api import create_app

pytestmark = pytest.mark.reliability

DAY = date(2026, 11, 20)
LIMIT = 1.0
"""The time limit the hanging components overrun, in seconds."""
ACCOUNTS = [
    {
        "account_id": f"acct{index}",
        "name": f"Account {index}",
        "owner": "li.chen@vendor.example",
        "csm_group": "emea",
        "seats_purchased": 10,
        "seats_assigned": 4,  # 40% deployed: the rule below holds, a playbook starts
    }
    for index in range(3)
]
CONFIG = (
    SHELFWARE
    + """
[alerts]
max_new_runs_per_csm_per_week = 100

[playbooks.alert]
on_enter = "at_risk"
rules = ["shelfware"]
steps = [STEPS]

[outbox]
backoff_seconds = 10
attempt_time_limit_seconds = LIMIT
"""
).replace("LIMIT", str(LIMIT))


def hanging() -> HangingSource:
    return HangingSource()


FAULTS: dict[str, tuple[Callable[[], object], str, str]] = {
    "source raises": (RaisingSource, "source:raising", f"RuntimeError: {ERROR}"),
    "source hangs": (
        hanging,
        "source:hanging",
        f"no result within {LIMIT:g} s (the time limit, [engine.source_time_limits] hanging): "
        "abandoned, whatever it returns later is discarded",
    ),
    "source returns malformed signals": (
        MalformedSource,
        "source:malformed",
        "signal 'malformed.bad': value must be finite, got nan",
    ),
    "scorer raises": (RaisingScorer, "scorer:raising.scorer", f"RuntimeError: {ERROR}"),
    "action record raises": (RecordRaises, "action:record.raises", f"RuntimeError: {ERROR}"),
}
LIMITS = EngineSpec(source_time_limits={"hanging": LIMIT})
"""What ``[engine.source_time_limits] hanging = 0.3`` configures."""


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Spans of the engine, the playbook launcher and the outbox, for this test only."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for module in (pipeline, launch, outbox):
        monkeypatch.setattr(module, "tracer", provider.get_tracer("telltales"))
    return exporter


@dataclass
class World:
    store: Store
    registry: Registry
    plan: Plan


@pytest.fixture
def worlds(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """A database of three accounts in a pilot, with the given plugin components."""
    opened: list[Store] = []

    def build(*components: object, steps: str = '{ action = "task" }') -> World:
        registry = load_registry(extra=[("faulty", Faults(*components))], use_entry_points=False)
        assert registry.failures == []
        config = tmp_path / f"telltales{len(opened)}.toml"
        config.write_text(CONFIG.replace("STEPS", steps))
        plan = load_plan(load_config(config), registry)
        migrations = [entry.obj for entry in registry.migrations.values()]
        store = open_store(tmp_path / f"t{len(opened)}.db", migrations, create=True)
        opened.append(store)
        populate(store, registry, plan)
        return World(store, registry, plan)

    yield build
    for store in opened:
        store.close()


def populate(store: Store, registry: Registry, plan: Plan) -> None:
    ingest(store, registry, "accounts", convert_records(registry, "accounts", ACCOUNTS))
    pilot = NewPilot(
        pilot_id="emea",
        csm_groups=["emea"],
        rules=["shelfware"],
        playbooks=["alert"],
        starts_on=date(2026, 11, 1),
    )
    create_pilot(store, plan, pilot, by="ops@vendor.example")


def plugin_spans(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {
        str(span.attributes["telltales.component"]): span
        for span in exporter.get_finished_spans()
        if span.name == "telltales.plugin" and span.attributes is not None
    }


@pytest.fixture
def caplog(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pytest.LogCaptureFixture]:
    """Warnings of the ``telltales`` logger, caught on the logger itself (and only
    there): an app's logging configuration may stop them reaching the root logger."""
    logger = logging.getLogger("telltales")
    logger.addHandler(caplog.handler)
    monkeypatch.setattr(logger, "propagate", False)
    yield caplog
    logger.removeHandler(caplog.handler)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    return [
        (record.plugin, record.component, record.error)  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name.startswith("telltales") and record.levelno == logging.WARNING
    ]


def assert_the_others_are_there(store: Store, result: RunResult) -> None:
    """Every account has the steady source's signal, the core's signals and a score."""
    for account in ACCOUNTS:
        account_id = str(account["account_id"])
        keys = {signal.key for signal in signals_for(store, account_id, DAY)}
        assert {"steady.one", "account.seat_deployment"} <= keys, account_id
        assert [score.scorer for score in scores_for(store, account_id, DAY)] == ["health"]
    assert result.scores == len(ACCOUNTS)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_faulty_component_degrades_the_run_and_spoils_only_its_own_output(
    worlds: Callable[..., World],
    spans: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    make, component, error = FAULTS[fault]
    faulty = make()
    steps = '{ action = "task" }, { action = "record.raises" }' if "action" in fault else None
    world = worlds(SteadySource(), faulty, **({"steps": steps} if steps else {}))
    started = time.monotonic()
    result = pipeline.run(world.store, world.registry, DAY, plan=world.plan, limits=LIMITS)
    took = time.monotonic() - started

    # An action's record fails once per playbook run started: one per account.
    times = len(ACCOUNTS) if "action" in fault else 1
    expected = RunFailure(plugin="faulty", component=component, error=error)
    assert (result.status, result.failures) == ("degraded", (expected,) * times)
    assert get_run(world.store, result.run_id) == result
    assert_the_others_are_there(world.store, result)
    assert result.actions is not None
    assert (result.actions.playbooks_live, result.actions.tasks) == (3, 3)
    assert warnings_of(caplog) == [("faulty", component, error)] * len(result.failures)
    where = "playbook run 1 step 2" if "action" in fault else f"run {result.run_id} as of {DAY}"
    assert f"{where}: {component} of plugin 'faulty' failed: {error}" in caplog.text
    span = plugin_spans(spans)[component]
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == error
    assert [event.name for event in span.events] == ["exception"]
    assert plugin_spans(spans)["source:steady"].status.status_code is StatusCode.UNSET

    if isinstance(faulty, HangingSource):
        assert LIMIT <= took < LIMIT + 5, "abandoned at its limit, not waited for"
        faulty.release.set()
        assert faulty.finished.wait(10)
        # What it returned after the limit was dropped, never stored.
        assert world.store.db.execute(
            "SELECT count(*) FROM signals WHERE source = 'hanging'"
        ).fetchone() == (0,)


def every_fault() -> tuple[HangingSource, Faults]:
    hung = HangingSource()
    faults = Faults(
        SteadySource(), RaisingSource(), hung, MalformedSource(), RaisingScorer(), RecordRaises()
    )
    return hung, faults


EVERY_FAILURE = [
    ("source:raising", f"RuntimeError: {ERROR}"),
    ("source:hanging", FAULTS["source hangs"][2]),
    ("source:malformed", FAULTS["source returns malformed signals"][2]),
    ("scorer:raising.scorer", f"RuntimeError: {ERROR}"),
    *[("action:record.raises", f"RuntimeError: {ERROR}")] * len(ACCOUNTS),
]


def test_every_fault_at_once_is_served_by_the_runs_route_and_listed_by_telltales_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hung, faults = every_fault()
    registry = load_registry(extra=[("faulty", faults)], use_entry_points=False)
    steps = '{ action = "task" }, { action = "record.raises" }'
    settings = api_settings(tmp_path, CONFIG.replace("STEPS", steps))
    with ApiClient(lambda: create_app(settings, registry=registry)) as api:
        context = api.context
        populate(context.store, registry, context.plan)
        result = pipeline.run(
            context.store,
            registry,
            DAY,
            plan=context.plan,
            limits=LIMITS,
            settings=context.source_settings,
            scorer_settings=context.scorer_settings,
        )
        hung.release.set()
        assert result.status == "degraded"
        assert [(f.component, f.error) for f in result.failures] == EVERY_FAILURE
        assert_the_others_are_there(context.store, result)
        served = api.client.get(f"/v1/runs/{result.run_id}", headers=api.headers(api.key("read")))
    assert served.status_code == 200
    body = served.json()
    assert body["status"] == "degraded"
    assert [(f["plugin"], f["component"], f["error"]) for f in body["failures"]] == [
        ("faulty", component, error) for component, error in EVERY_FAILURE
    ]
    assert [(c, e) for _, c, e in warnings_of(caplog)] == EVERY_FAILURE

    listed = telltales("--db", settings.db, "runs")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == (
        f"Run {result.run_id} as of {DAY}: degraded, 3 accounts, {result.signals} signals, 3 scores"
    )
    assert lines[1:] == [
        f"  degraded: {component} (faulty) failed, its output is missing: {error}"
        for component, error in EVERY_FAILURE
    ]
    as_json = telltales("--db", settings.db, "runs", "--json")
    assert [run["status"] for run in json.loads(as_json.stdout)] == ["degraded"]
    assert hung.finished.wait(10)


PILOT = (
    *("pilots", "create", "emea", "--group", "emea", "--rule", "shelfware"),
    *("--playbook", "alert", "--starts-on", "2026-11-01", "--by", "ops"),
)


def test_telltales_run_reports_each_failure_on_its_output_and_in_its_log(tmp_path: Path) -> None:
    """The real command, with the faulty plugin installed as a vendor's would be."""
    site = fake_install(tmp_path / "site", "faulty", INSTALLED)
    tests = Path(__file__).parents[1]
    env = environment(PYTHONPATH=f"{site}:{tests}", TELLTALES_PLUGINS="faulty")
    config = tmp_path / "telltales.toml"
    config.write_text(CONFIG.replace("STEPS", '{ action = "record.raises" }'))
    base = ("--db", tmp_path / "t.db", "--config", config)
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps(ACCOUNTS))
    for command in (
        ("init",),
        ("ingest", "accounts", accounts),
        PILOT,
    ):
        done = telltales(*base, *command, env=env)
        assert done.returncode == 0, done.stderr
    ran = telltales(*base, "run", "--as-of", DAY.isoformat(), env=env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(f"Run 1 as of {DAY}: degraded, 3 accounts, ")
    expected = [
        ("source:raising", f"RuntimeError: {ERROR}"),
        ("source:malformed", FAULTS["source returns malformed signals"][2]),
        ("scorer:raising.scorer", f"RuntimeError: {ERROR}"),
        *[("action:record.raises", f"RuntimeError: {ERROR}")] * len(ACCOUNTS),
    ]
    for component, error in expected:
        assert (
            f"  degraded: {component} (faulty) failed, its output is missing: {error}" in ran.stderr
        )
        assert f"{component} of plugin 'faulty' failed: {error}" in ran.stderr, "the log line"
    assert "Traceback" not in ran.stderr


# --- actions whose execute raises or hangs: the outbox worker --------------------------


class Clock:
    """The worker's clock, moved by hand (a minute ahead, so what was queued is due)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now


def test_an_execute_that_raises_or_hangs_is_a_failed_attempt_retried_and_delivered_once(
    worlds: Callable[..., World],
    spans: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    action = ExecuteFaults(["raise", "hang"])
    world = worlds(SteadySource(), action, steps='{ action = "execute.faults" }')
    result = pipeline.run(world.store, world.registry, DAY, plan=world.plan, account_ids=["acct0"])
    assert result.status == "ok"
    clock = Clock()

    def deliver() -> WorkSummary:
        return outbox.deliver_due(world.store, world.registry, world.plan, clock=clock)

    assert deliver() == WorkSummary(retrying=1)
    clock.now += timedelta(seconds=10)
    started = time.monotonic()
    assert deliver() == WorkSummary(retrying=1)
    assert LIMIT <= time.monotonic() - started < LIMIT + 5, "the hung attempt was abandoned"
    # The abandoned call ends later and reaches its destination after all ...
    action.release.set()
    deadline = time.monotonic() + 10
    while not action.delivered and time.monotonic() < deadline:
        time.sleep(0.01)
    clock.now += timedelta(seconds=20)
    assert deliver() == WorkSummary(delivered=1)
    # ... and the retry, with the same idempotency key, is not acted on twice.
    (delivery,) = outbox.list_deliveries(world.store)
    assert action.calls == [delivery.idempotency_key] * 3
    assert action.delivered == [delivery.idempotency_key]
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    overran = (
        f"no result within {LIMIT:g} s (the time limit, [outbox] attempt_time_limit_seconds): "
        "abandoned, whatever it returns later is discarded"
    )
    log = outbox.attempts_of(world.store, delivery.delivery_id)
    assert [(a.delivered, a.detail) for a in log] == [
        (False, f"RuntimeError: {ERROR}"),
        (False, overran),
        (True, "done"),
    ]
    assert [(a.at - log[0].at).total_seconds() for a in log] == [0, 10, 30], "backoff 10, 20"
    assert warnings_of(caplog) == [
        ("faulty", "action:execute.faults", f"RuntimeError: {ERROR}"),
        ("faulty", "action:execute.faults", overran),
    ]
    assert f"delivery {delivery.delivery_id} attempt 2: action:execute.faults" in caplog.text
    attempts = [s for s in spans.get_finished_spans() if s.name == "telltales.action"]
    assert [(s.status.status_code, s.status.description) for s in attempts] == [
        (StatusCode.ERROR, f"RuntimeError: {ERROR}"),
        (StatusCode.ERROR, overran),
        (StatusCode.UNSET, None),
    ]


# --- the limits come from the configuration --------------------------------------------


def test_the_engine_time_limits_come_from_the_engine_table(tmp_path: Path) -> None:
    hung = HangingSource()
    registry = load_registry(extra=[("faulty", Faults(hung))], use_entry_points=False)
    config = tmp_path / "telltales.toml"
    config.write_text(
        "[engine]\nsource_time_limit_seconds = 60\nscorer_time_limit_seconds = 5\n"
        f"[engine.source_time_limits]\nhanging = {LIMIT}\n"
    )
    plan = load_plan(load_config(config), registry)
    assert plan.engine == EngineSpec(
        source_time_limit_seconds=60,
        scorer_time_limit_seconds=5,
        source_time_limits={"hanging": LIMIT},
    )
    assert plan.engine.source_limit("account") == (60, "[engine] source_time_limit_seconds")
    config.write_text("[engine.source_time_limits]\nnews = 60\n")
    with pytest.raises(Exception, match=r"line 2: \[engine.source_time_limits\] news: no "):
        load_plan(load_config(config), registry)
    config.write_text("[engine]\nsource_time_limit_seconds = 0\n")
    with pytest.raises(Exception, match=r"line 2: engine.source_time_limit_seconds: "):
        load_plan(load_config(config), registry)
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(tmp_path / "t.db", migrations, create=True) as store:
        config.write_text(f"[engine.source_time_limits]\nhanging = {LIMIT}\n")
        plan = load_plan(load_config(config), registry)
        ingest(store, registry, "accounts", convert_records(registry, "accounts", ACCOUNTS))
        result = pipeline.run(store, registry, DAY, plan=plan)
        hung.release.set()
    assert [f.error for f in result.failures] == [FAULTS["source hangs"][2]]


def test_the_attempt_time_limit_comes_from_the_outbox_table(tmp_path: Path) -> None:
    registry = load_registry(use_entry_points=False)
    config = tmp_path / "telltales.toml"
    assert load_plan(load_config(None), registry).outbox.attempt_time_limit_seconds == 60
    config.write_text("[outbox]\nattempt_time_limit_seconds = 2.5\n")
    assert load_plan(load_config(config), registry).outbox.attempt_time_limit_seconds == 2.5
    config.write_text("[outbox]\nattempt_time_limit_seconds = -1\n")
    with pytest.raises(Exception, match=r"line 2: outbox.attempt_time_limit_seconds: "):
        load_plan(load_config(config), registry)
