"""The demo through the new records: contracts, start days and churn, replayed honestly.

A replay of the demo book as of its past days, in a fresh database holding only its
raw records (everything learned later included), reproduces the signals, scores and
statuses the weekly replay recorded on those days: no run read a record from after
its day, and the replay does not either.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from telltales.config import load_config
from telltales.demo.replay import RUN_TIME, DemoOptions, DemoResult, build
from telltales.engine import pipeline
from telltales.playbooks.plan import load_plan
from telltales.plugins import load_registry
from telltales.signals.settings import scorer_settings, source_settings
from telltales.store import open_store

END = date(2026, 11, 20)
DEMO_CONFIG = Path(__file__).parents[2] / "core" / "telltales" / "demo" / "demo.toml"
OPTIONS = DemoOptions(accounts=60, days=245, seed=11, end=END)
DERIVED = frozenset(
    {
        "runs",
        "signals",
        "scores",
        "rule_accounts",
        "rule_hits",
        "overrides",
        "transitions",
        "playbook_runs",
        "deliveries",
        "delivery_attempts",
        "tasks",
        "task_events",
        "renewal_flags",
        "api_keys",
        "api_requests",
        "_sqlite_migrations",
    }
)
"""What runs and people wrote; every other table holds records as they were ingested."""
PARENTS = ("accounts", "pilots", "contacts_meetings")


class Replayed:
    def __init__(self, folder: Path) -> None:
        self.registry = load_registry()
        config = load_config(DEMO_CONFIG)
        self.plan = load_plan(config, self.registry)
        self.sources = source_settings(config, self.registry)
        self.scorers = scorer_settings(config, self.registry)
        self.weekly = folder / "weekly.db"
        self.replay = folder / "replay.db"
        migrations = [entry.obj for entry in self.registry.migrations.values()]
        with open_store(self.weekly, migrations, create=True) as store:
            self.result: DemoResult = build(
                store,
                self.registry,
                self.plan,
                OPTIONS,
                source_settings=self.sources,
                scorer_settings=self.scorers,
            )
        with open_store(self.replay, migrations, create=True) as store:
            _copy_records(self.weekly, store.db.conn)
            days = _run_days(self.weekly)
            for day in days:
                pipeline.run(
                    store,
                    self.registry,
                    day,
                    settings=self.sources,
                    scorer_settings=self.scorers,
                    plan=self.plan,
                    now=datetime.combine(day, RUN_TIME, tzinfo=UTC),
                )
        self.days = days


def _run_days(path: Path) -> list[date]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT as_of FROM runs ORDER BY run_id").fetchall()
    return [date.fromisoformat(day) for (day,) in rows]


def _copy_records(source: Path, conn: sqlite3.Connection) -> None:
    """Every ingested record of ``source`` into the fresh database behind ``conn``."""
    conn.execute("ATTACH DATABASE ? AS weekly", [str(source)])
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM weekly.sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        if name not in DERIVED
    ]
    conn.execute("BEGIN")
    # The tables others point at first.
    for table in sorted(tables, key=lambda name: name not in PARENTS):
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM weekly.{table}")
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE weekly")


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    return Replayed(tmp_path_factory.mktemp("demo_history"))


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_the_demo_runs_weekly_and_its_book_changes(replayed: Replayed) -> None:
    assert len(replayed.days) == replayed.result.runs > 10
    ((joined,),) = _rows(
        replayed.weekly,
        f"SELECT count(*) FROM accounts WHERE customer_since > '{replayed.result.first_run}'",
    )
    assert joined > 0, "some accounts become customers mid-year"
    churned = _rows(
        replayed.weekly, "SELECT count(*) FROM account_versions WHERE lifecycle = 'churned'"
    )[0][0]
    assert churned == replayed.result.churned > 0


def test_a_replay_as_of_past_days_reproduces_the_recorded_statuses(replayed: Replayed) -> None:
    sql = (
        "SELECT account_id, as_of, from_status, to_status, cause, rules, evidence, cohort "
        "FROM transitions ORDER BY account_id, as_of, transition_id"
    )
    recorded = _rows(replayed.weekly, sql)
    assert len({row[3] for row in recorded}) == 4, "healthy, concern, at_risk and inactive"
    assert _rows(replayed.replay, sql) == recorded


def test_a_replay_as_of_past_days_reproduces_the_signals_and_scores(replayed: Replayed) -> None:
    for sql in (
        "SELECT as_of, account_id, key, value, evidence FROM signals ORDER BY 1, 2, 3",
        "SELECT as_of, account_id, scorer, value, grade, breakdown FROM scores ORDER BY 1, 2, 3",
    ):
        assert _rows(replayed.replay, sql) == _rows(replayed.weekly, sql)


def test_only_live_accounts_are_at_risk_at_the_end(replayed: Replayed) -> None:
    at_risk = _rows(
        replayed.weekly,
        """
        SELECT t.account_id FROM transitions t WHERE t.to_status = 'at_risk'
        AND t.transition_id = (SELECT max(l.transition_id) FROM transitions l
                               WHERE l.account_id = t.account_id)
        """,
    )
    churned = {
        account_id
        for (account_id,) in _rows(
            replayed.weekly,
            "SELECT account_id FROM account_versions WHERE lifecycle = 'churned'",
        )
    }
    assert at_risk
    assert not churned & {a for (a,) in at_risk}
