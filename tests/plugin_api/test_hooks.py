"""Every hook is specified, documented, implemented by a test plugin and tested.

Adding a hookspec without a section in docs/plugins.md, an implementation in
support/every_hook.py, or a ``test_hook_<name>`` test here fails this file.
"""

from __future__ import annotations

import inspect
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import support.every_hook as every_hook
from telltales import Account, ActionRequest, RenewalFlag, hookspecs
from telltales.plugins import HOOK_NAMES, load_registry
from telltales.testing import PluginHarness

DOCS = Path(__file__).parents[2] / "docs" / "plugins.md"
SPECS = sorted(
    name
    for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
    if getattr(obj, "telltales_spec", None) is not None
)
DAY = date(2026, 11, 20)


def test_the_loader_knows_every_hookspec() -> None:
    assert sorted(HOOK_NAMES) == SPECS


@pytest.mark.parametrize("hook", SPECS)
def test_hook_is_documented_with_its_signature(hook: str) -> None:
    docs = DOCS.read_text()
    spec = getattr(hookspecs, hook)
    params = ", ".join(inspect.signature(spec).parameters)
    assert f"### `{hook}({params})`" in docs, f"docs/plugins.md has no section for {hook}"
    assert ":param" in (spec.__doc__ or "")
    assert "versionadded" in (spec.__doc__ or "")


@pytest.mark.parametrize("hook", SPECS)
def test_hook_is_implemented_by_the_test_plugin_and_tested(hook: str) -> None:
    assert callable(getattr(every_hook, hook, None))
    tests = Path(__file__).read_text()
    assert re.search(rf"^def test_hook_{hook}\b", tests, re.MULTILINE)


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(every_hook, name="every_hook")
    telltales_env.add_accounts(
        [{"account_id": "a1", "name": "A"}, {"account_id": "a2", "name": "B"}]
    )
    return telltales_env


def test_hook_register_migrations(env: PluginHarness) -> None:
    assert env.registry.migrations["every_hook"].plugin == "every_hook"
    assert env.store.db["every_hook_notes"].exists()


def test_hook_register_ingesters(env: PluginHarness) -> None:
    stored = env.ingest(
        "every_hook.notes",
        [{"note_id": "n1", "account_id": "a1", "day": "2026-11-01"}],
    )
    assert stored == 1
    assert env.store.db["every_hook_notes"].count == 1


def test_hook_register_signal_sources(env: PluginHarness) -> None:
    env.ingest(
        "every_hook.notes",
        [{"note_id": f"n{i}", "account_id": "a1", "day": "2026-11-01"} for i in range(2)],
    )
    every_hook.NotesSource.calls.clear()
    env.run(DAY)
    assert every_hook.NotesSource.calls == [("a1", "a2")], "one call for the whole batch"
    assert env.signals("a1", DAY)["every_hook.note_count"].value == 2
    assert env.signals("a2", DAY)["every_hook.note_count"].value == 0


def test_hook_register_scorers(env: PluginHarness) -> None:
    env.ingest(
        "every_hook.notes",
        [{"note_id": f"n{i}", "account_id": "a1", "day": "2026-11-01"} for i in range(3)],
    )
    result = env.run(DAY)
    assert result.scores == 4, "the core's health scorer and this one, for two accounts"
    rows = {
        r["account_id"]: r
        for r in env.store.db.query(
            "SELECT * FROM scores WHERE as_of = ? AND scorer = 'every_hook.notes'",
            [DAY.isoformat()],
        )
    }
    assert rows["a1"]["value"] == 100
    assert rows["a1"]["grade"] == "green"
    assert rows["a2"]["grade"] == "red"
    # The breakdown quotes the signal's evidence; it is stored once, with the signal.
    assert '"evidence":""' in rows["a1"]["breakdown"]
    (line,) = env.scores("a1", DAY)["every_hook.notes"].breakdown
    assert line.evidence == "3 CSM notes up to 2026-11-20"


def test_hook_register_playbook_actions() -> None:
    registry = load_registry(extra=[("every_hook", every_hook)], use_entry_points=False)
    entry = registry.actions["every_hook.log"]
    assert entry.plugin == "every_hook"
    request = ActionRequest(
        idempotency_key="run-1:0",
        account=Account(account_id="a1", name="A"),
        params={},
        reason="rule:sponsor_left",
        evidence="executive sponsor left on 2026-11-02",
    )
    every_hook.LogAction.delivered.clear()
    assert entry.obj.execute(request).delivered
    assert entry.obj.execute(request).delivered
    assert every_hook.LogAction.delivered == ["run-1:0"]


def test_hook_register_crm_adapters() -> None:
    registry = load_registry(extra=[("every_hook", every_hook)], use_entry_points=False)
    entry = registry.crm_adapters["every_hook.crm"]
    assert entry.plugin == "every_hook"
    flag = RenewalFlag(
        idempotency_key="tt-1-2-abc",
        account_id="a1",
        account_name="A",
        renewal_date=date(2027, 1, 31),
        flag="Renewal At Risk",
        reason="sponsor_left",
        evidence="executive sponsor left on 2026-11-02",
        flagged_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    )
    every_hook.LogCrm.flagged.clear()
    assert entry.obj.push(flag).detail == "flagged a1"
    assert entry.obj.push(flag).delivered
    assert every_hook.LogCrm.flagged == {"tt-1-2-abc": "a1: Renewal At Risk"}
