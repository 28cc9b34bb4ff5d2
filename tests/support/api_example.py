"""The example data in a database, as the API tests read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from telltales.plugins import load_registry
from telltales.signals.ingest import decode_records, ingest
from telltales.store import open_store

from support.book import ONE_DAY_DROP

EXAMPLE_DATA = Path(__file__).parents[2] / "examples" / "data"


FRIDAY = "2026-11-20"


def build_example(path: Path) -> None:
    """The example data, every file through its ingester (accounts first), as dev.py does."""
    registry = load_registry()
    files = sorted(
        (p for p in EXAMPLE_DATA.iterdir() if p.suffix in (".json", ".jsonl")),
        key=lambda p: (p.stem != "accounts", p.name),
    )
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(path, migrations, create=True) as store:
        for file in files:
            name = file.name.removesuffix(file.suffix)
            ingest(store, registry, name, decode_records(registry, name, file.read_bytes()))


CONFIG = (
    ONE_DAY_DROP
    + """\
[actions.email]
internal_domains = ["vendor.example"]
sender = "telltales@vendor.example"

[playbooks.at_risk_response]
on_enter = "at_risk"
steps = [
  { action = "task", due_business_days = 3 },
  { action = "email", to = ["cfo@customer.example"], approval = true },
  { action = "renewal.flag" },
]
"""
)


def records(source: str) -> list[dict[str, Any]]:
    """The example records of an ingester (``examples/data/<source>.json`` or ``.jsonl``);
    counted usage, which has no example file, counted from the per-user example rows."""
    if source == "telemetry.daily_counts":
        return _counted(records("telemetry.usage"))
    path = EXAMPLE_DATA / f"{source}.json"
    if path.exists():
        loaded: list[dict[str, Any]] = json.loads(path.read_text())
        return loaded
    lines = (EXAMPLE_DATA / f"{source}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _counted(usage: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-user usage rows as the counts an export without user ids would give."""
    users: dict[tuple[str, str, str], set[str]] = {}
    for row in usage:
        users.setdefault((row["account_id"], row["day"], row["feature"]), set()).add(row["user_id"])
    return [
        {"account_id": account, "day": day, "feature": feature, "active_users": len(ids)}
        for (account, day, feature), ids in users.items()
    ]
