"""The issue's done-when: killing the worker at any point and starting it again delivers
every action exactly once, to a real SMTP server and a real HTTP server.

Forty accounts of the reliability book (``support.kills``) enter At-Risk in a pilot
whose playbook creates a task, sends an email and calls a webhook: eighty deliveries
to destinations. ``telltales worker`` runs as a real process and is killed (SIGKILL:
no clean-up of any kind) at random moments, mostly while it is delivering, and started
again, until every delivery is delivered. The receivers act before they answer and
answer slowly, so some kills land after a destination acted and before the worker
recorded it: the delivery is then sent again with the same idempotency key, and the
receiver, as the documented contract asks, does not act twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from support.kills import (
    Book,
    Workers,
    account,
    alerting_config,
    arrivals,
    build,
    check_delivered_once,
    delivered_count,
    integrity,
    workers_for,
)
from support.outbox_receivers import HttpReceiver, SmtpReceiver
from telltales.config import load_config
from telltales.engine.pipeline import run
from telltales.playbooks import outbox
from telltales.playbooks.plan import load_plan
from telltales.signals.ingest import convert_records, ingest

DAY = date(2026, 11, 20)
ACCOUNTS = 40
KILLS = 12
SEED = 4_2026
MANAGER = "mia.berg@vendor.example"


RECEIVER_DELAY = (0.02, 0.05)
"""The receivers answer slowly, so kills land while a delivery is in hand."""


@pytest.fixture
def book(tmp_path: Path, smtp: SmtpReceiver, http: HttpReceiver) -> Iterator[Book]:
    """The book after one run in which 40 accounts entered At-Risk: 80 pending deliveries."""
    built = build(tmp_path, alerting_config(smtp.port, http.url))
    # 10% to 49% of the seats assigned: all under half.
    fallen = [account(index, seats_assigned=10 + index, as_of=DAY) for index in range(ACCOUNTS)]
    registry = built.registry
    ingest(built.store, registry, "accounts", convert_records(registry, "accounts", fallen))
    plan = load_plan(load_config(built.config), registry)
    result = run(built.store, registry, DAY, plan=plan)
    assert result.actions is not None
    assert result.actions.playbooks_live == ACCOUNTS
    yield built
    built.store.close()


@pytest.fixture
def workers(book: Book) -> Iterator[Workers]:
    started = workers_for(book)
    yield started
    started.close()


@pytest.mark.reliability
def test_killing_the_worker_at_any_moment_still_delivers_every_action_exactly_once(
    book: Book, smtp: SmtpReceiver, http: HttpReceiver, workers: Workers
) -> None:
    sent = [d for d in outbox.list_deliveries(book.store) if d.action != "task"]
    assert len(sent) == 2 * ACCOUNTS

    def all_delivered() -> bool:
        return delivered_count(book.store) == 3 * ACCOUNTS  # the tasks were done in the run

    started = time.monotonic()
    workers.kill_while_delivering(
        KILLS, random.Random(SEED), lambda: arrivals(smtp, http), all_delivered
    )
    workers.run_to_the_end(all_delivered)
    elapsed = time.monotonic() - started

    lost, duplicates = check_delivered_once(book.store, smtp, http, KILLS)
    owners = {f"Account {i}": f"csm{i % 4}@vendor.example" for i in range(ACCOUNTS)}
    for message, recipients in zip(smtp.messages, smtp.recipients, strict=True):
        name = str(message["Subject"]).split("] ", 1)[1].split(" is ", 1)[0]
        assert recipients == [owners[name], MANAGER]
    print(
        f"\n{KILLS} kills in {elapsed:.1f} s: {lost} attempts cut short, "
        f"{duplicates} repeated arrivals (email {smtp.ledger.duplicates}, webhook "
        f"{http.ledger.duplicates}), none acted on twice"
    )
    assert integrity(book.db) == "ok"
