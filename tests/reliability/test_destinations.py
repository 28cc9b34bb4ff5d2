"""Destinations down (issue 7, part 5): an SMTP server or a webhook that refuses, times
out, hangs or answers 5xx/429 for a while loses nothing and doubles nothing.

Real receivers on 127.0.0.1 (``support.outbox_receivers``) and the real ``email`` and
``webhook`` actions of the notify plugin. While a destination is down, each attempt
fails and the next waits the configured backoff, doubling (checked to the
microsecond through the worker's clock); when it is back, the delivery arrives once.
Past ``max_attempts`` a delivery is failed, listed by ``telltales outbox list`` and
retried by hand with ``telltales outbox retry``; and a webhook that never finishes its
answer holds ``telltales worker`` no longer than ``attempt_time_limit_seconds``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from support.api import api_settings
from support.configs import SHELFWARE
from support.outbox_receivers import HANG, SECRET, HttpReceiver, SmtpReceiver
from support.server import environment, telltales
from telltales.config import load_config
from telltales.engine.pipeline import run
from telltales.playbooks import outbox
from telltales.playbooks.outbox import WorkSummary, backoff
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.playbooks.plan import Plan, load_plan
from telltales.plugins import Registry, load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store, open_store
from telltales.testing import ApiClient
from telltales_api import create_app

pytestmark = pytest.mark.reliability

DAY = date(2026, 11, 20)
DOWN_FOR = 3
"""Attempts a destination fails before it is back."""
ATTEMPT_LIMIT = 1.0
"""``[outbox] attempt_time_limit_seconds`` in the outage tests."""
CONFIG = (
    SHELFWARE
    + """
[csm_groups.emea]
manager = "mia.berg@vendor.example"

[actions.email]
host = "127.0.0.1"
port = PORT
sender = "telltales@vendor.example"
timeout_seconds = 0.5

[actions.webhook]
timeout_seconds = 0.5

[playbooks.alert]
on_enter = "at_risk"
rules = ["shelfware"]
steps = [
  { action = "email", to = ["owner", "manager"] },
  { action = "webhook", url = "URL" },
]

[outbox]
"""
)
FERRUM = {
    "account_id": "ferrum",
    "name": "Ferrum Manufacturing",
    "owner": "li.chen@vendor.example",
    "csm_group": "emea",
    "seats_purchased": 80,
    "seats_assigned": 36,
}


@pytest.fixture(autouse=True)
def _direct_connections_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.setenv("TELLTALES_WEBHOOK_SECRET", SECRET)


def build(
    tmp_path: Path, smtp: SmtpReceiver, http: HttpReceiver, outbox_settings: str
) -> tuple[Path, Store, Registry, Plan]:
    """Ferrum entered At-Risk in a pilot: one email and one webhook delivery pending."""
    config = tmp_path / "telltales.toml"
    config.write_text(
        CONFIG.replace("PORT", str(smtp.port)).replace("URL", http.url) + outbox_settings
    )
    registry = load_registry()  # the installed plugins, as `telltales worker` loads them
    plan = load_plan(load_config(config), registry)
    migrations = [entry.obj for entry in registry.migrations.values()]
    store = open_store(tmp_path / "telltales.db", migrations, create=True)
    ingest(store, registry, "accounts", convert_records(registry, "accounts", [FERRUM]))
    pilot = NewPilot(
        pilot_id="emea",
        csm_groups=["emea"],
        rules=["shelfware"],
        playbooks=["alert"],
        starts_on=date(2026, 11, 1),
    )
    create_pilot(store, plan, pilot, by="ops@vendor.example")
    result = run(store, registry, DAY, plan=plan)
    assert result.actions is not None
    assert result.actions.deliveries == 2
    return config, store, registry, plan


Outage = Callable[[SmtpReceiver, HttpReceiver], Callable[[], None]]
"""Takes a destination down for ``DOWN_FOR`` attempts; returns what brings it back."""


def smtp_refuses(smtp: SmtpReceiver, http: HttpReceiver) -> Callable[[], None]:
    smtp.down()
    return smtp.up


def smtp_says_later(smtp: SmtpReceiver, http: HttpReceiver) -> Callable[[], None]:
    smtp.script.answers = ["451 4.3.0 try again later"] * DOWN_FOR
    return lambda: None


def http_refuses(smtp: SmtpReceiver, http: HttpReceiver) -> Callable[[], None]:
    http.down()
    return http.up


def http_answers(status: int) -> Outage:
    def outage(smtp: SmtpReceiver, http: HttpReceiver) -> Callable[[], None]:
        http.script.answers = [status] * DOWN_FOR
        return lambda: None

    return outage


def http_hangs(smtp: SmtpReceiver, http: HttpReceiver) -> Callable[[], None]:
    http.script.answers = [HANG] * DOWN_FOR
    return http.release.set


OUTAGES: dict[str, tuple[str, Outage, str]] = {
    "smtp refuses connections": ("email", smtp_refuses, "cannot reach SMTP server "),
    "smtp answers 451": ("email", smtp_says_later, "SMTP 451 from "),
    "webhook refuses connections": ("webhook", http_refuses, "cannot connect: "),
    "webhook answers 500": ("webhook", http_answers(500), "HTTP 500: "),
    "webhook answers 503": ("webhook", http_answers(503), "HTTP 503: "),
    "webhook answers 429": ("webhook", http_answers(429), "HTTP 429: "),
    "webhook times out": (
        "webhook",
        http_hangs,
        f"no result within {ATTEMPT_LIMIT:g} s (the time limit, ",
    ),
}


class Clock:
    """The worker's clock, moved by hand (a minute ahead, so what was queued is due)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_a_destination_down_for_a_while_is_retried_with_backoff_and_served_once(
    tmp_path: Path, smtp: SmtpReceiver, http: HttpReceiver, outage: str
) -> None:
    action, take_down, failed_detail = OUTAGES[outage]
    settings = (
        "max_attempts = 5\nbackoff_seconds = 5\nbackoff_max_seconds = 15\n"
        # Generous for a healthy delivery on a loaded CI machine (the other destination
        # must be served on its first attempt); it ends only the hanging webhook.
        f"attempt_time_limit_seconds = {ATTEMPT_LIMIT}\n"
    )
    _, store, registry, plan = build(tmp_path, smtp, http, settings)
    bring_back = take_down(smtp, http)
    other = "webhook" if action == "email" else "email"
    clock = Clock()
    start = clock.now
    deliveries = {d.action: d for d in outbox.list_deliveries(store)}
    for attempt in range(1, DOWN_FOR + 1):
        done = outbox.deliver_due(store, registry, plan, clock=clock)
        # The other destination is up: it is served on the first attempt, once.
        assert done == WorkSummary(retrying=1, delivered=int(attempt == 1)), attempt
        pending = {d.action: d for d in outbox.list_deliveries(store)}[action]
        assert (pending.status, pending.attempts) == ("pending", attempt)
        assert pending.next_attempt_at == clock.now + backoff(plan, attempt)
        clock.now += backoff(plan, attempt) - timedelta(microseconds=1)
        assert outbox.deliver_due(store, registry, plan, clock=clock) == WorkSummary()
        clock.now += timedelta(microseconds=1)
    bring_back()
    assert outbox.deliver_due(store, registry, plan, clock=clock) == WorkSummary(delivered=1)

    key = deliveries[action].idempotency_key
    ledger = smtp.ledger if action == "email" else http.ledger
    assert ledger.applied == {key: 1}, "delivered exactly once"
    other_ledger = http.ledger if action == "email" else smtp.ledger
    assert other_ledger.applied == {deliveries[other].idempotency_key: 1}
    log = outbox.attempts_of(store, deliveries[action].delivery_id)
    # Backoff 5 s, doubling to 10 s, capped at 15 s: attempts at 0, 5, 15 and 30 s.
    assert [a.at - start for a in log] == [timedelta(seconds=s) for s in (0, 5, 15, 30)]
    assert [a.delivered for a in log] == [False] * DOWN_FOR + [True]
    assert all(a.detail.startswith(failed_detail) for a in log[:DOWN_FOR]), log
    assert {d.status for d in outbox.list_deliveries(store)} == {"delivered"}
    store.close()


def worker(config: Path, db: Path, *args: str) -> tuple[str, float]:
    """``telltales worker --once`` as a real process: its output and how long it took."""
    env = environment(TELLTALES_WEBHOOK_SECRET=SECRET)
    started = time.monotonic()
    done = telltales("--db", db, "--config", config, "worker", "--once", *args, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout, time.monotonic() - started


def test_past_max_attempts_deliveries_are_failed_listed_and_retried_by_hand(
    tmp_path: Path, smtp: SmtpReceiver, http: HttpReceiver
) -> None:
    config, store, _, _ = build(tmp_path, smtp, http, "max_attempts = 2\nbackoff_seconds = 0.2\n")
    db = store.path
    smtp.down()
    http.script.then = 503
    outputs = []
    deadline = time.monotonic() + 60
    while {d.status for d in outbox.list_deliveries(store)} != {"failed"}:
        assert time.monotonic() < deadline, outbox.list_deliveries(store)
        outputs.append(worker(config, db)[0])
        time.sleep(0.05)
    # Each pass delivers nothing; between them the two deliveries fail once each. A slow
    # pass may reach a delivery's second attempt itself (its backoff is 0.2 s), so the
    # passes are counted together, not one by one.
    passes = [re.fullmatch(r"Delivered 0, to retry (\d+), failed (\d+)\n", o) for o in outputs]
    counts = [(int(m.group(1)), int(m.group(2))) for m in passes if m is not None]
    assert len(counts) == len(outputs), outputs
    assert sum(failed for _, failed in counts) == 2, outputs
    assert counts[0][0] >= 1, "the first pass retries"
    failed = outbox.list_deliveries(store)
    for delivery in failed:
        first, second = outbox.attempts_of(store, delivery.delivery_id)
        assert second.at - first.at >= timedelta(seconds=0.2), "the backoff was waited"
    cli = ("--db", db, "--config", config)
    listed = telltales(*cli, "outbox", "list", "--status", "failed").stdout.splitlines()
    assert [line.split("\t")[:3] for line in listed] == [
        [str(failed[0].delivery_id), "failed", "email"],
        [str(failed[1].delivery_id), "failed", "webhook"],
    ]
    assert all("out of attempts after 2 attempt(s): " in line for line in listed)
    # Failed deliveries stay failed, however long the worker runs: never dropped.
    assert worker(config, db)[0] == "Delivered 0, to retry 0, failed 0\n"

    smtp.up()
    http.script.then = 200
    for delivery in failed:
        retried = telltales(*cli, "outbox", "retry", str(delivery.delivery_id))
        assert retried.stdout == f"Delivery {delivery.delivery_id} queued again\n"
    assert worker(config, db)[0] == "Delivered 2, to retry 0, failed 0\n"
    assert smtp.ledger.applied == {failed[0].idempotency_key: 1}
    assert http.ledger.applied == {failed[1].idempotency_key: 1}
    assert [(d.status, d.delivery_id) for d in outbox.list_deliveries(store)] == [
        ("delivered", d.delivery_id) for d in failed
    ]
    store.close()


def test_failed_deliveries_are_listed_by_the_api_and_retried_through_it(
    tmp_path: Path, smtp: SmtpReceiver, http: HttpReceiver
) -> None:
    settings = api_settings(
        tmp_path,
        CONFIG.replace("PORT", str(smtp.port)).replace("URL", http.url) + "max_attempts = 1\n",
    )
    http.script.then = 503
    smtp.down()
    with ApiClient(lambda: create_app(settings)) as api:
        context = api.context
        store, registry, plan = context.store, context.registry, context.plan
        ingest(store, registry, "accounts", convert_records(registry, "accounts", [FERRUM]))
        pilot = NewPilot(
            pilot_id="emea",
            csm_groups=["emea"],
            rules=["shelfware"],
            playbooks=["alert"],
            starts_on=date(2026, 11, 1),
        )
        create_pilot(store, plan, pilot, by="ops@vendor.example")
        run(store, registry, DAY, plan=plan)
        assert outbox.deliver_due(store, registry, plan) == WorkSummary(failed=2)
        headers = api.headers(api.key("admin"))
        listed = api.client.get("/v1/deliveries", params={"status": "failed"}, headers=headers)
        assert listed.status_code == 200
        failed = listed.json()["items"]
        assert [d["action"] for d in failed] == ["webhook", "email"]  # newest first
        assert {d["status"] for d in failed} == {"failed"}
        shown = api.client.get(f"/v1/deliveries/{failed[0]['delivery_id']}", headers=headers)
        assert [a["delivered"] for a in shown.json()["attempts_made"]] == [False]
        smtp.up()
        http.script.then = 200
        for delivery in failed:
            retried = api.client.post(
                f"/v1/deliveries/{delivery['delivery_id']}/retry", headers=headers
            )
            assert retried.status_code == 200
            assert retried.json()["status"] == "pending"
            again = api.client.post(
                f"/v1/deliveries/{delivery['delivery_id']}/retry", headers=headers
            )
            assert again.status_code == 409, "only a failed delivery is retried"
        assert outbox.deliver_due(store, registry, plan) == WorkSummary(delivered=2)
        assert smtp.ledger.applied == {failed[1]["idempotency_key"]: 1}
        assert http.ledger.applied == {failed[0]["idempotency_key"]: 1}


def test_a_webhook_that_never_finishes_answering_holds_the_worker_only_to_the_time_limit(
    tmp_path: Path, smtp: SmtpReceiver, http: HttpReceiver
) -> None:
    """The receiver trickles its answer a byte at a time: every read is within the
    webhook's own timeout, so only the attempt's time limit ends the wait."""
    config, store, _, _ = build(
        tmp_path, smtp, http, "attempt_time_limit_seconds = 1\nbackoff_seconds = 0.2\n"
    )
    http.script.answers = [HANG]
    output, took = worker(config, store.path)
    assert output == "Delivered 1, to retry 1, failed 0\n"
    assert took < 1 + 15, "startup plus one time limit, not the hang"
    hook = next(d for d in outbox.list_deliveries(store) if d.action == "webhook")
    assert (hook.status, hook.attempts) == ("pending", 1)
    assert hook.detail == (
        "no result within 1 s (the time limit, [outbox] attempt_time_limit_seconds): "
        "abandoned, whatever it returns later is discarded"
    )
    http.release.set()
    time.sleep(0.2)
    assert worker(config, store.path)[0] == "Delivered 1, to retry 0, failed 0\n"
    assert http.ledger.applied == {hook.idempotency_key: 1}
    store.close()
