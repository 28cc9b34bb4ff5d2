"""Crash safety (issue 7, part 2): a real server killed at random points loses and doubles nothing.

``telltales serve`` runs as a real process over a real SQLite file and is killed with
SIGKILL (its whole process group: no clean-up of any kind) at seeded random moments,
then started again, as a crash and a supervisor's restart would do:

- during bulk ingestion: batches of 6,000 usage rows sent with an Idempotency-Key;
  a client that got no answer re-sends the same batch with the same key, and must get
  an answer (not a 409 for a claim the dead server left "in flight");
- during engine runs started over the API, each run putting a few more accounts at
  risk so that runs start playbooks; a client that got no answer re-runs the day with
  the same key;
- during outbox delivery of what those runs queued: ``telltales worker`` is killed
  while it delivers to a real SMTP and a real HTTP receiver (``support.kills``).

After every kill and at the end: ``PRAGMA integrity_check`` is ok; every batch is
whole or absent (each batch is the only one with rows on its own day); no signal
or score is doubled; each day's signals are all of one finished run; no playbook
run, task or delivery is doubled; every action reaches its receiver exactly once.
The kills, and what each found, are printed (``pytest -s``).
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.kills import (
    ACCOUNTS,
    RUN_DAY,
    Book,
    Servers,
    Workers,
    account,
    alerting_config,
    arrivals,
    build,
    check_delivered_once,
    delivered_count,
    integrity,
    post_and_kill,
    usage_batch,
    wait_for,
    workers_for,
)
from support.outbox_receivers import HttpReceiver, SmtpReceiver
from support.server import environment, telltales
from telltales.signals.ingest import convert_records, ingest
from telltales.store.keys import create_key
from telltales.store.processes import process_gone
from telltales_api.idempotency import claim, request_hash
from telltales_telemetry.schema import EPOCH

pytestmark = pytest.mark.reliability

SEED = 7_2026
INGEST_KILLS = 18
RUN_KILLS = 12
WORKER_KILLS = 12
"""42 kills in this file; ``test_outbox_kill.py`` adds 12 more of the worker: 54 in the
suite. Each kill of the server costs a restart (about a second on two idle cores)."""
USERS, FEATURES = 50, 3
BATCH_ACCOUNTS = 40
ROWS = BATCH_ACCOUNTS * USERS * FEATURES
"""Usage rows per batch: 6,000, all on the batch's own day."""
FIRST_BATCH_DAY = date(2026, 6, 1)
AT_RISK_PER_DAY = 4
"""Accounts whose seats fall under half before each day's run: that run starts their
playbooks, so a kill can land while a run records transitions, tasks and deliveries."""
INGEST = "/v1/ingest/telemetry.usage"


RECEIVER_DELAY = (0.02, 0.05)
"""The receivers answer slowly, so kills land while a delivery is in hand."""


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    built = build(tmp_path)
    yield built
    built.store.close()


@pytest.fixture
def alerting_book(tmp_path: Path, smtp: SmtpReceiver, http: HttpReceiver) -> Iterator[Book]:
    built = build(tmp_path, alerting_config(smtp.port, http.url))
    yield built
    built.store.close()


def servers_for(book: Book) -> Iterator[Servers]:
    # One worker process: a restart is then about a second on two busy cores.
    servers = Servers(book.db, "--workers", "1", env=environment(TELLTALES_CONFIG=str(book.config)))
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture
def servers(book: Book) -> Iterator[Servers]:
    yield from servers_for(book)


@pytest.fixture
def alerting_servers(alerting_book: Book) -> Iterator[Servers]:
    yield from servers_for(alerting_book)


@pytest.fixture
def workers(alerting_book: Book) -> Iterator[Workers]:
    started = workers_for(alerting_book)
    yield started
    started.close()


# Bulk ingestion


def batch(number: int) -> dict[str, Any]:
    """Batch ``number``: 6,000 usage rows, the only rows on its day."""
    return usage_batch(number, FIRST_BATCH_DAY, BATCH_ACCOUNTS, USERS, FEATURES)


def stored_batches(book: Book) -> Counter[int]:
    """Rows stored per batch number (by day)."""
    first = FIRST_BATCH_DAY.toordinal() - EPOCH
    return Counter(
        {
            day - first: count
            for day, count in book.rows(
                "SELECT day, count(*) FROM telemetry_usage WHERE day BETWEEN ? AND ? GROUP BY day",
                first,
                first + INGEST_KILLS,
            )
        }
    )


def claim_state(book: Book, idempotency_key: str) -> str:
    """What the kill left of the request's Idempotency-Key record."""
    found = book.rows(
        "SELECT status_code FROM api_requests WHERE idempotency_key = ?", idempotency_key
    )
    if not found:
        return "no claim"
    return "claim in flight" if found[0][0] is None else "answer stored"


def check_database(book: Book) -> None:
    """What must hold after any kill: a sound file, and nothing doubled."""
    assert integrity(book.db) == "ok"
    assert (
        book.rows("SELECT account_id, key, as_of FROM signals GROUP BY 1, 2, 3 HAVING count(*) > 1")
        == []
    )
    assert (
        book.rows(
            "SELECT account_id, scorer, as_of FROM scores GROUP BY 1, 2, 3 HAVING count(*) > 1"
        )
        == []
    )


def test_bulk_ingestion_killed_mid_batch_keeps_each_batch_whole_and_a_retry_is_answered(
    book: Book, servers: Servers
) -> None:
    rng = random.Random(SEED)
    server = servers.start()
    started = time.monotonic()
    first = server.http.post(INGEST, json=batch(0), headers=book.headers("batch-0"), timeout=60)
    took = time.monotonic() - started
    assert first.status_code == 200, first.text
    expected = {"source": "telemetry.usage", "received": ROWS, "stored": ROWS, "folded": 0}
    assert first.json() == expected

    outcomes: Counter[str] = Counter()
    retried = 0
    for number in range(1, INGEST_KILLS + 1):
        key = f"batch-{number}"
        # From before the request reaches the server to after its answer was stored.
        answer = post_and_kill(
            server, INGEST, batch(number), book.headers(key), rng.uniform(0, 1.6 * took)
        )
        stored = stored_batches(book)
        assert set(stored.values()) <= {ROWS}, f"a batch half stored after kill {number}: {stored}"
        assert all(stored[earlier] == ROWS for earlier in range(number))
        state = claim_state(book, key)
        outcomes[f"{state}, batch {'stored' if stored[number] else 'absent'}"] += 1

        server = servers.start()
        check_database(book)
        if answer is None:  # the client never heard: it sends the same batch again
            retried += 1
            answer = server.http.post(
                INGEST, json=batch(number), headers=book.headers(key), timeout=60
            )
        assert answer.status_code == 200, f"kill {number} ({state}): {answer.text}"
        assert answer.json() == expected
        assert stored_batches(book) == dict.fromkeys(range(number + 1), ROWS)

    print(
        f"\n{INGEST_KILLS} kills during ingestion of {ROWS:,}-row batches "
        f"(about {took:.2f} s each): {retried} re-sent; after the kill: {dict(outcomes)}"
    )
    assert any(outcome.startswith("claim in flight") for outcome in outcomes), (
        "no kill left a claim in flight: the retry after a crash was not tested"
    )


# Engine runs, then the outbox


def runs_of(book: Book) -> dict[int, tuple[str, str]]:
    return {
        run_id: (as_of, status)
        for run_id, as_of, status in book.rows("SELECT run_id, as_of, status FROM runs")
    }


def check_runs(book: Book, days: list[date]) -> None:
    """Each day's signals and scores were all written by one finished run, as many as it says."""
    for day in days:
        for table in ("signals", "scores"):
            by_run = book.rows(
                f"SELECT run_id, count(*) FROM {table} WHERE as_of = ? GROUP BY run_id",
                day.isoformat(),
            )
            assert len(by_run) == 1, f"{table} of {day} from runs {by_run}"
            ((run_id, count),) = by_run
            ((status, recorded),) = book.rows(
                f"SELECT status, {table} FROM runs WHERE run_id = ?", run_id
            )
            assert (status, recorded) == ("ok", count), f"run {run_id} of {day}"


def check_playbooks(book: Book, at_risk: int) -> None:
    """One playbook run per account that entered At-Risk, one task and one delivery per step."""
    assert book.rows(
        "SELECT count(*), count(DISTINCT account_id) FROM playbook_runs WHERE mode = 'live'"
    ) == [(at_risk, at_risk)]
    assert book.rows("SELECT count(*), count(DISTINCT playbook_run_id) FROM tasks") == [
        (at_risk, at_risk)
    ]
    assert book.rows(
        "SELECT action, count(*), count(DISTINCT idempotency_key), "
        "count(DISTINCT playbook_run_id) FROM deliveries GROUP BY action ORDER BY action"
    ) == [(action, at_risk, at_risk, at_risk) for action in ("email", "task", "webhook")]
    assert (
        book.rows(
            "SELECT account_id FROM transitions GROUP BY account_id, to_status HAVING count(*) > 1"
        )
        == []
    )


def put_at_risk(book: Book, day_number: int) -> int:
    """Cut the seats of the next few accounts under half; how many are at risk now."""
    count = min(ACCOUNTS, AT_RISK_PER_DAY * (day_number + 1))
    day = RUN_DAY + timedelta(days=day_number)
    fallen = [
        account(index, seats_assigned=20, as_of=day)
        for index in range(count - AT_RISK_PER_DAY, count)
    ]
    ingest(
        book.store, book.registry, "accounts", convert_records(book.registry, "accounts", fallen)
    )
    return count


def test_engine_runs_killed_mid_run_double_nothing_and_every_action_is_delivered_once(
    alerting_book: Book,
    alerting_servers: Servers,
    workers: Workers,
    smtp: SmtpReceiver,
    http: HttpReceiver,
) -> None:
    book = alerting_book
    rng = random.Random(SEED + 1)
    server = alerting_servers.start()
    # How long a run takes here, to aim the kills inside one: the day before the pilot,
    # when every account is healthy.
    started = time.monotonic()
    warm_up = {"as_of": (RUN_DAY - timedelta(days=1)).isoformat()}
    assert (
        server.http.post("/v1/runs", json=warm_up, headers=book.headers(), timeout=60).status_code
        == 201
    )
    took = time.monotonic() - started

    outcomes: Counter[str] = Counter()
    interrupted: list[int] = []
    days = [RUN_DAY + timedelta(days=n) for n in range(RUN_KILLS)]
    at_risk = 0
    for number, day in enumerate(days):
        at_risk = put_at_risk(book, number)
        key = f"run-{day}"
        body = {"as_of": day.isoformat()}
        before = set(runs_of(book))
        answer = post_and_kill(
            server, "/v1/runs", body, book.headers(key), rng.uniform(0, 1.5 * took)
        )
        check_runs(book, days[:number])
        started_runs = {run_id: runs_of(book)[run_id] for run_id in set(runs_of(book)) - before}
        left = [run_id for run_id, (_, status) in started_runs.items() if status == "running"]
        for run_id in left:  # nothing of a killed run is stored
            assert book.rows("SELECT count(*) FROM signals WHERE run_id = ?", run_id) == [(0,)]
            assert book.rows("SELECT count(*) FROM scores WHERE run_id = ?", run_id) == [(0,)]
        interrupted += left
        statuses = sorted(status for _, status in started_runs.values())
        outcomes[f"{claim_state(book, key)}, runs {statuses}"] += 1

        server = alerting_servers.start()
        check_database(book)
        if answer is None:  # the client never heard: it runs the day again
            answer = server.http.post("/v1/runs", json=body, headers=book.headers(key), timeout=60)
        assert answer.status_code == 201, f"kill {number + 1}: {answer.text}"
        (result,) = answer.json()["runs"]
        assert (result["as_of"], result["status"]) == (day.isoformat(), "ok")
        check_runs(book, days[: number + 1])
        check_playbooks(book, at_risk)
        for run_id in left:  # the API tells what is stored of a run a kill interrupted
            shown = server.http.get(f"/v1/runs/{run_id}", headers=book.headers()).json()
            stored = book.rows("SELECT status, finished_at FROM runs WHERE run_id = ?", run_id)
            assert stored == [("running", None)]
            assert (shown["status"], shown["finished_at"]) == ("interrupted", None)
            assert (shown["signals"], shown["scores"]) == (0, 0)

    check_database(book)
    print(
        f"\n{RUN_KILLS} kills during runs over {ACCOUNTS} accounts (about {took:.2f} s each): "
        f"{len(interrupted)} runs left 'running'; after the kill: {dict(outcomes)}"
    )
    assert interrupted, "no kill landed inside a run"

    # The outbox: what the runs queued, delivered by workers killed while they deliver.
    def all_delivered() -> bool:
        return delivered_count(book.store) == 3 * at_risk

    workers.kill_while_delivering(WORKER_KILLS, rng, lambda: arrivals(smtp, http), all_delivered)
    workers.run_to_the_end(all_delivered)
    lost, duplicates = check_delivered_once(book.store, smtp, http, WORKER_KILLS)
    assert len(smtp.ledger.applied) == len(http.ledger.applied) == at_risk
    check_database(book)
    print(
        f"{WORKER_KILLS} kills of the worker delivering {2 * at_risk} actions: {lost} attempts "
        f"cut short, {duplicates} repeated arrivals, each acted on once"
    )


def test_a_run_whose_server_was_killed_is_not_reported_as_still_running(
    book: Book, servers: Servers
) -> None:
    rng = random.Random(SEED + 2)
    server = servers.start()
    left: list[int] = []
    for attempt in range(10):  # until a kill lands inside a run (the first usually does)
        before = book.rows("SELECT max(run_id) FROM runs")[0][0] or 0
        body = {"as_of": RUN_DAY.isoformat()}
        post_and_kill(
            server, "/v1/runs", body, book.headers(f"run-{attempt}"), rng.uniform(0.05, 0.2)
        )
        left = [
            run_id
            for (run_id,) in book.rows(
                "SELECT run_id FROM runs WHERE run_id > ? AND status = 'running'", before
            )
        ]
        server = servers.start()
        if left:
            break
    assert left, "no kill landed inside a run"
    shown = server.http.get(f"/v1/runs/{left[0]}", headers=book.headers()).json()
    assert (shown["status"], shown["finished_at"]) == ("interrupted", None), shown
    listed = telltales("--db", book.store.path, "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {run["run_id"]: run["status"] for run in json.loads(listed.stdout)}[left[0]] == (
        "interrupted"
    )


def test_a_claim_in_flight_is_taken_over_only_when_its_process_is_gone(book: Book) -> None:
    """The fix the ingestion kills need, case by case, without a server."""
    key, _ = create_key(book.store, scopes=["admin"], by="tests")
    digest = request_hash("POST", INGEST, b"", b"{}")

    def claim_as(idempotency_key: str, owner: str | None = None) -> object:
        return claim(
            book.store,
            key.key_id,
            idempotency_key,
            "POST",
            INGEST,
            digest,
            datetime.now(UTC),
            owner,
        )

    exited = subprocess.Popen([sys.executable, "-c", ""])
    exited.wait()
    zombie = subprocess.Popen([sys.executable, "-c", ""])  # exits, and is not reaped yet
    wait_for(lambda: process_gone(f"{socket.gethostname()} {zombie.pid}"), 10, "a zombie")
    for gone in (exited.pid, zombie.pid):
        assert claim_as(f"gone-{gone}", f"{socket.gethostname()} {gone}") == "claimed"
        assert claim_as(f"gone-{gone}") == "claimed"  # taken over by this process
        assert claim_as(f"gone-{gone}") == "in_flight"  # which is alive
    zombie.wait()
    assert claim_as("elsewhere", "another-host 1") == "claimed"
    assert claim_as("elsewhere") == "in_flight"  # another host's process cannot be asked
