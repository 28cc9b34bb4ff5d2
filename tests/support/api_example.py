"""The example data in a database, as the API tests read it."""

from __future__ import annotations

from pathlib import Path

from telltales.plugins import load_registry
from telltales.signals.ingest import decode_records, ingest
from telltales.store import open_store

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


CONFIG = """\
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
