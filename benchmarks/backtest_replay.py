"""A backtest's replay against one engine run per day, on the demo book (issue 18 item 2).

The demo book (``telltales demo``: 2,000 accounts, every built-in plugin's data, a
year and more of history) is generated once. Then, each in a fresh process and on
its own scratch copy of the book (``telltales.backtest.replay.scratch_copy``, as
``telltales backtest`` makes it):

- ``replay_fast``: the backtest's replay (``telltales.engine.replay``) over 52 weekly
  days, batched sources and all;
- ``replay_runs``: ``telltales.engine.pipeline.run`` once per day over the same days
  (what the replay did before: every signal, score and playbook stored).

Both report the health scores and statuses they produced, as a digest: the two must
be equal, or the ratio compares different work.
"""

from __future__ import annotations

import hashlib
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DAYS = 52
EVERY = 7


def prepare_book(path: Path, accounts: str) -> dict[str, Any]:
    """Generate the demo book of ``accounts`` accounts into ``path``; its size and cost."""
    from telltales.config import load_config
    from telltales.demo.replay import DemoOptions, build
    from telltales.playbooks.plan import load_plan
    from telltales.plugins import load_registry
    from telltales.signals.settings import scorer_settings, source_settings
    from telltales.store import open_store

    registry = load_registry()
    config = load_config(_demo_config())
    started = time.perf_counter()
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(path, migrations, create=True) as store:
        result = build(
            store,
            registry,
            load_plan(config, registry),
            DemoOptions(accounts=int(accounts)),
            source_settings=source_settings(config, registry),
            scorer_settings=scorer_settings(config, registry),
        )
    return {
        "accounts": int(accounts),
        "usage_rows": result.usage_rows,
        "end": result.end.isoformat(),
        "build_s": round(time.perf_counter() - started, 1),
    }


def replay_days(end: date) -> list[date]:
    first = end - timedelta(days=EVERY * (DAYS - 1))
    return [first + timedelta(days=EVERY * n) for n in range(DAYS)]


def _demo_config() -> Path:
    import telltales.demo

    return Path(telltales.demo.__file__).parent / "demo.toml"


def _engine() -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    from telltales.config import load_config
    from telltales.playbooks.plan import load_plan
    from telltales.plugins import load_registry
    from telltales.signals.settings import scorer_settings, source_settings

    registry = load_registry()
    config = load_config(_demo_config())
    return (
        registry,
        load_plan(config, registry),
        source_settings(config, registry),
        scorer_settings(config, registry),
    )


def case_replay(path: Path, end: str, how: str) -> dict[str, Any]:
    """One replay of the 52 days before ``end`` on a scratch copy of the book at ``path``:
    ``fast`` (the backtest's) or ``runs`` (one engine run per day)."""
    from telltales.backtest import replay
    from telltales.engine import replay as engine_replay
    from telltales.signals.scorecards import HEALTH_SCORER
    from telltales.store import Store

    registry, plan, sources, scorers = _engine()
    days = replay_days(date.fromisoformat(end))
    source = Store(path)
    with replay.scratch_copy(source) as scratch:
        began, began_cpu = time.perf_counter(), time.process_time()
        engine = {"plan": plan, "source_settings": sources, "scorer_settings": scorers}
        if how == "fast":
            readings = engine_replay.replay(scratch, registry, days, **engine, measured=())
            scores = sorted(
                (day.isoformat(), account_id, value, grade)
                for day, kept in readings.items()
                for account_id, (value, grade) in kept.scores.items()
            )
        else:
            engine_replay.run_each_day(scratch, registry, days, **engine)
            scores = sorted(
                scratch.db.execute(
                    "SELECT as_of, account_id, value, grade FROM scores WHERE scorer = ?",
                    [HEALTH_SCORER],
                ).fetchall()
            )
        seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        statuses = scratch.db.execute(
            "SELECT account_id, as_of, to_status FROM transitions ORDER BY 1, 2, transition_id"
        ).fetchall()
    source.close()
    return {
        "how": how,
        "days": len(days),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "account_days": len(scores),
        "digest": hashlib.sha256(repr((scores, statuses)).encode()).hexdigest(),
    }
