"""The issue's done-when: killing the worker at any point and starting it again delivers
every action exactly once, to a real SMTP server and a real HTTP server.

Forty accounts enter At-Risk in a pilot whose playbook sends an email and a webhook:
eighty deliveries. ``telltales worker`` runs as a real process and is killed (SIGKILL:
no clean-up of any kind) at random moments, mostly while it is delivering, and started
again, until every delivery is delivered. The receivers act before they answer and
answer slowly, so some kills land after a destination acted and before the worker
recorded it: the delivery is then sent again with the same idempotency key, and the
receiver, as the documented contract asks, does not act twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from support.outbox_receivers import SECRET, HttpReceiver, SmtpReceiver
from telltales import outbox
from telltales.config import load_config
from telltales.engine import run
from telltales.ingest import convert_records, ingest
from telltales.pilots import NewPilot, create_pilot
from telltales.plan import load_plan
from telltales.plugins import load_registry
from telltales.store import Store, open_store

TELLTALES = Path(sys.executable).parent / "telltales"
DAY = date(2026, 11, 20)
ACCOUNTS = 40
KILLS = 12
SEED = 4_2026
MANAGER = "mia.berg@vendor.example"
LOST = "no result recorded: "
"""How the attempt log starts the entry of an attempt whose worker was killed."""

CONFIG = """\
[rules.shelfware]
description = "Fewer than half the purchased seats assigned"
status = "at_risk"
severity = "high"
conditions = [{ signal = "account.seat_deployment", below = 0.5 }]

[rules.score_red]
enabled = false

[playbooks.at_risk_response]
enabled = false

[playbooks.alert]
on_enter = "at_risk"
rules = ["shelfware"]
steps = [
  { action = "email", to = ["owner", "manager"] },
  { action = "webhook", url = "URL" },
]

[actions.email]
host = "127.0.0.1"
port = PORT
sender = "telltales@vendor.example"

[csm_groups.emea]
manager = "mia.berg@vendor.example"

[alerts]
max_new_runs_per_csm_per_week = 100

[outbox]
lease_seconds = 0.5
backoff_seconds = 0.2
backoff_max_seconds = 1
# Each kill costs the delivery in flight one attempt; leave room for bad luck.
max_attempts = 20
"""


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(delay=(0.02, 0.05)).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(delay=(0.02, 0.05)).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Workers this test started; any still running when it ends (a failure) are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def owner(index: int) -> str:
    return f"csm{index % 4}@vendor.example"


def build(tmp_path: Path, smtp: SmtpReceiver, http: HttpReceiver) -> tuple[Path, Path, Store]:
    """The database after one run: 40 live playbook runs, 80 pending deliveries."""
    config = tmp_path / "telltales.toml"
    config.write_text(CONFIG.replace("PORT", str(smtp.port)).replace("URL", http.url))
    registry = load_registry()  # what the worker process loads too: notify included
    plan = load_plan(load_config(config), registry)
    db = tmp_path / "telltales.db"
    migrations = [entry.obj for entry in registry.migrations.values()]
    store = open_store(db, migrations, create=True)
    accounts = [
        {
            "account_id": f"acct{index:02d}",
            "name": f"Account {index}",
            "owner": owner(index),
            "csm_group": "emea",
            "seats_purchased": 100,
            "seats_assigned": 10 + index,  # 10% to 49%: all under half
        }
        for index in range(ACCOUNTS)
    ]
    ingest(store, registry, "accounts", convert_records(registry, "accounts", accounts))
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
    assert (result.actions.playbooks_live, result.actions.deliveries) == (ACCOUNTS, 2 * ACCOUNTS)
    return config, db, store


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.005)


def test_killing_the_worker_at_any_moment_still_delivers_every_action_exactly_once(
    tmp_path: Path,
    smtp: SmtpReceiver,
    http: HttpReceiver,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    config, db, store = build(tmp_path, smtp, http)
    deliveries = outbox.list_deliveries(store)
    keys = {
        action: {d.idempotency_key for d in deliveries if d.action == action}
        for action in ("email", "webhook")
    }
    assert [len(keys["email"]), len(keys["webhook"])] == [ACCOUNTS, ACCOUNTS]

    env = {name: value for name, value in os.environ.items() if not name.lower().endswith("_proxy")}
    env["TELLTALES_WEBHOOK_SECRET"] = SECRET
    command = [str(TELLTALES), "--db", str(db), "--config", str(config)]
    worker = [*command, "worker", "--poll", "0.05"]

    def arrivals() -> int:
        return len(smtp.ledger.raw) + len(http.ledger.raw)

    def delivered() -> int:
        (count,) = store.db.execute(
            "SELECT count(*) FROM deliveries WHERE status = 'delivered'"
        ).fetchone()
        return int(count)

    def arrival_since(count: int, process: subprocess.Popen[bytes]) -> Callable[[], bool]:
        """True once a receiver got something more, or the worker exited."""
        return lambda: arrivals() > count or process.poll() is not None

    def start() -> subprocess.Popen[bytes]:
        """A worker whose output goes to files: a full pipe must never stall it."""
        number = len(processes)
        with (
            (tmp_path / f"worker{number}.out").open("wb") as out,
            (tmp_path / f"worker{number}.err").open("wb") as err,
        ):
            process = subprocess.Popen(worker, env=env, stdout=out, stderr=err)
        processes.append(process)
        return process

    def output_of(process: subprocess.Popen[bytes]) -> tuple[str, str]:
        number = processes.index(process)
        out, err = ((tmp_path / f"worker{number}.{kind}").read_text() for kind in ("out", "err"))
        return out, err

    rng = random.Random(SEED)
    started = time.monotonic()
    kills = 0
    while kills < KILLS:
        assert delivered() < 2 * ACCOUNTS, f"all delivered after only {kills} kills"
        before = arrivals()
        process = start()
        if rng.random() < 0.25:
            # Anywhere from start-up (imports, opening the database) into the work.
            time.sleep(rng.uniform(0.05, 1.0))
        else:
            # While it delivers: the next arrival shows it is mid-attempt, then a bit later.
            wait_for(arrival_since(before, process), 20, "an arrival")
            time.sleep(rng.uniform(0.0, 0.15))
        exited = process.poll()
        process.kill()
        process.wait(timeout=10)
        assert exited is None, f"the worker stopped by itself ({exited}): {output_of(process)}"
        kills += 1

    # The last start runs to the end; then it is asked to stop, as an operator would.
    process = start()
    wait_for(lambda: delivered() == 2 * ACCOUNTS or process.poll() is not None, 60, "the end")
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    output, errors = output_of(process)
    assert process.returncode == 0, errors
    assert errors == ""
    assert output.startswith("Delivered ")
    assert output.endswith(", to retry 0, failed 0\n")
    elapsed = time.monotonic() - started

    # Every delivery delivered, every claim of it in its attempt log, the last delivered.
    final = outbox.list_deliveries(store)
    assert Counter(d.status for d in final) == {"delivered": 2 * ACCOUNTS}
    lost = 0
    for delivery in final:
        log = outbox.attempts_of(store, delivery.delivery_id)
        assert [a.attempt for a in log] == list(range(1, delivery.attempts + 1))
        assert [a.delivered for a in log] == [False] * (len(log) - 1) + [True]
        assert all(a.detail.startswith(LOST) for a in log[:-1]), log
        lost += len(log) - 1

    # Each destination acted on each of its keys exactly once, and on nothing else.
    assert smtp.ledger.applied == dict.fromkeys(keys["email"], 1)
    assert http.ledger.applied == dict.fromkeys(keys["webhook"], 1)
    assert all(r.signed for r in http.requests)
    owners = {f"Account {i}": owner(i) for i in range(ACCOUNTS)}
    for message, recipients in zip(smtp.messages, smtp.recipients, strict=True):
        name = str(message["Subject"]).split("] ", 1)[1].split(" is ", 1)[0]
        assert recipients == [owners[name], MANAGER]

    # A kill between a destination acting and the worker recording it makes a repeat;
    # one worker has one delivery in flight, so each kill repeats at most one delivery.
    duplicates = smtp.ledger.duplicates + http.ledger.duplicates
    print(
        f"\n{kills} kills in {elapsed:.1f} s: {lost} attempts cut short, "
        f"{duplicates} repeated arrivals (email {smtp.ledger.duplicates}, webhook "
        f"{http.ledger.duplicates}), none acted on twice"
    )
    assert duplicates <= lost <= kills
    assert lost >= 1, "no kill landed during an attempt: the test proved nothing"

    (check,) = store.db.execute("PRAGMA integrity_check").fetchone()
    assert check == "ok"
    store.close()
