"""Speed of telltales' telemetry path, as ratios against baselines measured in the same run.

    python3 dev.py bench            the full benchmark (20M usage rows; several minutes)
    python3 dev.py bench --quick    a tenth of the size, as the test suite's smoke test
    python3 dev.py bench --only runs --sizes 20M --repeat 3 --json after.json
                                    the daily run alone, best of three, to compare
    python3 dev.py bench --only replay [--replay-accounts 2000]
                                    a backtest's replay against a run per day
    python3 benchmarks/run.py compare before.json after.json [--budget 5]
                                    the daily run's change between two such files

1. Ingestion: usage rows through the core's bulk path (JSON Lines streamed in
   chunks, validated, account ids checked, stored by the telemetry ingester) against
   raw ``sqlite3`` ``executemany`` of the same rows into the same schema.
2. A full daily run (``telltales run``: every installed source and scorer) over 90
   days of usage, at three sizes, against the bare SQL that computes the same
   telemetry figures (benchmarks/baseline.py); with each one's peak memory.
3. The API under load on loopback: ``GET /v1/accounts/{id}/health`` against a bare
   litestar endpoint reading one row, on the same server (benchmarks/api_load.py).
4. Only with ``--only replay``: a backtest's replay of 52 weekly days over the demo
   book against one engine run per day (benchmarks/backtest_replay.py).

Every measurement runs in a fresh process, so peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import msgspec

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import api_load  # noqa: E402
import backtest_replay  # noqa: E402
import baseline  # noqa: E402
import book  # noqa: E402
from loading import INSERT, open_book, prepare  # noqa: E402

EPOCH = date(1970, 1, 1).toordinal()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case_ingest_raw(path: Path, rows_file: Path) -> dict[str, Any]:
    rows = [tuple(r) for r in msgspec.msgpack.decode(rows_file.read_bytes())]
    conn = sqlite3.connect(path)
    started = time.perf_counter()
    with conn:
        conn.executemany(INSERT, rows)
    seconds = time.perf_counter() - started
    conn.close()
    return {"rows": len(rows), "seconds": seconds}


def case_ingest_bulk(path: Path, jsonl: Path) -> dict[str, Any]:
    from telltales.signals.ingest import ingest_chunks, read_chunks

    registry, store = open_book(path)
    with store, jsonl.open("rb") as stream:
        started = time.perf_counter()
        count = ingest_chunks(
            store, registry, "telemetry.usage", read_chunks(registry, "telemetry.usage", stream)
        ).stored
        seconds = time.perf_counter() - started
    return {"rows": count, "seconds": seconds}


def case_ingest_records(path: Path, jsonl: Path) -> dict[str, Any]:
    """The same, from records already decoded and validated: what storing alone costs."""
    from telltales.signals.ingest import ingest_chunks, read_chunks

    registry, store = open_book(path)
    with store, jsonl.open("rb") as stream:
        chunks = list(read_chunks(registry, "telemetry.usage", stream))
        started = time.perf_counter()
        count = ingest_chunks(store, registry, "telemetry.usage", chunks).stored
        seconds = time.perf_counter() - started
    return {"rows": count, "seconds": seconds}


def case_bare_sql(path: Path, as_of: str) -> dict[str, Any]:
    started = time.perf_counter()
    figures = baseline.compute(str(path), date.fromisoformat(as_of))
    seconds = time.perf_counter() - started
    users30 = {a: f["users30"] or 0 for a, f in figures.items()}
    return {"seconds": seconds, "accounts": len(figures), "users30": users30}


def case_run(path: Path, as_of: str) -> dict[str, Any]:
    from telltales.cli import cli
    from telltales.engine import pipeline

    engine: list[float] = []
    engine_cpu: list[float] = []
    run = pipeline.run

    def timed(*args: Any, **kwargs: Any) -> Any:
        """The engine's own time, without the command's start (imports, plugins, config),
        and the CPU time of every thread of the process meanwhile: other work on the
        machine stretches the first far more than the second."""
        began, began_cpu = time.perf_counter(), time.process_time()
        try:
            return run(*args, **kwargs)
        finally:
            engine.append(time.perf_counter() - began)
            engine_cpu.append(time.process_time() - began_cpu)

    pipeline.run = timed  # type: ignore[assignment]
    started = time.perf_counter()
    cli.main(["--db", str(path), "run", "--as-of", as_of], standalone_mode=False)
    seconds = time.perf_counter() - started
    conn = sqlite3.connect(path)
    status, signals, scores = conn.execute(
        "SELECT status, signals, scores FROM runs ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    users30 = {
        account_id: round(value * seats)
        for account_id, value, seats in conn.execute(
            "SELECT s.account_id, s.value, a.seats_purchased FROM signals s "
            "JOIN accounts a USING (account_id) "
            "WHERE s.key = 'telemetry.seat_utilization_30d' AND s.as_of = ?",
            [as_of],
        )
    }
    conn.close()
    return {
        "seconds": seconds,
        "engine_seconds": sum(engine),
        "engine_cpu_seconds": sum(engine_cpu),
        "status": status,
        "signals": signals,
        "scores": scores,
        "users30": users30,
    }


CASES = {
    "ingest_raw": case_ingest_raw,
    "ingest_bulk": case_ingest_bulk,
    "ingest_records": case_ingest_records,
    "bare_sql": case_bare_sql,
    "run": case_run,
    "replay": backtest_replay.case_replay,
    "demo_book": backtest_replay.prepare_book,
}


def measure(name: str, *args: object) -> dict[str, Any]:
    """Run one case in a fresh interpreter; return its result and peak memory."""
    done = subprocess.run(
        [sys.executable, __file__, "case", name, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark case {name} failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_ingest(work: Path, accounts: int, rows: int) -> dict[str, Any]:
    people = book.accounts(accounts)
    generated = list(book.usage_rows(people, rows))
    rows_file = work / "rows.msgpack"
    rows_file.write_bytes(msgspec.msgpack.encode(generated))
    jsonl = work / "usage.jsonl"
    encode = msgspec.json.encode
    with jsonl.open("wb") as out:
        for account_id, user, feature, day, team, events, logins in generated:
            record = {
                "account_id": account_id,
                "user_id": user,
                "feature": feature,
                "day": date.fromordinal(day + EPOCH).isoformat(),
                "team": team,
                "events": events,
                "logins": logins,
            }
            out.write(encode(record) + b"\n")
    results: dict[str, dict[str, Any]] = {}
    # Best of three for each: on a shared machine a single timing of a few seconds
    # can be off by a third; the fastest is the one least disturbed.
    for attempt in range(3):
        for name, source in (
            ("ingest_raw", rows_file),
            ("ingest_bulk", jsonl),
            ("ingest_records", jsonl),
        ):
            db = work / f"{name}-{attempt}.db"
            prepare(db, accounts, 0, usage=False)
            result = measure(name, db, source)
            if name not in results or result["seconds"] < results[name]["seconds"]:
                results[name] = result
            for path in work.glob(f"{name}-{attempt}.db*"):
                path.unlink()
    raw, bulk, records = (results[n] for n in ("ingest_raw", "ingest_bulk", "ingest_records"))
    assert raw["rows"] == bulk["rows"] == records["rows"] == len(generated)
    raw_rate = raw["rows"] / raw["seconds"]
    bulk_rate = bulk["rows"] / bulk["seconds"]
    records_rate = records["rows"] / records["seconds"]
    return {
        "rows": len(generated),
        "raw_rows_per_s": round(raw_rate),
        "bulk_rows_per_s": round(bulk_rate),
        "ratio": round(bulk_rate / raw_rate, 3),
        "store_only_rows_per_s": round(records_rate),
        "store_only_ratio": round(records_rate / raw_rate, 3),
    }


def bench_run(work: Path, accounts: int, rows: int, repeat: int = 1) -> dict[str, Any]:
    """The daily run and the bare SQL, alternated ``repeat`` times on the same database.

    A run writes its day into the database, so each repeat starts from a copy of the
    database as prepared: every run does the same work. The best of each is the
    figure (the least disturbed on a shared machine); every timing is kept, so the
    spread shows how large a difference must be to mean anything.
    """
    db = work / f"run-{accounts}.db"
    loaded = prepare(db, accounts, rows)
    as_of = book.AS_OF.isoformat()
    sqlite3.connect(db).execute("SELECT count(*) FROM telemetry_usage").fetchone()
    prepared = work / f"prepared-{accounts}.db"
    if repeat > 1:
        shutil.copy(db, prepared)
    bares, runs = [], []
    for attempt in range(repeat):
        if attempt:
            for path in work.glob(f"run-{accounts}.db*"):
                path.unlink()
            shutil.copy(prepared, db)
        bares.append(measure("bare_sql", db, as_of))
        runs.append(measure("run", db, as_of))
    bare = min(bares, key=lambda found: found["seconds"])
    run = min(runs, key=lambda found: found["seconds"])
    mismatched = sorted(
        a for a, users in bare["users30"].items() if users and run["users30"].get(a) != users
    )
    for path in [*work.glob(f"run-{accounts}.db*"), *work.glob(f"prepared-{accounts}.db*")]:
        path.unlink()
    return {
        "accounts": accounts,
        "rows": loaded,
        "repeat": repeat,
        "bare_sql_s": round(bare["seconds"], 2),
        "run_s": round(run["seconds"], 2),
        "engine_s": round(min(found["engine_seconds"] for found in runs), 2),
        "run_s_each": [round(found["seconds"], 2) for found in runs],
        "engine_s_each": [round(found["engine_seconds"], 2) for found in runs],
        "engine_cpu_s_each": [round(found["engine_cpu_seconds"], 2) for found in runs],
        "bare_sql_s_each": [round(found["seconds"], 2) for found in bares],
        "ratio": round(run["seconds"] / bare["seconds"], 3),
        "run_peak_mb": round(run["peak_mb"]),
        "bare_sql_peak_mb": round(bare["peak_mb"]),
        "status": run["status"],
        "signals": run["signals"],
        "scores": run["scores"],
        "figures_checked": len(bare["users30"]),
        "figures_mismatched": len(mismatched),
        "us_per_row": round(run["seconds"] / loaded * 1e6, 3),
    }


def bench_replay(work: Path, accounts: int) -> dict[str, Any]:
    """The backtest's replay and one run per day over the same 52 days of a demo book."""
    db = work / f"demo-{accounts}.db"
    book_made = measure("demo_book", db, str(accounts))
    fast = measure("replay", db, book_made["end"], "fast")
    runs = measure("replay", db, book_made["end"], "runs")
    for path in work.glob(f"demo-{accounts}.db*"):
        path.unlink()
    return {
        **{key: value for key, value in book_made.items() if key != "peak_mb"},
        "days": fast["days"],
        "account_days": fast["account_days"],
        "fast_s": round(fast["seconds"], 2),
        "fast_cpu_s": round(fast["cpu_seconds"], 2),
        "fast_peak_mb": round(fast["peak_mb"]),
        "runs_s": round(runs["seconds"], 2),
        "runs_cpu_s": round(runs["cpu_seconds"], 2),
        "runs_peak_mb": round(runs["peak_mb"]),
        "ratio": round(runs["seconds"] / fast["seconds"], 2),
        "same_scores_and_statuses": fast["digest"] == runs["digest"],
    }


def compare(before: dict[str, Any], after: dict[str, Any], budget: float) -> tuple[str, bool]:
    """The daily run's change from ``before`` to ``after`` at each size both measured.

    The engine's time (``engine_s``, best of the repeats) is the figure; its ratio
    to the bare SQL of the same file, which reads the same rows on the same machine,
    is also given, as it cancels most of a machine's drift between the two files.
    Returns the report and whether every size stayed within ``budget`` percent.
    """
    earlier = {run["accounts"]: run for run in before.get("runs", [])}
    lines, within = [], True
    for run in after.get("runs", []):
        base = earlier.get(run["accounts"])
        if base is None:
            continue
        broken = [
            f"the {name} run was {found['status']}"
            for name, found in (("before", base), ("after", run))
            if found["status"] != "ok"
        ]
        if broken:
            lines.append(
                f"run {run['accounts']:,} accounts: not comparable, {' and '.join(broken)} "
                "(a source failed or hit its time limit, so it did less work): measure again"
            )
            within = False
            continue
        change = 100 * (run["engine_s"] / base["engine_s"] - 1)
        relative = 100 * (
            (run["engine_s"] / run["bare_sql_s"]) / (base["engine_s"] / base["bare_sql_s"]) - 1
        )
        spread = max(_spread(run["engine_s_each"]), _spread(base["engine_s_each"]))
        ok = change <= budget
        within &= ok
        lines.append(
            f"run {run['accounts']:,} accounts / {run['rows']:,} rows: engine "
            f"{base['engine_s']:.2f} s -> {run['engine_s']:.2f} s ({change:+.1f}%; against "
            f"the bare SQL {relative:+.1f}%), repeats spread up to {spread:.1f}%: "
            + (f"within the {budget:g}% budget" if ok else f"over the {budget:g}% budget")
        )
        if base.get("engine_cpu_s_each") and run.get("engine_cpu_s_each"):
            cpu_before, cpu_after = min(base["engine_cpu_s_each"]), min(run["engine_cpu_s_each"])
            lines.append(
                f"  CPU time of the engine (every thread): {cpu_before:.2f} s -> "
                f"{cpu_after:.2f} s ({100 * (cpu_after / cpu_before - 1):+.1f}%), repeats "
                f"spread up to "
                f"{max(_spread(run['engine_cpu_s_each']), _spread(base['engine_cpu_s_each'])):.1f}%"
            )
    if not lines:
        return "no size measured in both files", False
    return "\n".join(lines), within


def _spread(timings: list[float]) -> float:
    """How far apart the repeats were, as a percentage of the fastest."""
    return 100 * (max(timings) / min(timings) - 1) if timings else 0.0


SIZES = {"5M": (12_500, 5_000_000), "10M": (25_000, 10_000_000), "20M": (50_000, 20_000_000)}
"""The daily run's sizes: accounts and usage rows (a tenth of each with --quick)."""


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "compare":
        return main_compare(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument(
        "--sizes",
        default=",".join(SIZES),
        help=f"the daily run's sizes, of {', '.join(SIZES)} [all]",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="alternate the daily run and the bare SQL this many times; keep the best [1]",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--workdir", type=Path, help="where the databases go [a temp dir]")
    parser.add_argument(
        "--only",
        choices=("ingest", "runs", "api", "replay"),
        help="run one part only [ingest, runs and api]",
    )
    parser.add_argument(
        "--replay-accounts",
        type=int,
        default=2000,
        help="the demo book's accounts for --only replay [2000; a tenth with --quick]",
    )
    args = parser.parse_args()
    wanted = args.sizes.split(",")
    if not set(wanted) <= set(SIZES) or args.repeat < 1:
        parser.error(f"--sizes takes {', '.join(SIZES)}; --repeat at least 1")
    scale = 10 if args.quick else 1
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        report: dict[str, Any] = {
            "quick": args.quick,
            "ingest": None,
            "runs": [],
            "api": None,
            "replay": None,
        }
        if args.only in (None, "ingest"):
            print("ingest ...", flush=True)
            report["ingest"] = bench_ingest(work, 50_000 // scale, 1_000_000 // scale)
            print(json.dumps(report["ingest"]), flush=True)
        sizes = [SIZES[name] for name in SIZES if name in wanted]
        for accounts, rows in sizes if args.only in (None, "runs") else ():
            print(f"run over {rows // scale:,} rows ...", flush=True)
            result = bench_run(work, accounts // scale, rows // scale, args.repeat)
            report["runs"].append(result)
            print(json.dumps(result), flush=True)
        if args.only in (None, "api"):
            print("API load ...", flush=True)
            report["api"] = api_load.bench_api(
                work,
                5_000 // scale,
                1_000_000 // scale,
                seconds=1.0 if args.quick else 10.0,
                rounds=1 if args.quick else 3,
            )
            print(json.dumps(report["api"]), flush=True)
        if args.only == "replay":
            accounts = max(1, args.replay_accounts // scale)
            print(f"backtest replay over a demo book of {accounts:,} accounts ...", flush=True)
            report["replay"] = bench_replay(work, accounts)
            print(json.dumps(report["replay"]), flush=True)
    print(summary(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def main_compare(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="run.py compare", description="The daily run's change between two --json files."
    )
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--budget", type=float, default=5.0, help="percent [5]")
    args = parser.parse_args(argv)
    text, within = compare(
        json.loads(args.before.read_text()), json.loads(args.after.read_text()), args.budget
    )
    print(text)
    return 0 if within else 1


def summary(report: dict[str, Any]) -> str:
    lines = [""]
    ingest = report["ingest"]
    if ingest is not None:
        lines.append(
            f"ingest {ingest['rows']:,} rows: bulk path {ingest['bulk_rows_per_s']:,}/s, "
            f"raw executemany {ingest['raw_rows_per_s']:,}/s -> {ingest['ratio']:.2f}x "
            "(target >= 0.5x, best of 3 each); from decoded records (storing only) "
            f"{ingest['store_only_rows_per_s']:,}/s -> {ingest['store_only_ratio']:.2f}x"
        )
    for run in report["runs"]:
        lines.append(
            f"run {run['accounts']:,} accounts / {run['rows']:,} rows: {run['run_s']:.1f} s "
            f"(engine {run['engine_s']:.1f} s, best of {run['repeat']}) "
            f"(bare SQL {run['bare_sql_s']:.1f} s) -> {run['ratio']:.2f}x (target <= 1.5x), "
            f"peak {run['run_peak_mb']:,} MB, {run['us_per_row']} us/row, "
            f"{run['signals']:,} signals, {run['scores']:,} scores, status {run['status']}, "
            f"figures mismatched {run['figures_mismatched']}/{run['figures_checked']}"
        )
    if report.get("api"):
        lines.append(api_load.summary(report["api"]))
    replayed = report.get("replay")
    if replayed:
        lines.append(
            f"backtest replay, {replayed['days']} weekly days of a "
            f"{replayed['accounts']:,}-account demo book ({replayed['account_days']:,} "
            f"account-days): {replayed['fast_s']:.1f} s "
            f"(CPU {replayed['fast_cpu_s']:.1f} s, peak {replayed['fast_peak_mb']:,} MB); "
            f"one run per day {replayed['runs_s']:.1f} s -> {replayed['ratio']:.2f}x faster; "
            f"same scores and statuses: {replayed['same_scores_and_statuses']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "case":
        name, *rest = sys.argv[2:]
        paths = [Path(rest[0]), *(Path(r) if Path(r).exists() else r for r in rest[1:])]
        outcome = CASES[name](*paths)  # type: ignore[operator]
        outcome["peak_mb"] = _peak_mb()
        print(json.dumps(outcome))
    else:
        sys.exit(main())
