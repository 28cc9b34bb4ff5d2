"""Concurrency (issue 7, part 3): 8 writers and 32 readers against one real server.

One ``telltales serve`` process (its default workers: one per CPU) over a book of
400 accounts, 200 of them at risk with an open task each, is hit for a bounded time
by 40 threads, each with its own HTTP connection:

- 3 writers ingest batches of 2,000 usage rows (each batch alone on its day, sent
  with an Idempotency-Key), 2 writers start engine runs, and 3 writers complete or
  dismiss tasks, walking the same tasks in different orders so that two of them
  sometimes reach the same task: the second gets the documented 409 ("already
  done") and changes nothing;
- 32 readers list accounts and tasks, read health and signals, and read metrics.

No answer may be a 5xx or carry SQLite's words ("database is locked"); every write
is answered 2xx, or 409 for a task another writer closed first; at the end the
database holds exactly what the answers say was stored. The requests served are
printed (``pytest -s``).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from support.kills import (
    ACCOUNTS,
    RUN_DAY,
    Book,
    account,
    alerting_config,
    build,
    usage_batch,
)
from support.server import Server, environment, start_server, stop_server
from telltales.config import load_config
from telltales.engine.pipeline import run
from telltales.playbooks.plan import load_plan
from telltales.signals.ingest import convert_records, ingest
from telltales_telemetry.schema import EPOCH

pytestmark = pytest.mark.reliability

SEED = 3_2026
SECONDS = 20.0
AT_RISK = 200
INGESTERS, RUNNERS, TASK_WRITERS, READERS = 3, 2, 3, 32
BATCH_ACCOUNTS, USERS, FEATURES = 20, 25, 4
ROWS = BATCH_ACCOUNTS * USERS * FEATURES
"""Usage rows per batch: 2,000."""
FIRST_BATCH_DAY = date(2023, 1, 1)
MAX_BATCHES = 1000
"""Batches are numbered in turn by the ingesters, one day each: 2023-01-01 onwards, well
before the book's own usage."""
RUN_DAYS = 20
"""Runs are of the days after RUN_DAY, in turn."""
SQLITE_WORDS = ("database is locked", "sqlite", "operationalerror", "database table is locked")


@dataclass
class Tally:
    """What every thread sent and what it was answered, shared under a lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    batches: list[int] = field(default_factory=list)
    """Batch numbers answered 200."""
    runs: int = 0
    closed: Counter[str] = field(default_factory=Counter)
    """Task changes answered 200, by the state they set."""
    refused: list[int] = field(default_factory=list)
    """Tasks whose change was answered 409."""
    problems: list[str] = field(default_factory=list)

    def record(self, kind: str, response: httpx.Response) -> None:
        text = response.text.lower()
        with self.lock:
            self.statuses[kind, response.status_code] += 1
            if response.status_code >= 500 or any(word in text for word in SQLITE_WORDS):
                self.problems.append(
                    f"{kind} {response.request.url.path}: {response.status_code} {response.text}"
                )


def ingester(number: int) -> Callable[[httpx.Client, Tally, Callable[[], bool]], None]:
    def write(client: httpx.Client, tally: Tally, going: Callable[[], bool]) -> None:
        for batch_number in range(number, MAX_BATCHES, INGESTERS):
            if not going():
                return
            answer = client.post(
                "/v1/ingest/telemetry.usage",
                json=usage_batch(batch_number, FIRST_BATCH_DAY, BATCH_ACCOUNTS, USERS, FEATURES),
                headers={"Idempotency-Key": f"batch-{batch_number}"},
            )
            tally.record("write", answer)
            if answer.status_code == 200:
                assert answer.json()["stored"] == ROWS
                with tally.lock:
                    tally.batches.append(batch_number)
            else:
                tally.problems.append(f"ingest answered {answer.status_code}: {answer.text}")

    return write


def runner(number: int) -> Callable[[httpx.Client, Tally, Callable[[], bool]], None]:
    def write(client: httpx.Client, tally: Tally, going: Callable[[], bool]) -> None:
        turn = number
        while going():
            day = RUN_DAY + timedelta(days=1 + turn % RUN_DAYS)
            answer = client.post("/v1/runs", json={"as_of": day.isoformat()})
            tally.record("write", answer)
            if answer.status_code == 201:
                with tally.lock:
                    tally.runs += 1
            else:
                tally.problems.append(f"run answered {answer.status_code}: {answer.text}")
            turn += RUNNERS

    return write


def task_writer(
    tasks: list[int], seed: int
) -> Callable[[httpx.Client, Tally, Callable[[], bool]], None]:
    def write(client: httpx.Client, tally: Tally, going: Callable[[], bool]) -> None:
        order = list(tasks)
        random.Random(seed).shuffle(order)
        for task_id in order:
            if not going():
                return
            if task_id % 2:
                state = "dismissed"
                answer = client.post(
                    f"/v1/tasks/{task_id}/dismiss", json={"reason": "handled in the QBR"}
                )
            else:
                state = "done"
                answer = client.post(f"/v1/tasks/{task_id}/complete")
            tally.record("write", answer)
            with tally.lock:
                if answer.status_code == 200:
                    tally.closed[state] += 1
                elif answer.status_code == 409:
                    tally.refused.append(task_id)
                else:
                    tally.problems.append(f"task answered {answer.status_code}: {answer.text}")

    return write


def reader(seed: int) -> Callable[[httpx.Client, Tally, Callable[[], bool]], None]:
    def read(client: httpx.Client, tally: Tally, going: Callable[[], bool]) -> None:
        rng = random.Random(seed)
        while going():
            account_id = f"acct{rng.randrange(ACCOUNTS):03d}"
            path = rng.choice(
                [
                    "/v1/accounts?limit=50",
                    f"/v1/accounts/{account_id}",
                    f"/v1/accounts/{account_id}/health",
                    f"/v1/accounts/{account_id}/signals",
                    "/v1/tasks?state=open&limit=50",
                    "/v1/metrics/playbook-completion",
                    "/v1/metrics/time-to-acknowledge",
                    "/v1/metrics/alert-load",
                ]
            )
            answer = client.get(path)
            tally.record("read", answer)
            if answer.status_code != 200:
                tally.problems.append(f"GET {path}: {answer.status_code} {answer.text}")

    return read


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    """The book with 200 accounts at risk after a run: 200 open tasks."""
    built = build(tmp_path, alerting_config(9, "http://127.0.0.1:9/alerts"))
    fallen = [account(index, seats_assigned=20, as_of=RUN_DAY) for index in range(AT_RISK)]
    registry = built.registry
    ingest(built.store, registry, "accounts", convert_records(registry, "accounts", fallen))
    run(built.store, registry, RUN_DAY, plan=load_plan(load_config(built.config), registry))
    yield built
    built.store.close()


@pytest.fixture
def server(book: Book) -> Iterator[Server]:
    started = start_server(book.db, env=environment(TELLTALES_CONFIG=str(book.config)))
    try:
        started.wait_ready()
        yield started
    finally:
        stop_server(started)


def test_writers_and_readers_at_once_get_no_server_error_and_lose_nothing(
    book: Book, server: Server
) -> None:
    tasks = [task_id for (task_id,) in book.rows("SELECT task_id FROM tasks ORDER BY 1")]
    assert len(tasks) == AT_RISK
    (last_run,) = book.rows("SELECT max(run_id) FROM runs")[0]
    jobs = [ingester(n) for n in range(INGESTERS)]
    jobs += [runner(n) for n in range(RUNNERS)]
    jobs += [task_writer(tasks, SEED + n) for n in range(TASK_WRITERS)]
    jobs += [reader(SEED + 100 + n) for n in range(READERS)]
    tally = Tally()
    deadline = time.monotonic() + SECONDS

    def going() -> bool:
        return time.monotonic() < deadline and len(tally.problems) < 20

    def thread(job: Callable[[httpx.Client, Tally, Callable[[], bool]], None]) -> None:
        with httpx.Client(
            base_url=server.url, headers=book.headers(), trust_env=False, timeout=60
        ) as client:
            try:
                job(client, tally, going)
            except Exception as error:
                with tally.lock:
                    tally.problems.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=thread, args=(job,)) for job in jobs]
    started = time.monotonic()
    for each in threads:
        each.start()
    for each in threads:
        each.join(timeout=SECONDS + 120)
    elapsed = time.monotonic() - started
    assert not any(each.is_alive() for each in threads)
    assert tally.problems == []

    reads = sum(n for (kind, _), n in tally.statuses.items() if kind == "read")
    writes = sum(n for (kind, _), n in tally.statuses.items() if kind == "write")
    print(
        f"\n{reads + writes} requests in {elapsed:.1f} s ({(reads + writes) / elapsed:.0f}/s): "
        f"{reads} reads, {writes} writes ({len(tally.batches)} batches of {ROWS:,} rows, "
        f"{tally.runs} runs, {sum(tally.closed.values())} task changes, "
        f"{len(tally.refused)} refused 409 as already closed); statuses {dict(tally.statuses)}"
    )
    assert {status for _, status in tally.statuses} <= {200, 201, 409}
    assert tally.batches
    assert tally.runs
    assert tally.closed

    # The database holds exactly what the answers say.
    first = FIRST_BATCH_DAY.toordinal() - EPOCH
    by_day = dict(
        book.rows(
            "SELECT day, count(*) FROM telemetry_usage WHERE day BETWEEN ? AND ? GROUP BY day",
            first,
            first + MAX_BATCHES - 1,
        )
    )
    assert by_day == {first + number: ROWS for number in tally.batches}
    assert book.rows("SELECT status, count(*) FROM runs WHERE run_id > ? GROUP BY 1", last_run) == [
        ("ok", tally.runs)
    ]
    assert dict(book.rows("SELECT state, count(*) FROM tasks GROUP BY 1")) == {
        "open": AT_RISK - sum(tally.closed.values()),
        **tally.closed,
    }
    assert dict(
        book.rows("SELECT state, count(*) FROM task_events WHERE state != 'open' GROUP BY 1")
    ) == dict(tally.closed)
    refused = ",".join(str(task_id) for task_id in tally.refused) or "0"
    assert book.rows(
        f"SELECT count(*) FROM tasks WHERE task_id IN ({refused}) AND state = 'open'"
    ) == [(0,)]
