"""The worlds the playbook, task, pilot and outcome tests share.

A small book of business whose signals each test sets (the ``probe`` source), and the
example data ingested with every plugin.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from telltales import Signal, SignalBatch, hookimpl
from telltales.config import LoadedConfig, load_config
from telltales.contracts import ActionOutcome, ActionRequest, RenewalFlag, SignalSpec
from telltales.engine.pipeline import run
from telltales.models import RunResult
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.playbooks.plan import Plan, load_plan
from telltales.plugins import Registry, load_registry
from telltales.signals.ingest import convert_records, decode_records, ingest
from telltales.store import Store, open_store

FRIDAY = date(2026, 11, 20)
PILOT_START = date(2026, 11, 1)
ANN = "ann@vendor.example"
MIA = "mia@vendor.example"
ACTIONS_PLUGIN = "telltales.default_plugins.actions"


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def d(day: int) -> date:
    """A day of November 2026 (the 20th is a Friday)."""
    return date(2026, 11, day)


class Probe:
    """A signal source whose values each test sets: ``probe.<name>`` per account."""

    name = "probe"
    signals = tuple(
        SignalSpec(key=f"probe.{key}", dimension="adoption", description=f"{key}, for tests")
        for key in ("drop", "mild", "gone", "slow", "tickets")
    )

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], float] = {}

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        for (account_id, key), value in sorted(self.values.items()):
            if account_id in batch.account_ids:
                yield Signal(
                    account_id=account_id,
                    key=f"probe.{key}",
                    value=value,
                    dimension="adoption",
                    evidence=f"{key} of {account_id} is {value:g}",
                )


class Sender:
    """An action that delivers through the outbox, recording what it was asked."""

    def __init__(self, name: str, *, reaches_customer: bool) -> None:
        self.name = name
        self.reaches_customer = reaches_customer
        self.sent: list[ActionRequest] = []

    def execute(self, request: ActionRequest) -> ActionOutcome:
        self.sent.append(request)
        return ActionOutcome(delivered=True, detail=f"{self.name} sent")


class FakeCrm:
    name = "testcrm"

    def __init__(self) -> None:
        self.pushed: list[RenewalFlag] = []

    def push(self, flag: RenewalFlag) -> ActionOutcome:
        self.pushed.append(flag)
        return ActionOutcome(delivered=True, detail=f"crm flagged {flag.account_id}")


class BookPlugin:
    def __init__(self, probe: Probe, senders: Sequence[Sender], crm: FakeCrm) -> None:
        self.probe, self.senders, self.crm = probe, senders, crm

    @hookimpl
    def register_signal_sources(self, register: Any) -> None:
        register(self.probe)

    @hookimpl
    def register_playbook_actions(self, register: Any) -> None:
        for sender in self.senders:
            register(sender)

    @hookimpl
    def register_crm_adapters(self, register: Any) -> None:
        register(self.crm)


ACCOUNTS: list[dict[str, object]] = [
    {
        "account_id": "a1",
        "name": "Alpha Ltd",
        "owner": ANN,
        "csm_group": "g1",
        "arr": 100000,
        "renewal_date": "2026-12-20",
    },
    {"account_id": "a2", "name": "Beta Inc", "owner": ANN, "csm_group": "g1", "arr": 50000},
    {
        "account_id": "a3",
        "name": "Gamma AG",
        "owner": ANN,
        "csm_group": "g1",
        "arr": 300000,
        "renewal_date": "2026-11-01",
    },
    {"account_id": "a4", "name": "Delta Co", "csm_group": "g1", "arr": 10000},
    {
        "account_id": "b1",
        "name": "Bravo SA",
        "owner": "bob@vendor.example",
        "csm_group": "g2",
        "arr": 80000,
        "renewal_date": "2027-03-01",
    },
]


BASE = """\
[rules.score_red]
enabled = false

[playbooks.at_risk_response]
enabled = false

[playbooks.concern_check_in]
enabled = false

[rules.drop]
description = "Probe drop beyond 30%"
status = "at_risk"
severity = "high"
conditions = [{ signal = "probe.drop", below = -0.3 }]

[rules.mild]
description = "Probe worry"
status = "at_risk"
severity = "low"
conditions = [{ signal = "probe.mild", at_least = 1 }]

[rules.gone]
description = "Probe sponsor gone"
status = "at_risk"
severity = "critical"
conditions = [{ signal = "probe.gone", at_least = 1 }]

[rules.slow]
description = "Probe slow for two days"
status = "at_risk"
severity = "medium"
hold_days = 2
conditions = [{ signal = "probe.slow", at_least = 1 }]

[rules.tickets]
description = "More than 5 probe tickets"
status = "concern"
severity = "medium"
conditions = [{ signal = "probe.tickets", above = 5 }]

[csm_groups.g1]
manager = "mia@vendor.example"
"""


BASE_LINES = BASE.count("\n")
RESPOND = """
[playbooks.respond]
on_enter = "at_risk"
steps = [{ action = "task" }]
"""


class Book:
    """A database with ACCOUNTS, the probe, two test actions and a test CRM adapter."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.probe = Probe()
        self.mail = Sender("mail", reaches_customer=True)
        self.notice = Sender("notice", reaches_customer=False)
        self.crm = FakeCrm()
        plugin = BookPlugin(self.probe, [self.mail, self.notice], self.crm)
        self.registry = load_registry(extra=[("book", plugin)], use_entry_points=False)
        assert self.registry.failures == []
        migrations = [entry.obj for entry in self.registry.migrations.values()]
        self.store = open_store(tmp_path / "book.db", migrations, create=True)
        records = convert_records(self.registry, "accounts", ACCOUNTS)
        ingest(self.store, self.registry, "accounts", records)
        self.config = tmp_path / "telltales.toml"

    def plan(self, tables: str = RESPOND) -> Plan:
        self.config.write_text(BASE + tables)
        return load_plan(load_config(self.config), self.registry)

    def pilot(
        self,
        plan: Plan,
        *,
        pilot_id: str = "p1",
        groups: Sequence[str] = ("g1",),
        rules: Sequence[str] = ("drop", "mild", "gone", "slow", "tickets"),
        playbooks: Sequence[str] = ("respond",),
        holdout: float = 0.0,
        starts_on: date = PILOT_START,
    ) -> None:
        new = NewPilot(
            pilot_id=pilot_id,
            csm_groups=list(groups),
            rules=list(rules),
            playbooks=list(playbooks),
            starts_on=starts_on,
            holdout_share=holdout,
        )
        create_pilot(self.store, plan, new, by="ops@vendor.example")

    def signal(self, account_id: str, **values: float) -> None:
        """Set the account's probe signals from now on (and drop the others it had)."""
        for key in [key for key in self.probe.values if key[0] == account_id]:
            del self.probe.values[key]
        for name, value in values.items():
            self.probe.values[(account_id, name)] = value

    def run(self, plan: Plan, day: date = FRIDAY) -> RunResult:
        return run(self.store, self.registry, day, plan=plan, now=at(day))

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.store.db.execute(sql, list(params)).fetchall()]

    def count(self, table: str) -> int:
        (found,) = self.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(found)


EXAMPLE_DATA = Path(__file__).parents[2] / "examples" / "data"
EXAMPLE_PLUGINS = frozenset(
    {"contacts", "engagement", "firmographics", "news", "support", "telemetry"}
)


COUNTED = ("transitions", "playbook_runs", "deliveries", "tasks", "task_events", "renewal_flags")


def example_registry() -> Registry:
    registry = load_registry(allow=EXAMPLE_PLUGINS)
    assert registry.failures == []
    return registry


def build_example(path: Path) -> None:
    """The example data ingested as dev.py does (accounts first) into a new database."""
    registry = example_registry()
    files = sorted(p for p in EXAMPLE_DATA.iterdir() if p.suffix in (".json", ".jsonl"))
    named = sorted(
        ((p.name.removesuffix(p.suffix), p) for p in files), key=lambda f: f[0] != "accounts"
    )
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(path, migrations, create=True) as store:
        for ingester, file in named:
            ingest(store, registry, ingester, decode_records(registry, ingester, file.read_bytes()))


def counts(store: Store) -> dict[str, int]:
    return {
        table: store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COUNTED
    }


ONE_DAY_DROP = """\
# The example data is run for a day or two, and the shipped core_feature_drop waits
# for 8 days of a falling trend (docs/playbooks.md). Tests of what playbooks, pilots
# and the API do with a firing restate the simpler rule that fires the first day it
# holds, as the CLI tour's configuration does.
[rules.core_feature_drop]
description = "Active users of a core feature down more than 30% over 14 days"
status = "at_risk"
severity = "high"
cooldown_days = 30
conditions = [{ signal = "telemetry.core_feature_drop_14d", below = -0.30 }]
"""


def one_day_config(tmp_path: Path, tables: str = "") -> LoadedConfig:
    """The configuration with :data:`ONE_DAY_DROP` (and ``tables``), written under ``tmp_path``."""
    path = tmp_path / "one-day.toml"
    path.write_text(ONE_DAY_DROP + tables)
    return load_config(path)


FERRUM_BODY = """\
Ferrum Manufacturing (ferrum) entered At-Risk as of 2026-11-20 (playbook at_risk_response).
Rule core_feature_drop (high): Active users of a core feature down more than 30% over 14 days; \
holding since 2026-11-20.
- telemetry.core_feature_drop_14d = -0.4444 (below -0.3): largest fall among core features is \
reporting: 10 active users in the 14 days to 2026-11-20, 18 in the 14 before, -44%, a drop of \
more than 30%
Rule sponsor_left (high): The executive sponsor left the company or the role; holding since \
2026-11-20.
- contacts.sponsor_left = 1 (at least 1): executive sponsor Dana Reyes (VP Operations) left the \
company on 2026-10-28, 23 days before 2026-11-20
Account: http://127.0.0.1:8000/v1/accounts/ferrum/health"""
