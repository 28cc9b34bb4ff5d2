"""Load on loopback: ``GET /v1/accounts/{id}/health`` against a bare litestar endpoint.

    python3 dev.py bench --only api          64 connections, 3 rounds of 10 s each
    python3 dev.py bench --only api --quick  a smoke run (the test suite runs this)

Both endpoints are served by one granian server started as ``telltales serve``
starts it (the same command line, one worker per CPU), over a database of a
synthetic book of business that has been run once: signals, scores, statuses,
playbooks and tasks are there to read. The baseline, ``GET /bench/bare/{id}``
(benchmarks/api_server.py), reads one account row by primary key and returns it.
Requests rotate over every account. The health route is measured twice, each time
on a fresh server: as served, with its cache of encoded documents (``cached``), and
with the cache off (``uncached``), so that every request composes the document from
the database. The load comes from wrk when it is installed (the better client: its
own threads, in C), else from a small asyncio client here; the report says which.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import book  # noqa: E402

CONFIG = ROOT / "examples" / "telltales.toml"
HEALTH_CACHE_ENV = "TELLTALES_API_HEALTH_CACHE"


def build(work: Path, accounts: int, rows: int) -> tuple[Path, str, list[str]]:
    """A run-once database, a read key's token and the account ids."""
    from loading import prepare
    from telltales.config import load_config
    from telltales.engine.pipeline import run
    from telltales.playbooks.plan import load_plan
    from telltales.plugins import load_registry
    from telltales.signals.settings import scorer_settings, source_settings
    from telltales.store import open_store
    from telltales.store.keys import create_key

    db = work / "api.db"
    prepare(db, accounts, rows)
    registry = load_registry()
    config = load_config(CONFIG)
    plan = load_plan(config, registry)
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(db, migrations) as store:
        run(
            store,
            registry,
            book.AS_OF,
            settings=source_settings(config, registry),
            scorer_settings=scorer_settings(config, registry),
            plan=plan,
        )
        _, token = create_key(store, scopes=["read"], name="bench", by="bench")
        ids = [r[0] for r in store.db.execute("SELECT account_id FROM accounts ORDER BY 1")]
    return db, token, ids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def server(db: Path, extra: dict[str, str]) -> Any:
    port = _free_port()
    env = {
        **os.environ,
        **extra,
        "TELLTALES_DB": str(db),
        "TELLTALES_CONFIG": str(CONFIG),
        "PYTHONPATH": str(HERE),
    }
    from telltales_api.serve import granian_command

    log = db.parent / "server.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            granian_command("api_server:app", "127.0.0.1", port, factory=True),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wrk(
    url: str, paths: list[str], token: str, seconds: float, connections: int
) -> dict[str, Any]:
    quoted = ",".join(json.dumps(p) for p in paths)
    script = Path(tempfile.mkdtemp()) / "paths.lua"
    script.write_text(
        f"local paths = {{{quoted}}}\nlocal i = 0\n"
        'wrk.headers["Authorization"] = "Bearer ' + token + '"\n'
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\nend\n'
    )
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.rmtree(script.parent)
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99_text is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_text.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "requests": requests,
        "rps": rps,
        "p99_ms": float(p99_text.group(1)) * scale,
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


async def _client(
    host: str,
    port: int,
    paths: list[str],
    token: str,
    deadline: float,
    offset: int,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    while time.perf_counter() < deadline:
        path = paths[i % len(paths)]
        i += 1
        started = time.perf_counter()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
    writer.close()


def _python_client(
    url: str, paths: list[str], token: str, seconds: float, connections: int
) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _client(host, int(port), paths, token, deadline, n * 97, latencies, statuses)
                for n in range(connections)
            )
        )

    started = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else 0.0,
        "non_2xx": sum(n for s, n in statuses.items() if not 200 <= s < 300),
    }


def _pair(
    url: str, ids: list[str], token: str, load: Any, seconds: float, rounds: int, connections: int
) -> dict[str, Any]:
    """Bare and health, alternated ``rounds`` times on one server, after a warm-up."""
    targets = {
        "bare": [f"/bench/bare/{a}" for a in ids],
        "health": [f"/v1/accounts/{a}/health" for a in ids],
    }
    results: dict[str, list[dict[str, Any]]] = {"bare": [], "health": []}
    for paths in targets.values():
        load(url, paths, token, min(seconds, 2.0), connections)  # warm-up
    for _ in range(rounds):
        for name, paths in targets.items():
            results[name].append(load(url, paths, token, seconds, connections))
    best = {name: max(runs, key=lambda r: r["rps"]) for name, runs in results.items()}
    return {
        "bare": best["bare"],
        "health": best["health"],
        "all_rps": {name: [round(r["rps"]) for r in runs] for name, runs in results.items()},
        "ratio": round(best["health"]["rps"] / best["bare"]["rps"], 3),
        "median_ratio": round(
            statistics.median(h["rps"] for h in results["health"])
            / statistics.median(b["rps"] for b in results["bare"]),
            3,
        ),
    }


def bench_api(
    work: Path, accounts: int, rows: int, *, seconds: float, rounds: int, connections: int = 64
) -> dict[str, Any]:
    """The health route with its cache as served (``cached``), and with the cache
    turned off (``uncached``: every request composes the document from the database),
    each against the bare endpoint on the same server."""
    db, token, ids = build(work, accounts, rows)
    client = "wrk" if shutil.which("wrk") else "python asyncio"
    load = _wrk if client == "wrk" else _python_client
    report: dict[str, Any] = {
        "client": client,
        "connections": connections,
        "seconds_each": seconds,
        "rounds": rounds,
        "accounts": accounts,
    }
    for name, extra in (("cached", {}), ("uncached", {HEALTH_CACHE_ENV: "0"})):
        with server(db, extra) as url:
            report[name] = _pair(url, ids, token, load, seconds, rounds, connections)
    return report


def summary(report: dict[str, Any]) -> str:
    lines = []
    for name in ("cached", "uncached"):
        run = report[name]
        health, bare = run["health"], run["bare"]
        lines.append(
            f"GET /v1/accounts/{{id}}/health ({name}): {health['rps']:,.0f} req/s, "
            f"p99 {health['p99_ms']:.1f} ms vs bare endpoint {bare['rps']:,.0f} req/s, "
            f"p99 {bare['p99_ms']:.1f} ms -> {run['ratio']:.2f}x (target >= 0.8x, p99 < 15 ms); "
            f"non-2xx {health['non_2xx'] + bare['non_2xx']}"
        )
    lines.append(
        f"  at {report['connections']} connections, {report['accounts']:,} accounts, client "
        f"{report['client']}, best of {report['rounds']} x {report['seconds_each']:g} s each"
    )
    return "\n".join(lines)
