"""Killing real processes at random moments, and what must hold after each kill.

Shared by the outbox's kill test and the reliability suite: ``telltales serve`` and
``telltales worker`` processes started, killed (SIGKILL: no clean-up of any kind) and
started again; the checks a database and the receivers must pass after any number of
such kills; and the book of accounts the crash and concurrency tests serve.
"""

from __future__ import annotations

import contextlib
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from telltales.config import load_config
from telltales.playbooks import outbox
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.playbooks.plan import load_plan
from telltales.plugins import Registry, load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store, open_store
from telltales.store.keys import create_key

from support.outbox_receivers import SECRET, HttpReceiver, SmtpReceiver
from support.server import TELLTALES, Server, environment, kill_server, start_server, stop_server

ACCOUNTS = 400
RUN_DAY = date(2026, 11, 2)
"""The pilot's first day; the book's usage is of the 30 days before it."""
LOST = "no result recorded: "
"""How the attempt log starts the entry of an attempt whose worker was killed."""


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.005)


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the file, from a connection of its own ("ok" if sound)."""
    conn = sqlite3.connect(db)
    try:
        return "\n".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


class Servers:
    """The ``telltales serve`` processes of one test over one database, one at a time.

    :meth:`close` stops any still running (also after a failure), so use it in a
    fixture's ``finally``.
    """

    def __init__(self, db: Path, *options: str, env: dict[str, str] | None = None) -> None:
        self.db = db
        self.options = options
        self.env = env
        self.started: list[Server] = []

    def start(self) -> Server:
        """A new server over the database, ready to answer."""
        server = start_server(self.db, *self.options, env=self.env)
        self.started.append(server)
        server.wait_ready()
        return server

    def close(self) -> None:
        for server in self.started:
            if server.process.returncode is None:
                stop_server(server)


def post_and_kill(
    server: Server, path: str, body: Any, headers: dict[str, str], delay: float
) -> httpx.Response | None:
    """POST ``body``, SIGKILL the server ``delay`` seconds later; the answer, if one came first.

    The request runs on a thread with a client of its own, as a separate caller would,
    and the kill does not wait for it: the answer is None when the server died first.
    """
    answers: list[httpx.Response] = []

    def send() -> None:
        with (
            httpx.Client(base_url=server.url, trust_env=False, timeout=60) as client,
            contextlib.suppress(httpx.TransportError),
        ):
            answers.append(client.post(path, json=body, headers=headers))

    thread = threading.Thread(target=send)
    thread.start()
    time.sleep(delay)
    kill_server(server)
    thread.join(timeout=60)
    assert not thread.is_alive(), "the request outlived the server"
    return answers[0] if answers else None


class Workers:
    """``telltales worker`` processes of one test, each with its output in files.

    Files, not pipes: a full pipe must never stall a worker. :meth:`close` kills any
    still running (a failed test), so use it in a fixture's ``finally``.
    """

    def __init__(self, folder: Path, command: list[str], env: dict[str, str]) -> None:
        self.folder = folder
        self.command = command
        self.env = env
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        number = len(self.started)
        with (
            (self.folder / f"worker{number}.out").open("wb") as out,
            (self.folder / f"worker{number}.err").open("wb") as err,
        ):
            process = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=err)
        self.started.append(process)
        return process

    def output_of(self, process: subprocess.Popen[bytes]) -> tuple[str, str]:
        number = self.started.index(process)
        out, err = ((self.folder / f"worker{number}.{kind}").read_text() for kind in ("out", "err"))
        return out, err

    def kill_while_delivering(
        self,
        kills: int,
        rng: random.Random,
        arrivals: Callable[[], int],
        all_delivered: Callable[[], bool],
    ) -> None:
        """Start a worker and kill it, ``kills`` times, mostly while it delivers.

        A quarter of the kills land anywhere from start-up (imports, opening the
        database) into the work; the rest just after a receiver got something (the
        worker is mid-attempt), a little later. Fails if the work ends too early for
        the kills to mean anything, or if a worker stops by itself.
        """
        for done in range(kills):
            assert not all_delivered(), f"all delivered after only {done} kills"
            process = self.start()
            if rng.random() < 0.25:
                time.sleep(rng.uniform(0.05, 1.0))
            else:
                wait_for(_arrival_since(arrivals(), arrivals, process), 20, "an arrival")
                time.sleep(rng.uniform(0.0, 0.15))
            exited = process.poll()
            process.kill()
            process.wait(timeout=10)
            output = self.output_of(process)
            assert exited is None, f"the worker stopped by itself ({exited}): {output}"

    def run_to_the_end(self, all_delivered: Callable[[], bool]) -> str:
        """A last worker delivers the rest, then is stopped as an operator would; its output."""
        process = self.start()
        wait_for(lambda: all_delivered() or process.poll() is not None, 60, "the end")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        output, errors = self.output_of(process)
        assert process.returncode == 0, errors
        assert errors == ""
        assert output.startswith("Delivered ")
        assert output.endswith(", to retry 0, failed 0\n")
        return output

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


def _arrival_since(
    count: int, arrivals: Callable[[], int], process: subprocess.Popen[bytes]
) -> Callable[[], bool]:
    """True once a receiver got something more than ``count``, or the worker exited."""
    return lambda: arrivals() > count or process.poll() is not None


def arrivals(smtp: SmtpReceiver, http: HttpReceiver) -> int:
    """Requests the two receivers got, repeats included."""
    return len(smtp.ledger.raw) + len(http.ledger.raw)


def delivered_count(store: Store) -> int:
    (count,) = store.db.execute(
        "SELECT count(*) FROM deliveries WHERE status = 'delivered'"
    ).fetchone()
    return int(count)


def check_delivered_once(
    store: Store, smtp: SmtpReceiver, http: HttpReceiver, kills: int
) -> tuple[int, int]:
    """Every delivery delivered; each email and webhook acted on once by its receiver.

    Each attempt a kill cut short is in the delivery's log as lost, the last one
    delivered. A kill between a destination acting and the worker recording it makes
    a repeat, with the same idempotency key, which the receiver does not act on; one
    worker has one delivery in flight, so each kill repeats at most one delivery.
    Returns (attempts cut short, repeated arrivals).
    """
    final = outbox.list_deliveries(store, limit=100_000)
    assert Counter(d.status for d in final) == {"delivered": len(final)}
    sent = [d for d in final if d.action in ("email", "webhook")]
    lost = 0
    for delivery in sent:
        log = outbox.attempts_of(store, delivery.delivery_id)
        assert [a.attempt for a in log] == list(range(1, delivery.attempts + 1))
        assert [a.delivered for a in log] == [False] * (len(log) - 1) + [True]
        assert all(a.detail.startswith(LOST) for a in log[:-1]), log
        lost += len(log) - 1
    keys = {
        action: {d.idempotency_key for d in sent if d.action == action}
        for action in ("email", "webhook")
    }
    assert smtp.ledger.applied == dict.fromkeys(keys["email"], 1)
    assert http.ledger.applied == dict.fromkeys(keys["webhook"], 1)
    assert all(r.signed for r in http.requests)
    duplicates = smtp.ledger.duplicates + http.ledger.duplicates
    assert duplicates <= lost <= kills
    assert lost >= 1, "no kill landed during an attempt: the test proved nothing"
    return lost, duplicates


ALERTING_CONFIG = """\
[rules.shelfware]
description = "Fewer than half the purchased seats assigned"
status = "at_risk"
severity = "high"
conditions = [{ signal = "account.seat_deployment", below = 0.5 }]

[rules.core_feature_drop]
enabled = false
[rules.low_seat_utilization]
enabled = false
[rules.high_priority_tickets]
enabled = false
[rules.sponsor_left]
enabled = false
[rules.low_logins_in_adoption]
enabled = false
[rules.score_red]
enabled = false
[playbooks.at_risk_response]
enabled = false
[playbooks.concern_check_in]
enabled = false

[playbooks.alert]
on_enter = "at_risk"
rules = ["shelfware"]
steps = [
  { action = "task", due_business_days = 2 },
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
max_new_runs_per_csm_per_week = 1000

[freshness]
telemetry = 0  # the usage ends before the runs' days; what is tested is not freshness

[outbox]
lease_seconds = 0.5
backoff_seconds = 0.2
backoff_max_seconds = 1
max_attempts = 20
"""


def usage_batch(
    number: int, first_day: date, accounts: int, users: int, features: int
) -> dict[str, Any]:
    """Ingest body ``number``: ``accounts * users * features`` usage rows, all on day
    ``first_day + number``, so that the rows of that day tell whether it is whole."""
    day = (first_day + timedelta(days=number)).isoformat()
    return {
        "records": [
            {
                "account_id": f"acct{(number + index) % ACCOUNTS:03d}",
                "user_id": f"batch{number}-user{user}",
                "day": day,
                "feature": f"feature{feature}",
                "logins": 1,
            }
            for index in range(accounts)
            for user in range(users)
            for feature in range(features)
        ]
    }


def alerting_config(smtp_port: int, webhook_url: str) -> str:
    """Only the "shelfware" rule, starting a playbook of a task, an email and a webhook."""
    return ALERTING_CONFIG.replace("PORT", str(smtp_port)).replace("URL", webhook_url)


@dataclass
class Book:
    """A database the reliability tests serve, their own connection to it, an admin token."""

    db: Path
    config: Path
    store: Store
    registry: Registry
    token: str

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.store.db.execute(sql, list(params))]


def account(index: int, seats_assigned: int = 80, as_of: date | None = None) -> dict[str, Any]:
    """Account ``index``: under half its seats assigned (at risk) if ``seats_assigned`` < 50;
    with ``as_of``, the version true from that day (a run as of it reads the change)."""
    dated = {"as_of": as_of.isoformat()} if as_of is not None else {}
    return dated | {
        "account_id": f"acct{index:03d}",
        "name": f"Account {index}",
        "owner": f"csm{index % 4}@vendor.example",
        "csm_group": "emea",
        "seats_purchased": 100,
        "seats_assigned": seats_assigned,
    }


def build(tmp_path: Path, config: str = "") -> Book:
    """Accounts, a month of usage, an admin key; with ``config``, the pilot that runs it."""
    config_file = tmp_path / "telltales.toml"
    config_file.write_text(config)
    registry = load_registry()
    db = tmp_path / "telltales.db"
    store = open_store(db, [entry.obj for entry in registry.migrations.values()], create=True)
    accounts = [account(index) for index in range(ACCOUNTS)]
    ingest(store, registry, "accounts", convert_records(registry, "accounts", accounts))
    usage = [
        {
            "account_id": f"acct{index:03d}",
            "user_id": f"user{user}",
            "day": (RUN_DAY - timedelta(days=days_back)).isoformat(),
            "feature": "reports",
            "events": 3,
            "logins": 1,
        }
        for index in range(ACCOUNTS)
        for user in range(10)
        for days_back in range(1, 30, 3)
    ]
    ingest(store, registry, "telemetry.usage", convert_records(registry, "telemetry.usage", usage))
    if config:
        create_pilot(
            store,
            load_plan(load_config(config_file), registry),
            NewPilot(
                pilot_id="emea-alerts",
                csm_groups=["emea"],
                rules=["shelfware"],
                playbooks=["alert"],
                starts_on=RUN_DAY,
            ),
            by="ops@vendor.example",
        )
    _, token = create_key(store, scopes=["admin"], by="tests")
    return Book(db, config_file, store, registry, token)


def workers_for(book: Book) -> Workers:
    """Workers over the book, polling often, signing webhooks with the receivers' secret."""
    env = {**environment(), "TELLTALES_WEBHOOK_SECRET": SECRET}
    command = [str(TELLTALES), "--db", str(book.db), "--config", str(book.config)]
    return Workers(book.db.parent, [*command, "worker", "--poll", "0.05"], env)
