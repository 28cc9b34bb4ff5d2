"""Plugin loading: entry points, failures recorded and isolated, strict mode, allow-list."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from support.installed import BROKEN_ON_IMPORT, GOOD_PLUGIN, fake_install
from telltales import hookimpl
from telltales.errors import PluginError
from telltales.plugins import DEFAULT_PLUGINS, load_registry


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path where tests 'install' plugins."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_default_plugins_load_through_the_hooks() -> None:
    registry = load_registry(use_entry_points=False)
    assert [p.name for p in registry.plugins] == list(DEFAULT_PLUGINS)
    assert all(p.builtin for p in registry.plugins)
    assert "telltales" in registry.migrations
    assert "accounts" in registry.ingesters
    assert "account" in registry.sources
    assert registry.failures == []


def test_installed_plugin_is_found_by_entry_point(site: Path) -> None:
    fake_install(site, "steady", GOOD_PLUGIN, version="2.3.4")
    registry = load_registry()
    assert registry.sources["steady"].plugin == "steady"
    info = next(p for p in registry.plugins if p.name == "steady")
    assert info.version == "2.3.4"
    assert info.builtin is False
    assert info.hooks == ["register_signal_sources"]
    assert info.registered == {"sources": ["steady"]}


def test_plugin_that_raises_on_import_is_recorded_and_the_rest_load(site: Path) -> None:
    fake_install(site, "broken", BROKEN_ON_IMPORT)
    fake_install(site, "steady", GOOD_PLUGIN)
    registry = load_registry()
    assert "steady" in registry.sources
    (failure,) = registry.failures
    assert failure.plugin == "broken"
    assert failure.stage == "load"
    assert "RuntimeError: vendor SDK missing" in failure.error


def test_strict_mode_makes_a_load_failure_fatal(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_install(site, "broken", BROKEN_ON_IMPORT)
    monkeypatch.setenv("TELLTALES_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="'broken' failed \\(load\\).*vendor SDK missing"):
        load_registry()


def test_allow_list_loads_only_named_plugins(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_install(site, "broken", BROKEN_ON_IMPORT)
    fake_install(site, "steady", GOOD_PLUGIN)
    monkeypatch.setenv("TELLTALES_PLUGINS", "steady")
    registry = load_registry()
    assert "steady" in registry.sources
    assert registry.failures == []
    assert "account" in registry.sources, "default plugins always load"


def test_allow_list_naming_a_missing_plugin_is_reported(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELLTALES_PLUGINS", "nosuch")
    registry = load_registry()
    (failure,) = registry.failures
    assert failure.plugin == "nosuch"
    assert "not installed" in failure.error


def test_misspelled_hook_is_caught() -> None:
    plugin = types.SimpleNamespace()

    @hookimpl
    def register_signal_source(register: object) -> None:  # missing the final "s"
        raise AssertionError("never called")

    plugin.register_signal_source = register_signal_source
    registry = load_registry(extra=[("typo", plugin)], use_entry_points=False)
    (failure,) = registry.failures
    assert failure.plugin == "typo"
    assert "unknown hook(s) register_signal_source" in failure.error


def test_hook_with_wrong_argument_name_is_caught() -> None:
    class Plugin:
        @hookimpl
        def register_signal_sources(self, add: object) -> None:
            raise AssertionError("never called")

    registry = load_registry(extra=[("wrongarg", Plugin())], use_entry_points=False)
    (failure,) = registry.failures
    assert failure.plugin == "wrongarg"
    assert failure.stage == "load"


def test_a_hook_that_raises_drops_the_whole_plugin() -> None:
    class Source:
        name = "half"

        def compute(self, batch: object) -> list[object]:
            return []

    class Plugin:
        @hookimpl
        def register_signal_sources(self, register: object) -> None:
            register(Source())  # type: ignore[operator]

        @hookimpl
        def register_scorers(self, register: object) -> None:
            raise ValueError("licence check failed")

    registry = load_registry(extra=[("half", Plugin())], use_entry_points=False)
    assert "half" not in registry.sources, "nothing of a half-registered plugin is kept"
    (failure,) = registry.failures
    assert failure.stage == "register"
    assert "register_scorers raised ValueError: licence check failed" in failure.error


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (types.SimpleNamespace(name="nocompute"), "has no compute"),
        (types.SimpleNamespace(name="Bad.Name", compute=lambda b: []), "lowercase"),
        (types.SimpleNamespace(name=7, compute=lambda b: []), "without a string 'name'"),
        (types.SimpleNamespace(name="account", compute=lambda b: []), "already registered"),
        (
            types.SimpleNamespace(name="cfg", compute=lambda b: [], settings_type=dict),
            "settings_type",
        ),
    ],
)
def test_malformed_sources_are_refused(obj: object, message: str) -> None:
    class Plugin:
        @hookimpl
        def register_signal_sources(self, register: object) -> None:
            register(obj)  # type: ignore[operator]

    registry = load_registry(extra=[("bad", Plugin())], use_entry_points=False)
    (failure,) = registry.failures
    assert failure.plugin == "bad"
    assert message in failure.error
    assert registry.sources["account"].plugin == "telltales.default_plugins.accounts"
