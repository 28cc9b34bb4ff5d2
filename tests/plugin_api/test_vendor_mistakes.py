"""Mistakes a vendor made writing a plugin from the docs alone (issue 16, items 12-15).

Each mistake is a real plugin, installed as a vendor's would be (a module and its
``.dist-info`` with the entry point, ``support.installed.fake_install``), and is
checked where the vendor meets it: the loader, the ``telltales`` command (in a
subprocess, strict mode included) and the test kit. Each must be refused loudly,
name the plugin, and leave every other plugin working.
"""

from __future__ import annotations

import importlib
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from conftest import EXAMPLE_ACCOUNTS
from support.api import api_settings
from support.installed import (
    BROKEN_ON_IMPORT,
    CLASHING_MIGRATION,
    GOOD_PLUGIN,
    RETURNS_OBJECTS,
    WRONG_SIGNATURE,
    fake_install,
)
from support.server import environment, telltales
from telltales import Signal, SignalBatch, SignalSource, hookimpl
from telltales.errors import PluginError
from telltales.plugins import load_registry
from telltales.testing import ApiClient, PluginHarness
from telltales_api import create_app

Install = Callable[[str, str], ModuleType]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "site"


@pytest.fixture
def install(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """Install a plugin into ``site`` (on sys.path) and import it; forget it afterwards."""
    monkeypatch.syspath_prepend(str(site))
    installed: list[str] = []

    def install(plugin: str, source: str) -> ModuleType:
        fake_install(site, plugin, source)
        importlib.invalidate_caches()
        installed.append(f"telltales_{plugin}")
        return importlib.import_module(f"telltales_{plugin}")

    yield install
    for module in installed:
        sys.modules.pop(module, None)


# --- 12. a hook that returns its objects instead of calling register ------------------

RETURNED = (
    "register_signal_sources returned a list of 1 (Constant) instead of None: a hook "
    "registers each object by calling register(obj) and returns nothing, so nothing was "
    "registered"
)


def test_a_hook_that_returns_its_objects_leaves_the_plugin_out(install: Install) -> None:
    install("returns", RETURNS_OBJECTS)
    registry = load_registry(allow=frozenset({"returns"}))
    (failure,) = registry.failures
    assert (failure.plugin, failure.stage, failure.error) == ("returns", "register", RETURNED)
    assert "returns" not in [info.name for info in registry.plugins]
    assert "account" in registry.sources, "the rest load"
    with pytest.raises(PluginError, match="plugin 'returns' failed \\(register\\): "):
        load_registry(allow=frozenset({"returns"}), strict=True)


def test_the_command_lists_it_as_failed_and_strict_mode_stops(site: Path) -> None:
    fake_install(site, "returns", RETURNS_OBJECTS)
    env = environment(PYTHONPATH=str(site), TELLTALES_PLUGINS="returns")
    listed = telltales("plugins", env=env)
    assert listed.returncode == 0
    assert "returns (FAILED at register" in listed.stdout
    assert f"  error: {RETURNED}" in listed.stdout
    assert f"warning: plugin 'returns' left out (register): {RETURNED}" in listed.stderr
    strict = telltales("plugins", env={**env, "TELLTALES_STRICT_PLUGINS": "1"})
    assert strict.returncode == 1
    assert f"Error: plugin 'returns' failed (register): {RETURNED}" in strict.stderr


def test_the_test_kit_fails_on_a_returning_hook(install: Install, tmp_path: Path) -> None:
    plugin = install("returns", RETURNS_OBJECTS)
    harness = PluginHarness(tmp_path / "t.db")
    with pytest.raises(PluginError) as refused:
        harness.register(plugin, name="returns")
    assert str(refused.value) == f"plugin 'returns' was left out: {RETURNED}"


class Quiet:
    name = "quiet"

    def compute(self, batch: SignalBatch) -> list[Signal]:
        return []


class Yields:
    @hookimpl
    def register_signal_sources(self, register: object) -> Iterator[SignalSource]:
        yield Quiet()


class Async:
    @hookimpl
    async def register_signal_sources(self, register: object) -> None:
        raise AssertionError("never run")


class ReturnsOne:
    @hookimpl
    def register_signal_sources(self, register: Callable[[SignalSource], None]) -> SignalSource:
        register(Quiet())
        return Quiet()  # registered and returned: still a mistake


@pytest.mark.parametrize(
    ("plugin", "returned"),
    [
        (Yields(), "a generator, so its body never ran"),
        (Async(), "a coroutine (an async hook), so its body never ran"),
        (ReturnsOne(), "a Quiet"),
    ],
)
def test_any_return_value_but_none_is_refused(plugin: object, returned: str) -> None:
    registry = load_registry(extra=[("mistaken", plugin)], use_entry_points=False)
    (failure,) = registry.failures
    assert failure.error.startswith(f"register_signal_sources returned {returned} instead")
    assert "quiet" not in registry.sources


# --- 15. a hook with a parameter the hook does not give -------------------------------

SIGNATURE = (
    "register_signal_sources(register, settings): unexpected parameter 'settings'; "
    "the hook's parameters are (register)"
)


def test_a_wrong_hook_signature_is_one_line_naming_plugin_hook_and_parameter(
    site: Path,
) -> None:
    fake_install(site, "signature", WRONG_SIGNATURE)
    env = environment(PYTHONPATH=str(site), TELLTALES_PLUGINS="signature")
    listed = telltales("plugins", env=env)
    assert listed.stderr == f"warning: plugin 'signature' left out (load): {SIGNATURE}\n"
    assert f"  error: {SIGNATURE}\n" in listed.stdout
    strict = telltales("plugins", env={**env, "TELLTALES_STRICT_PLUGINS": "1"})
    assert strict.returncode == 1
    assert strict.stderr.splitlines() == [
        f"Error: plugin 'signature' failed (load): {SIGNATURE} [TELLTALES_STRICT_PLUGINS is set]"
    ]


def test_a_renamed_parameter_is_named_too() -> None:
    class Plugin:
        @hookimpl
        def register_scorers(self, add: object, *args: object, extra: int = 0) -> None:
            raise AssertionError("never called")

    registry = load_registry(extra=[("renamed", Plugin())], use_entry_points=False)
    (failure,) = registry.failures
    assert failure.error == (
        "register_scorers(add, args, extra): unexpected parameter 'add'; "
        "the hook's parameters are (register)"
    )


# --- 13. a migration that creates a table the core already has ------------------------

CLASH = (
    'migration clash.m001_tables failed: OperationalError: table "accounts" already '
    "exists; nothing of the plugin's migrations was written (its tables and indexes need "
    "names of their own: prefix them with 'clash_')"
)


def schema(db: Path) -> list[tuple[str, ...]]:
    """Every table and index, and every migration applied: what a migration writes."""
    with sqlite3.connect(db) as conn:
        return [
            *conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"),
            *conn.execute("SELECT migration_set, name FROM _sqlite_migrations ORDER BY rowid"),
        ]


@pytest.fixture
def clash_site(site: Path) -> dict[str, str]:
    """The clashing plugin installed beside a good one; the environment that sees both."""
    fake_install(site, "clash", CLASHING_MIGRATION)
    fake_install(site, "steady", GOOD_PLUGIN)
    return environment(PYTHONPATH=str(site), TELLTALES_PLUGINS="clash,steady")


def test_a_new_database_is_made_without_the_clashing_plugin(
    clash_site: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "t.db"
    made = telltales("--db", db, "init", env=clash_site)
    assert made.returncode == 0, made.stderr
    assert made.stderr == f"warning: plugin 'clash' left out (migrate): {CLASH}\n"
    assert made.stdout == f"Created telltales database {db} (schemas: telltales)\n"
    assert not [row for row in schema(db) if "clash" in str(row)], "nothing of it written"
    listed = telltales("--db", db, "plugins", env=clash_site)
    assert "clash (FAILED at migrate" in listed.stdout
    assert f"  error: {CLASH}" in listed.stdout
    assert "steady (0.0.1)" in listed.stdout
    for command in (["ingest", "accounts", EXAMPLE_ACCOUNTS], ["run", "--as-of", "2026-11-20"]):
        done = telltales("--db", db, *command, env=clash_site)
        assert done.returncode == 0, done.stderr
        assert f"warning: plugin 'clash' left out (migrate): {CLASH}" in done.stderr
    shown = telltales("--db", db, "signals", "northwind", env=clash_site)
    assert "steady.one" in shown.stdout, "the rest keep working"
    assert "clash.one" not in shown.stdout


def test_an_existing_database_is_left_untouched(clash_site: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    before_install = environment(PYTHONPATH=clash_site["PYTHONPATH"], TELLTALES_PLUGINS="steady")
    assert telltales("--db", db, "init", env=before_install).returncode == 0
    before = schema(db)
    listed = telltales("--db", db, "accounts", env=clash_site)
    assert listed.returncode == 0, listed.stderr
    assert f"warning: plugin 'clash' left out (migrate): {CLASH}" in listed.stderr
    assert schema(db) == before


def test_strict_mode_stops_and_writes_nothing(clash_site: dict[str, str], tmp_path: Path) -> None:
    strict = {**clash_site, "TELLTALES_STRICT_PLUGINS": "1"}
    made = telltales("--db", tmp_path / "t.db", "init", env=strict)
    assert made.returncode == 1
    assert (
        f"Error: plugin 'clash' failed (migrate): {CLASH} [TELLTALES_STRICT_PLUGINS is set]"
        in made.stderr
    )
    assert not list(tmp_path.glob("t.db*")), "no database half made"


def test_the_api_lists_it_as_failed(install: Install, tmp_path: Path) -> None:
    install("clash", CLASHING_MIGRATION)
    registry = load_registry(allow=frozenset({"clash"}))
    with ApiClient(lambda: create_app(api_settings(tmp_path), registry=registry)) as api:
        answer = api.client.get("/v1/plugins", headers=api.headers(api.key("read"))).json()
    assert [(f["plugin"], f["stage"], f["error"]) for f in answer["failures"]] == [
        ("clash", "migrate", CLASH)
    ]
    assert "clash" not in [plugin["name"] for plugin in answer["plugins"]]


def test_the_test_kit_fails_on_a_clashing_migration(install: Install, tmp_path: Path) -> None:
    plugin = install("clash", CLASHING_MIGRATION)
    harness = PluginHarness(tmp_path / "t.db")
    harness.register(plugin, name="clash")
    with pytest.raises(PluginError) as refused:
        harness.add_accounts([{"account_id": "a1", "name": "A"}])
    assert str(refused.value) == f"plugin 'clash' was left out: {CLASH}"


# --- 14. a configuration naming a plugin that was left out ----------------------------

BROKEN = "plugin 'broken' left out (load): RuntimeError: vendor SDK missing"
RULE = """
[rules.always]
description = "Holds for every account with the steady signal"
status = "concern"
severity = "low"
conditions = [{ signal = "steady.one", below = 2 }]
"""
PLAYBOOK = """
[playbooks.note]
description = "One step, on the action named below"
on_enter = "concern"
rules = ["always"]
steps = [{ action = "ACTION" }]
"""


@pytest.fixture
def broken_site(site: Path) -> dict[str, str]:
    """A plugin that fails at import beside a good one; the environment that sees both."""
    fake_install(site, "broken", BROKEN_ON_IMPORT)
    fake_install(site, "steady", GOOD_PLUGIN)
    return environment(PYTHONPATH=str(site), TELLTALES_PLUGINS="broken,steady")


def database(env: dict[str, str], folder: Path) -> Path:
    db = folder / "t.db"
    for command in (["init"], ["ingest", "accounts", EXAMPLE_ACCOUNTS]):
        done = telltales("--db", db, *command, env=env)
        assert done.returncode == 0, done.stderr
    return db


def configured(folder: Path, text: str) -> Path:
    config = folder / "telltales.toml"
    config.write_text(text)
    return config


def run(env: dict[str, str], db: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return telltales("--db", db, "--config", config, "run", "--as-of", "2026-11-20", env=env)


def test_its_configuration_is_set_aside_and_the_rest_run_degraded(
    broken_site: dict[str, str], tmp_path: Path
) -> None:
    db = database(broken_site, tmp_path)
    config = configured(
        tmp_path,
        """
[plugins.broken]
window_days = 30

[engine.source_time_limits]
broken = 10

[rules.broken_detractors]
description = "A rule on the left-out plugin's signal: it never holds"
status = "concern"
severity = "medium"
conditions = [{ signal = "broken.nps", below = 0 }]

[scoring]
default = "halves"

[scorecards.halves.components]
interest = 1

[[scorecards.halves.measures]]
component = "interest"
signal = "steady.one"
weight = 0.5
linear = { worst = 0, best = 1 }

[[scorecards.halves.measures]]
component = "interest"
signal = "broken.nps"
weight = 0.5
linear = { worst = -100, best = 100 }
""",
    )
    ran = run(broken_site, db, config)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("Run 1 as of 2026-11-20: degraded, 6 accounts, 18 signals")
    assert f"warning: {BROKEN}" in ran.stderr
    assert "[plugins.broken] not applied: plugin 'broken' was left out (load)" in ran.stderr
    assert (
        "  degraded: plugin:broken (broken) failed, its output is missing: left out (load): "
        "RuntimeError: vendor SDK missing; nothing of it ran, and its configuration is not "
        "applied"
    ) in ran.stderr
    shown = telltales("--db", db, "signals", "northwind", env=broken_site)
    assert "steady.one" in shown.stdout, "the rest ran"
    scored = telltales("--db", db, "score", "northwind", "--as-of", "2026-11-20", env=broken_site)
    assert "missing: plugin 'broken' was left out (load)" in scored.stdout


def assert_step_refused(env: dict[str, str], folder: Path, action: str, why: str) -> None:
    """A playbook step on ``action`` stops ``telltales run``, saying ``why``; no run starts."""
    db = database(env, folder)
    config = configured(folder, RULE + PLAYBOOK.replace("ACTION", action))
    ran = run(env, db, config)
    assert ran.returncode == 1
    assert ran.stderr.splitlines()[-1] == (
        f"Error: {config}, line 12: [playbooks.note] step 1: action {action!r} is not "
        f"available: {why}; a playbook is not started with a step missing: fix the plugin, "
        "or take the step out"
    )
    assert telltales("--db", db, "runs", env=env).stdout == "", "no run was started"


def test_a_playbook_step_on_its_action_stops_with_the_true_reason(
    broken_site: dict[str, str], tmp_path: Path
) -> None:
    why = "plugin 'broken' was left out (load): RuntimeError: vendor SDK missing"
    assert_step_refused(broken_site, tmp_path, "broken.survey", why)


def test_a_name_it_cannot_be_told_from_says_which_plugins_are_left_out(
    broken_site: dict[str, str], tmp_path: Path
) -> None:
    db = database(broken_site, tmp_path)
    config = configured(tmp_path, "[plugins.surveys]\nwindow_days = 30\n")
    ran = run(broken_site, db, config)
    assert ran.returncode == 1
    assert ran.stderr.splitlines()[-1] == (
        f"Error: {config}, line 1: [plugins.surveys] names no installed signal source "
        "(installed: account, steady; left out: broken)"
    )


def test_a_plugin_left_out_when_the_database_opens_is_checked_for_too(
    clash_site: dict[str, str], tmp_path: Path
) -> None:
    """The configuration is checked before the database is opened, and again after."""
    why = f"plugin 'clash' was left out (migrate): {CLASH}"
    assert_step_refused(clash_site, tmp_path, "clash.note", why)
