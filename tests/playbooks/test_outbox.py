"""The outbox worker: each delivery sent once, every attempt logged, retries with backoff,
failures kept and listed, approvals respected, a span per attempt.

Deliveries come from real runs: an account whose seat deployment is under half enters
At-Risk in a pilot whose playbook sends an email, a webhook or a test action. The email
and webhook go to real servers on 127.0.0.1; time moves through the worker's ``clock``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
import telltales_notify
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from support.configs import SHELFWARE
from support.outbox_receivers import SECRET, HttpReceiver, SmtpReceiver, free_port
from telltales import ActionOutcome, ActionRequest, PlaybookAction, hookimpl
from telltales.config import load_config
from telltales.engine.pipeline import run
from telltales.errors import InputError
from telltales.playbooks import outbox, tasks
from telltales.playbooks.outbox import Delivery, WorkSummary
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.playbooks.plan import Plan, load_plan
from telltales.plugins import Registry, load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store, open_store

DAY = date(2026, 11, 20)
OWNER = "li.chen@vendor.example"
MANAGER = "mia.berg@vendor.example"
FERRUM: dict[str, object] = {
    "account_id": "ferrum",
    "name": "Ferrum Manufacturing",
    "owner": OWNER,
    "csm_group": "emea",
    "segment": "mid-market",
    "arr": 150000,
    "seats_purchased": 80,
    "seats_assigned": 36,
    "renewal_date": "2026-12-20",
}
"""36 of 80 seats assigned: 0.45, under the rule's 0.5, so Ferrum enters At-Risk."""

CONFIG = (
    SHELFWARE
    + """
[csm_groups.emea]
manager = "mia.berg@vendor.example"

[links]
account_url = "https://telltales.vendor.example/accounts/{account_id}"

[actions.email]
host = "127.0.0.1"
port = PORT
sender = "telltales@vendor.example"
timeout_seconds = 5

[playbooks.alert]
on_enter = "at_risk"
rules = ["shelfware"]
steps = [STEPS]

[outbox]
"""
)


@pytest.fixture(autouse=True)
def _direct_connections_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables: the receivers must be reached directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.setenv("TELLTALES_WEBHOOK_SECRET", SECRET)


class Probe:
    """A test action: answers each attempt from ``script`` (then "delivered"), keeps requests.

    A script entry is an outcome to return, an exception to raise, or a function of
    the request that gives either.
    """

    reaches_customer = False

    def __init__(self, name: str = "probe") -> None:
        self.name = name
        self.script: list[object] = []
        self.requests: list[ActionRequest] = []

    def execute(self, request: ActionRequest) -> Any:
        self.requests.append(request)
        answer = self.script.pop(0) if self.script else ActionOutcome(delivered=True, detail="ok")
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Actions:
    def __init__(self, *actions: object) -> None:
        self.actions = actions

    @hookimpl
    def register_playbook_actions(self, register: Callable[[PlaybookAction], None]) -> None:
        for action in self.actions:
            register(action)  # type: ignore[arg-type]


def registry_with(*actions: object) -> Registry:
    """The core, the real notify plugin and the given test actions."""
    registry = load_registry(
        extra=[("notify", telltales_notify), ("outbox_tests", Actions(*actions))],
        use_entry_points=False,
    )
    assert registry.failures == []
    return registry


class Clock:
    """The worker's clock, moved by hand; it starts a minute after the real time, so what
    the run queued (due at the real time it was queued) is due."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class World:
    store: Store
    registry: Registry
    plan: Plan
    clock: Clock

    def deliver(self, **options: Any) -> WorkSummary:
        return outbox.deliver_due(self.store, self.registry, self.plan, clock=self.clock, **options)

    def deliveries(self) -> list[Delivery]:
        return outbox.list_deliveries(self.store)

    def delivery(self, step: int = 1) -> Delivery:
        (found,) = [d for d in self.deliveries() if d.step == step]
        return found

    def log(self, step: int = 1) -> list[tuple[int, datetime, bool, str]]:
        attempts = outbox.attempts_of(self.store, self.delivery(step).delivery_id)
        return [(a.attempt, a.at, a.delivered, a.detail) for a in attempts]


@pytest.fixture
def worlds(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Build a database in which Ferrum entered At-Risk in a pilot running ``steps``."""
    opened: list[Store] = []

    def build(
        steps: list[str],
        registry: Registry | None = None,
        *,
        smtp_port: int = 25,
        outbox_settings: str = "",
    ) -> World:
        registry = registry or registry_with()
        path = tmp_path / f"telltales{len(opened)}.toml"
        path.write_text(
            CONFIG.replace("PORT", str(smtp_port)).replace("STEPS", ", ".join(steps))
            + outbox_settings
        )
        plan = load_plan(load_config(path), registry)
        migrations = [entry.obj for entry in registry.migrations.values()]
        store = open_store(tmp_path / f"t{len(opened)}.db", migrations, create=True)
        opened.append(store)
        ingest(store, registry, "accounts", convert_records(registry, "accounts", [FERRUM]))
        create_pilot(
            store,
            plan,
            NewPilot(
                pilot_id="emea-alerts",
                csm_groups=["emea"],
                rules=["shelfware"],
                playbooks=["alert"],
                starts_on=date(2026, 11, 1),
            ),
            by="ops@vendor.example",
        )
        result = run(store, registry, DAY, plan=plan)
        assert result.actions is not None
        assert (result.actions.playbooks_live, result.actions.deliveries) == (1, len(steps))
        return World(store=store, registry=registry, plan=plan, clock=Clock())

    yield build
    for store in opened:
        store.close()


def webhook(receiver: HttpReceiver, approval: bool = False) -> str:
    return f'{{ action = "webhook", url = "{receiver.url}"' + (
        ", approval = true }" if approval else " }"
    )


EMAIL = '{ action = "email", to = ["owner", "manager"] }'
PROBE = '{ action = "probe" }'


# --- delivered once --------------------------------------------------------------------


def test_email_and_webhook_are_each_delivered_once_and_the_attempt_logged(
    worlds: Callable[..., World], smtp: SmtpReceiver, http: HttpReceiver
) -> None:
    world = worlds([EMAIL, webhook(http)], smtp_port=smtp.port)
    queued = world.deliveries()
    assert [(d.step, d.action, d.status, d.attempts) for d in queued] == [
        (1, "email", "pending", 0),
        (2, "webhook", "pending", 0),
    ]
    email_key, hook_key = (d.idempotency_key for d in queued)

    assert world.deliver() == WorkSummary(delivered=2)

    assert smtp.ledger.raw == [email_key]
    message = smtp.messages[0]
    assert message["Message-ID"] == f"<{email_key}@telltales>"
    assert message["Subject"] == "[telltales] Ferrum Manufacturing is At-Risk: shelfware"
    assert smtp.recipients == [[OWNER, MANAGER]]
    assert "account.seat_deployment = 0.45 (below 0.5)" in message.get_content()

    assert http.ledger.raw == [hook_key]
    (request,) = http.requests
    assert request.signed
    assert request.path == "/telltales/alerts"
    event = json.loads(request.body)
    assert (event["idempotency_key"], event["account"]["account_id"]) == (hook_key, "ferrum")
    assert (event["playbook"], event["step"], event["status_label"]) == ("alert", 2, "At-Risk")

    now = world.clock.now
    email_done, hook_done = world.deliveries()
    assert (email_done.status, email_done.attempts, email_done.finished_at) == (
        "delivered",
        1,
        now,
    )
    assert email_done.detail == f"sent to {OWNER}, {MANAGER}"
    assert (hook_done.status, hook_done.detail, hook_done.next_attempt_at) == (
        "delivered",
        "HTTP 200",
        None,
    )
    assert world.log(1) == [(1, now, True, f"sent to {OWNER}, {MANAGER}")]
    assert world.log(2) == [(1, now, True, "HTTP 200")]

    # Nothing is due any more, however late it gets: nothing is sent twice.
    world.clock.advance(86400)
    assert world.deliver() == WorkSummary()
    assert (len(smtp.ledger.raw), len(http.ledger.raw)) == (1, 1)


def test_deliveries_go_oldest_first_and_limit_and_stop_bound_the_work(
    worlds: Callable[..., World],
) -> None:
    probe = Probe()
    world = worlds([PROBE, PROBE, PROBE], registry_with(probe))
    stop_now = threading.Event()
    stop_now.set()
    assert world.deliver(stop=stop_now) == WorkSummary()
    assert world.deliver(limit=2) == WorkSummary(delivered=2)
    assert [r.step for r in probe.requests] == [1, 2]
    assert [d.status for d in world.deliveries()] == ["delivered", "delivered", "pending"]
    assert world.deliver() == WorkSummary(delivered=1)
    assert [r.step for r in probe.requests] == [1, 2, 3]
    # A listing cut by its limit keeps the newest: a fresh failure is never hidden.
    everything = outbox.list_deliveries(world.store)
    assert [d.step for d in outbox.list_deliveries(world.store, limit=2)] == [2, 3]
    assert [d.delivery_id for d in everything] == sorted(d.delivery_id for d in everything)


# --- retries and backoff ---------------------------------------------------------------


def test_a_webhook_answered_500_is_retried_with_doubling_backoff_up_to_the_cap(
    worlds: Callable[..., World], http: HttpReceiver
) -> None:
    world = worlds(
        [webhook(http)],
        outbox_settings="max_attempts = 8\nbackoff_seconds = 10\nbackoff_max_seconds = 60\n",
    )
    http.script.answers = [500, 503, 500, 502, 500]
    start = world.clock.now
    # Waits after attempts 1..5: 10, 20, 40, then 80 capped to 60, and 60 again.
    expected_waits = [10, 20, 40, 60, 60]
    for attempt, wait in enumerate(expected_waits, start=1):
        assert world.deliver() == WorkSummary(retrying=1)
        pending = world.delivery()
        assert (pending.status, pending.attempts) == ("pending", attempt)
        assert pending.next_attempt_at == world.clock.now + timedelta(seconds=wait)
        world.clock.advance(wait - 0.001)
        assert world.deliver() == WorkSummary(), "not due a millisecond early"
        world.clock.advance(0.001)
    assert world.deliver() == WorkSummary(delivered=1)
    assert world.clock.now == start + timedelta(seconds=sum(expected_waits))

    key = world.delivery().idempotency_key
    assert [r.status for r in http.requests] == [500, 503, 500, 502, 500, 200]
    assert {r.headers["idempotency-key"] for r in http.requests} == {key}
    assert http.ledger.applied == {key: 1}
    done = world.delivery()
    assert (done.status, done.attempts, done.detail) == ("delivered", 6, "HTTP 200")
    log = world.log()
    assert [(n, ok) for n, _, ok, _ in log] == [(n, n == 6) for n in range(1, 7)]
    assert [detail for *_, detail in log] == [
        "HTTP 500: receiver says no",
        "HTTP 503: receiver says no",
        "HTTP 500: receiver says no",
        "HTTP 502: receiver says no",
        "HTTP 500: receiver says no",
        "HTTP 200",
    ]
    assert [at - start for _, at, _, _ in log] == [
        timedelta(seconds=s) for s in (0, 10, 30, 70, 130, 190)
    ]


def test_an_smtp_server_saying_try_later_is_retried_and_the_email_sent_once(
    worlds: Callable[..., World], smtp: SmtpReceiver
) -> None:
    world = worlds(
        [EMAIL], smtp_port=smtp.port, outbox_settings="backoff_seconds = 30\nmax_attempts = 3\n"
    )
    smtp.script.answers = ["451 4.3.0 mailbox busy", "451 4.3.0 mailbox busy"]
    assert world.deliver() == WorkSummary(retrying=1)
    world.clock.advance(30)
    assert world.deliver() == WorkSummary(retrying=1)
    world.clock.advance(60)
    assert world.deliver() == WorkSummary(delivered=1)
    assert smtp.refused == 2
    assert smtp.ledger.applied == {world.delivery().idempotency_key: 1}
    assert len(smtp.messages) == 1
    server = f"127.0.0.1:{smtp.port}"
    assert [(n, ok, detail) for n, _, ok, detail in world.log()] == [
        (1, False, f"SMTP 451 from {server}: 4.3.0 mailbox busy"),
        (2, False, f"SMTP 451 from {server}: 4.3.0 mailbox busy"),
        (3, True, f"sent to {OWNER}, {MANAGER}"),
    ]


def test_an_action_that_raises_is_retried_with_the_error_as_detail(
    worlds: Callable[..., World],
) -> None:
    probe = Probe()
    probe.script = [RuntimeError("socket melted"), {"not": "an outcome"}]
    world = worlds([PROBE], registry_with(probe), outbox_settings="backoff_seconds = 5\n")
    assert world.deliver() == WorkSummary(retrying=1)
    pending = world.delivery()
    assert (pending.status, pending.detail) == ("pending", "RuntimeError: socket melted")
    world.clock.advance(5)
    assert world.deliver() == WorkSummary(retrying=1)
    assert world.delivery().detail == "TypeError: execute returned dict, not ActionOutcome"
    world.clock.advance(10)
    assert world.deliver() == WorkSummary(delivered=1)
    assert [(n, ok, detail) for n, _, ok, detail in world.log()] == [
        (1, False, "RuntimeError: socket melted"),
        (2, False, "TypeError: execute returned dict, not ActionOutcome"),
        (3, True, "ok"),
    ]
    assert len({r.idempotency_key for r in probe.requests}) == 1


def test_the_request_carries_the_run_and_the_settings_of_the_worker(
    worlds: Callable[..., World],
) -> None:
    probe = Probe()
    world = worlds(['{ action = "probe", colour = "red" }'], registry_with(probe))
    world.deliver()
    (request,) = probe.requests
    delivery = world.delivery()
    assert request.idempotency_key == delivery.idempotency_key
    assert request.params == {"colour": "red"}
    assert request.settings == {}
    assert (request.account.account_id, request.playbook, request.step) == ("ferrum", "alert", 1)
    assert (request.status, request.status_label, request.as_of) == ("at_risk", "At-Risk", DAY)
    assert request.reason == "shelfware"
    assert request.manager == MANAGER
    assert request.account_url == "https://telltales.vendor.example/accounts/ferrum"
    assert request.playbook_run_id == delivery.playbook_run_id
    assert [f.rule for f in request.firings] == ["shelfware"]
    assert request.db is None


# --- failed: for good, or out of attempts; listed, and retried on request --------------


def test_a_refusal_for_good_fails_at_once_and_is_listed(
    worlds: Callable[..., World], http: HttpReceiver
) -> None:
    world = worlds([webhook(http)])
    http.script.answers = [404]
    assert world.deliver() == WorkSummary(failed=1)
    failed = world.delivery()
    assert failed.status == "failed"
    assert failed.detail == "refused for good after 1 attempt(s): HTTP 404: receiver says no"
    assert (failed.finished_at, failed.next_attempt_at) == (world.clock.now, None)
    assert outbox.list_deliveries(world.store, status="failed") == [failed]
    assert outbox.list_deliveries(world.store, status="pending") == []
    world.clock.advance(7 * 86400)
    assert world.deliver() == WorkSummary()
    assert len(http.requests) == 1


def test_an_unknown_recipient_fails_the_email_for_good(
    worlds: Callable[..., World], smtp: SmtpReceiver
) -> None:
    world = worlds(['{ action = "email", to = ["nobody@vendor.example"] }'], smtp_port=smtp.port)
    smtp.script.answers = ["550 5.1.1 no such user"]
    assert world.deliver() == WorkSummary(failed=1)
    assert world.delivery().detail == (
        f"refused for good after 1 attempt(s): SMTP 550 from 127.0.0.1:{smtp.port}: "
        "5.1.1 no such user"
    )
    assert smtp.messages == []


def test_destinations_that_stay_down_fail_out_of_attempts_then_retry_continues_the_count(
    worlds: Callable[..., World], http: HttpReceiver
) -> None:
    down = free_port()  # nothing listens here until the SMTP server is started below
    world = worlds(
        [EMAIL, webhook(http)],
        smtp_port=down,
        outbox_settings="max_attempts = 3\nbackoff_seconds = 1\n",
    )
    http.script.then = 503
    for wait in (1, 2, 0):
        assert world.deliver() == (WorkSummary(retrying=2) if wait else WorkSummary(failed=2))
        world.clock.advance(wait)
    email_failed, hook_failed = world.deliveries()
    assert email_failed.detail.startswith(
        f"out of attempts after 3 attempt(s): cannot reach SMTP server 127.0.0.1:{down}: "
    )
    assert hook_failed.detail == "out of attempts after 3 attempt(s): HTTP 503: receiver says no"
    assert outbox.list_deliveries(world.store, status="failed") == [email_failed, hook_failed]
    # Failed is where they stay: visible, never dropped, never tried again by themselves.
    world.clock.advance(30 * 86400)
    assert world.deliver() == WorkSummary()
    assert len(world.deliveries()) == 2

    smtp = SmtpReceiver(down).start()
    try:
        http.script.then = 200
        for delivery in (email_failed, hook_failed):
            outbox.retry_failed(world.store, delivery.delivery_id, now=world.clock.now)
        requeued = world.deliveries()
        assert [(d.status, d.attempts, d.detail) for d in requeued] == [
            ("pending", 0, "retry requested"),
            ("pending", 0, "retry requested"),
        ]
        assert world.deliver() == WorkSummary(delivered=2)
        assert len(smtp.messages) == 1
    finally:
        smtp.stop()
    assert http.ledger.applied == {hook_failed.idempotency_key: 1}
    for step in (1, 2):
        assert [(n, ok) for n, _, ok, _ in world.log(step)] == [
            (1, False),
            (2, False),
            (3, False),
            (4, True),
        ]
    assert [(d.status, d.attempts) for d in world.deliveries()] == [
        ("delivered", 1),
        ("delivered", 1),
    ]


def test_only_a_failed_delivery_is_retried(
    worlds: Callable[..., World], http: HttpReceiver
) -> None:
    world = worlds([webhook(http)])
    delivery_id = world.delivery().delivery_id
    with pytest.raises(InputError, match=rf"^delivery {delivery_id} is pending; only a failed "):
        outbox.retry_failed(world.store, delivery_id)
    world.deliver()
    with pytest.raises(
        InputError, match=rf"^delivery {delivery_id} is delivered; only a failed one is retried$"
    ):
        outbox.retry_failed(world.store, delivery_id)
    with pytest.raises(InputError, match=r"^unknown delivery 999$"):
        outbox.retry_failed(world.store, 999)
    assert world.delivery().status == "delivered"


def test_stored_parameters_the_installed_action_now_refuses_fail_for_good(
    worlds: Callable[..., World],
) -> None:
    world = worlds(['{ action = "probe", colour = "red" }'], registry_with(Probe()))

    class Strict(msgspec.Struct, forbid_unknown_fields=True):
        size: int = 1

    upgraded = Probe()
    upgraded.params_type = Strict  # type: ignore[attr-defined]
    world.registry = registry_with(upgraded)
    assert world.deliver() == WorkSummary(failed=1)
    assert world.delivery().detail == (
        "refused for good after 1 attempt(s): stored parameters no longer valid: "
        "Object contains unknown field `colour`"
    )
    assert upgraded.requests == []


def test_an_action_no_longer_installed_is_retried_then_failed(
    worlds: Callable[..., World],
) -> None:
    world = worlds([PROBE], registry_with(Probe()), outbox_settings="max_attempts = 2\n")
    world.registry = registry_with()
    assert world.deliver() == WorkSummary(retrying=1)
    world.clock.advance(30)
    assert world.deliver() == WorkSummary(failed=1)
    assert world.delivery().detail == (
        "out of attempts after 2 attempt(s): action 'probe' is not installed (or cannot execute)"
    )


# --- leases: a worker that dies, and a worker that overruns ----------------------------


def test_an_expired_lease_lets_a_delivery_be_claimed_again_and_the_lost_attempt_is_logged(
    worlds: Callable[..., World],
) -> None:
    probe = Probe()
    probe.script = [SystemExit("killed mid-attempt")]
    world = worlds([PROBE], registry_with(probe), outbox_settings="lease_seconds = 60\n")
    claimed_at = world.clock.now
    with pytest.raises(SystemExit):
        world.deliver()  # the worker process dies while the action runs
    held = world.delivery()
    assert (held.status, held.attempts) == ("pending", 1)
    assert world.log() == []

    world.clock.advance(59.999)
    assert world.deliver() == WorkSummary(), "still leased to the dead worker"
    assert len(probe.requests) == 1
    world.clock.advance(0.001)
    assert world.deliver() == WorkSummary(delivered=1)

    first, second = probe.requests
    assert first.idempotency_key == second.idempotency_key == held.idempotency_key
    lease_end = (claimed_at + timedelta(seconds=60)).isoformat()
    assert world.log() == [
        (
            1,
            world.clock.now,
            False,
            f"no result recorded: the lease ran out at {lease_end} "
            "(the worker stopped or overran it)",
        ),
        (2, world.clock.now, True, "ok"),
    ]
    done = world.delivery()
    assert (done.status, done.attempts) == ("delivered", 2)


@pytest.mark.parametrize("late_answer", ["refused", "retry"])
def test_a_worker_that_overran_its_lease_does_not_undo_the_delivery_of_the_one_that_took_over(
    worlds: Callable[..., World], late_answer: str
) -> None:
    """Worker A's action outlives its lease; worker B claims the delivery and delivers it;
    then A's action returns a failure. The delivery stays delivered."""
    probe = Probe()
    world = worlds([PROBE], registry_with(probe), outbox_settings="lease_seconds = 10\n")
    taken_over: list[WorkSummary] = []

    def slow_then_fails(request: ActionRequest) -> ActionOutcome:
        world.clock.advance(10)
        taken_over.append(world.deliver())  # worker B, while A's action still runs
        return ActionOutcome(
            delivered=False, retryable=late_answer == "retry", detail="HTTP 400: too late"
        )

    probe.script = [slow_then_fails]
    start = world.clock.now
    assert world.deliver() == WorkSummary(retrying=1)
    assert taken_over == [WorkSummary(delivered=1)]
    done = world.delivery()
    assert (done.status, done.detail, done.attempts) == ("delivered", "ok", 2)
    lease_end = (start + timedelta(seconds=10)).isoformat()
    assert [(n, ok, detail) for n, _, ok, detail in world.log()] == [
        (
            1,
            False,
            f"no result recorded: the lease ran out at {lease_end} "
            "(the worker stopped or overran it)",
        ),
        (2, True, "ok"),
        (3, False, f"after the lease ran out at {lease_end}: HTTP 400: too late"),
    ]


def test_a_worker_that_overran_its_lease_and_delivered_marks_the_delivery_delivered(
    worlds: Callable[..., World],
) -> None:
    """A delivers late; B, which took over, was refused meanwhile: delivered is the fact."""
    probe = Probe()
    world = worlds([PROBE], registry_with(probe), outbox_settings="lease_seconds = 10\n")
    taken_over: list[WorkSummary] = []

    def slow_but_delivers(request: ActionRequest) -> ActionOutcome:
        world.clock.advance(10)
        probe.script.append(ActionOutcome(delivered=False, retryable=False, detail="HTTP 409"))
        taken_over.append(world.deliver())
        return ActionOutcome(delivered=True, detail="HTTP 200")

    probe.script = [slow_but_delivers]
    assert world.deliver() == WorkSummary(delivered=1)
    assert taken_over == [WorkSummary(failed=1)]
    done = world.delivery()
    assert done.status == "delivered"
    assert done.detail.endswith(": HTTP 200")
    assert done.finished_at == world.clock.now
    assert [(n, ok) for n, _, ok, _ in world.log()] == [(1, False), (2, False), (3, True)]
    assert outbox.list_deliveries(world.store, status="failed") == []


def test_a_late_failure_while_the_new_holder_is_at_work_changes_nothing(
    worlds: Callable[..., World],
) -> None:
    """Two workers at once: A overruns its lease and B takes the delivery over; A's
    refusal arrives while B is still sending, and must not fail what B then delivers."""
    probe = Probe()
    world = worlds([PROBE], registry_with(probe), outbox_settings="lease_seconds = 10\n")
    a_running, a_answer, b_running, b_answer = (threading.Event() for _ in range(4))

    def worker_a_action(request: ActionRequest) -> ActionOutcome:
        a_running.set()
        assert a_answer.wait(10)
        return ActionOutcome(delivered=False, retryable=False, detail="HTTP 400: stale")

    def worker_b_action(request: ActionRequest) -> ActionOutcome:
        b_running.set()
        assert b_answer.wait(10)
        return ActionOutcome(delivered=True, detail="HTTP 200")

    probe.script = [worker_a_action, worker_b_action]
    summaries: dict[str, WorkSummary] = {}

    def worker(name: str) -> None:
        summaries[name] = world.deliver(limit=1)

    worker_a = threading.Thread(target=worker, args=["a"])
    worker_a.start()
    assert a_running.wait(10)
    world.clock.advance(10)
    worker_b = threading.Thread(target=worker, args=["b"])
    worker_b.start()
    assert b_running.wait(10)
    a_answer.set()
    worker_a.join(10)
    meanwhile = world.delivery()
    assert (meanwhile.status, meanwhile.detail, meanwhile.attempts) == ("pending", "", 2)
    b_answer.set()
    worker_b.join(10)
    assert summaries == {"a": WorkSummary(retrying=1), "b": WorkSummary(delivered=1)}
    done = world.delivery()
    assert (done.status, done.detail) == ("delivered", "HTTP 200")
    assert [(n, ok) for n, _, ok, _ in world.log()] == [(1, False), (2, False), (3, True)]
    assert world.log()[1][3].endswith(": HTTP 400: stale")


def test_a_clock_in_another_time_zone_sees_the_same_instants(
    worlds: Callable[..., World],
) -> None:
    """Stored times are compared as text; a worker whose clock is not in UTC must still
    find what is due and store comparable times."""
    probe = Probe()
    probe.script = [ActionOutcome(delivered=False, detail="busy")]
    world = worlds([PROBE], registry_with(probe), outbox_settings="backoff_seconds = 60\n")
    new_york = timezone(timedelta(hours=-5))
    world.clock.now = world.clock.now.astimezone(new_york)
    assert world.deliver() == WorkSummary(retrying=1)
    due = world.delivery().next_attempt_at
    assert due == world.clock.now + timedelta(seconds=60)
    assert due is not None
    assert due.utcoffset() == timedelta(0)
    world.clock.advance(59)
    assert world.deliver() == WorkSummary()
    world.clock.advance(1)
    assert world.deliver() == WorkSummary(delivered=1)


# --- approvals -------------------------------------------------------------------------


def approval_task(world: World) -> int:
    (task,) = tasks.list_tasks(world.store, kind="approval")
    assert task.delivery_id == world.delivery().delivery_id
    return task.task_id


def test_a_delivery_awaiting_approval_is_sent_only_once_approved(
    worlds: Callable[..., World], http: HttpReceiver
) -> None:
    world = worlds([webhook(http, approval=True)])
    waiting = world.delivery()
    assert (waiting.status, waiting.needs_approval) == ("awaiting_approval", True)
    world.clock.advance(3 * 86400)
    assert world.deliver() == WorkSummary()
    assert http.requests == []

    tasks.approve_task(world.store, approval_task(world), by=OWNER)
    assert world.delivery().status == "pending"
    assert world.deliver() == WorkSummary(delivered=1)
    assert http.ledger.applied == {waiting.idempotency_key: 1}
    assert world.delivery().status == "delivered"


def test_a_dismissed_approval_cancels_the_delivery_for_ever(
    worlds: Callable[..., World], http: HttpReceiver
) -> None:
    world = worlds([webhook(http, approval=True)])
    tasks.dismiss_task(world.store, approval_task(world), by=OWNER, reason="already called them")
    cancelled = world.delivery()
    assert cancelled.status == "cancelled"
    assert cancelled.detail == f"not approved: dismissed by {OWNER}: already called them"
    world.clock.advance(30 * 86400)
    assert world.deliver() == WorkSummary()
    assert http.requests == []
    with pytest.raises(InputError, match=r"is cancelled; only a failed one is retried$"):
        outbox.retry_failed(world.store, cancelled.delivery_id)
    assert world.log() == []


# --- tracing ---------------------------------------------------------------------------


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """The outbox's spans, from a tracer provider of this test's own."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(outbox, "tracer", provider.get_tracer("telltales"))
    return exporter


def action_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == "telltales.action"]


def test_each_attempt_has_a_span_and_a_failed_one_says_why(
    worlds: Callable[..., World], http: HttpReceiver, spans: InMemorySpanExporter
) -> None:
    probe = Probe()
    probe.script = [ValueError("bad gateway in the probe")]
    world = worlds([webhook(http), PROBE], registry_with(probe))
    http.script.answers = [500]
    assert world.deliver() == WorkSummary(retrying=2)
    world.clock.advance(30)
    assert world.deliver() == WorkSummary(delivered=2)

    found = action_spans(spans)
    assert [
        (
            s.attributes["telltales.plugin"],
            s.attributes["telltales.action"],
            s.attributes["telltales.attempt"],
            s.status.status_code,
        )
        for s in found
        if s.attributes is not None
    ] == [
        ("notify", "webhook", 1, StatusCode.ERROR),
        ("outbox_tests", "probe", 1, StatusCode.ERROR),
        ("notify", "webhook", 2, StatusCode.UNSET),
        ("outbox_tests", "probe", 2, StatusCode.UNSET),
    ]
    ids = [d.delivery_id for d in world.deliveries()]
    assert [s.attributes["telltales.delivery_id"] for s in found if s.attributes] == ids * 2
    assert found[0].status.description == "HTTP 500: receiver says no"
    assert found[1].status.description == "ValueError: bad gateway in the probe"
    assert [event.name for event in found[1].events] == ["exception"]


def test_an_attempt_that_cannot_run_the_action_has_a_span_too(
    worlds: Callable[..., World], spans: InMemorySpanExporter
) -> None:
    world = worlds([PROBE], registry_with(Probe()))
    world.registry = registry_with()
    world.deliver()
    (span,) = action_spans(spans)
    assert span.attributes is not None
    assert (span.attributes["telltales.action"], span.attributes["telltales.plugin"]) == (
        "probe",
        "",
    )
    assert span.status.description == "action 'probe' is not installed (or cannot execute)"
