"""Test a telltales plugin without a server: a pytest plugin, registered automatically.

Fixtures:

``telltales_env``
    A :class:`PluginHarness` on a fresh SQLite file: register your plugin object or
    module for this test only, ingest records, run the engine, read signals back
    (``signals``; one with ``signal``, or its value and evidence with ``observed``,
    which fail naming what the account does have).
``telltales_store``
    Just a migrated store on a temporary file (the core schema only).
``telltales_api``
    An :class:`ApiClient`: the REST API, in-process (no server, no port), over
    ``telltales_env``'s database and the plugins the test registered there. It starts
    on first use, so register plugins first; mint keys with ``key("read")``.

Installed plugins are *not* loaded, so a test sees only the core and what it
registers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from telltales.config import LoadedConfig, load_config
from telltales.engine import pipeline
from telltales.errors import PluginError
from telltales.models import Account, RunResult, Score, Signal
from telltales.plugins import Registry, load_registry
from telltales.signals.freshness import load_limits
from telltales.signals.ingest import convert_records, ingest
from telltales.signals.settings import scorer_settings, source_settings
from telltales.store import Store, open_for_plugins, queries
from telltales.store.keys import create_key

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.testing import TestClient
    from telltales_api.context import ApiContext

__all__ = [
    "ApiClient",
    "PluginHarness",
    "telltales_api",
    "telltales_env",
    "telltales_store",
]


class PluginHarness:
    """The core plus the plugins a test registers, on a database of its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._plugins: list[tuple[str, object]] = []
        self._registry: Registry | None = None
        self._store: Store | None = None
        self.config: LoadedConfig = load_config(None)
        self.config_path: Path | None = None

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin (a module or an object with ``@hookimpl`` methods).

        Raises :class:`PluginError` with the loader's reason if the plugin would be
        left out, so a broken plugin fails its own test loudly.
        """
        if self._store is not None:
            raise RuntimeError("register plugins before the first ingest, run or store access")
        plugin_name = name or str(getattr(plugin, "__name__", type(plugin).__name__))
        self._plugins.append((plugin_name, plugin))
        registry = load_registry(extra=self._plugins, use_entry_points=False, strict=False)
        failures = [f for f in registry.failures if f.plugin == plugin_name]
        if failures:
            self._plugins.pop()
            raise PluginError(f"plugin {plugin_name!r} was left out: {failures[0].error}")
        self._registry = registry

    def configure(self, path: Path) -> None:
        """Use a TOML configuration file for the runs (and the API) of this test."""
        self.config = load_config(path)
        self.config_path = path

    def configure_toml(self, text: str) -> Path:
        """Use ``text`` as this test's ``telltales.toml``; return the file written.

        The file is written beside the database (a later call replaces it) and read
        as :meth:`configure` reads it: a TOML mistake is raised here, a plugin's
        settings are checked by the next run.
        """
        path = self.path.with_name("telltales.toml")
        path.write_text(text, encoding="utf-8")
        self.configure(path)
        return path

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = load_registry(extra=self._plugins, use_entry_points=False)
        return self._registry

    @property
    def store(self) -> Store:
        if self._store is None:
            store = open_for_plugins(self.path, self.registry, create=True)
            if self.registry.failures:  # a registered plugin's migrations failed
                store.close()
                failure = self.registry.failures[0]
                raise PluginError(f"plugin {failure.plugin!r} was left out: {failure.error}")
            self._store = store
        return self._store

    def add_accounts(
        self, accounts: Sequence[Account | dict[str, Any]] | Mapping[str, str]
    ) -> None:
        """Store accounts, given as :class:`Account` or plain dicts.

        A mapping of account id to name is the short form for accounts with nothing
        else set: ``add_accounts({"a1": "Alpha", "a2": "Beta"})``.
        """
        if isinstance(accounts, Mapping):
            accounts = [{"account_id": key, "name": name} for key, name in accounts.items()]
        self.ingest("accounts", accounts)

    def ingest(self, name: str, records: Sequence[Any]) -> int:
        """Validate and store records through ingester ``name``, as the CLI would; the
        rows stored (repeats of the batch folded into one)."""
        typed = convert_records(self.registry, name, records)
        return ingest(self.store, self.registry, name, typed).stored

    def run(self, as_of: date, account_ids: Sequence[str] | None = None) -> RunResult:
        """Run the engine for one day with every registered source and scorer."""
        settings = source_settings(self.config, self.registry)
        return pipeline.run(
            self.store,
            self.registry,
            as_of,
            settings=settings,
            scorer_settings=scorer_settings(self.config, self.registry),
            account_ids=account_ids,
            freshness=load_limits(self.config, self.registry),
        )

    def signals(
        self, account_id: str, as_of: date, *, source: str | None = None
    ) -> dict[str, Signal]:
        """The stored signals of one account on one day, keyed by signal key.

        With ``source`` (a source's name, such as ``"news"``), only that source's: a
        test can then compare the whole dict without the core's ``account.*`` ones.
        """
        found = queries.signals_for(self.store, account_id, as_of)
        return {s.key: s for s in found if source is None or s.source == source}

    def signal(self, account_id: str, key: str, as_of: date) -> Signal:
        """The stored signal ``key`` of one account on one day.

        Fails with an ``AssertionError`` that lists what the account does have that
        day (every key with its value), not a bare ``KeyError``.
        """
        found = self.signals(account_id, as_of)
        if key in found:
            return found[key]
        if found:
            listed = ", ".join(f"{k} = {s.value:g}" for k, s in found.items())
            has = f"it has {len(found)}: {listed}"
        else:
            has = "it has none (was the day run, and does the account exist?)"
        raise AssertionError(f"no signal {key} for account {account_id!r} on {as_of}; {has}")

    def observed(self, account_id: str, key: str, as_of: date) -> tuple[float, str]:
        """The value and the evidence of one stored signal, to check both in one assert.

        ``assert env.observed("a1", "acme_nps.nps", day) == (40, "...")``: on a
        mismatch pytest shows which of the two differs. A missing signal fails as in
        :meth:`signal`, listing what the account does have.
        """
        signal = self.signal(account_id, key, as_of)
        return signal.value, signal.evidence

    def scores(self, account_id: str, as_of: date) -> dict[str, Score]:
        """The stored scores of one account on one day, with trends, keyed by scorer."""
        return {s.scorer: s for s in queries.scores_for(self.store, account_id, as_of)}

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class ApiClient:
    """The REST API in-process: a litestar ``TestClient`` and a way to mint API keys.

    ``client`` speaks HTTP to the app without a socket; the app is built and started
    on first use (so a test registers its plugins first). Every ``/v1`` route wants
    a key: send ``headers=api.headers(api.key("read"))`` (scopes ``read``,
    ``ingest``, ``act``, ``admin``; ``groups=[...]`` limits a key to CSM groups).
    """

    def __init__(self, build: Callable[[], Litestar]) -> None:
        self._build = build
        self._client: TestClient[Litestar] | None = None

    @property
    def client(self) -> TestClient[Litestar]:
        if self._client is None:
            from litestar.testing import TestClient

            self._client = TestClient(app=self._build()).__enter__()
        return self._client

    @property
    def context(self) -> ApiContext:
        """The app's store, plugins and plan."""
        context: ApiContext = self.client.app.state.telltales
        return context

    def key(self, *scopes: str, groups: Sequence[str] | None = None, name: str = "") -> str:
        """A new key's token with these scopes (and, if given, only these CSM groups)."""
        _, token = create_key(
            self.context.store, scopes=scopes, csm_groups=groups, name=name, by="tests"
        )
        return token

    def headers(self, token: str) -> dict[str, str]:
        """The headers that send ``token``."""
        return {"Authorization": f"Bearer {token}"}

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the app (its shutdown closes its store) if it was started."""
        if self._client is not None:
            self._client.__exit__(None, None, None)
            self._client = None


@pytest.fixture
def telltales_env(tmp_path: Path) -> Iterator[PluginHarness]:
    """A harness on a fresh database for registering and running one plugin."""
    harness = PluginHarness(tmp_path / "telltales.db")
    yield harness
    harness.close()


@pytest.fixture
def telltales_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated store (core schema) on a temporary SQLite file."""
    registry = load_registry(use_entry_points=False)
    store = open_for_plugins(tmp_path / "telltales.db", registry, create=True)
    yield store
    store.close()


@pytest.fixture
def telltales_api(telltales_env: PluginHarness) -> Iterator[ApiClient]:
    """The REST API over ``telltales_env`` (its database and registered plugins)."""

    def build() -> Litestar:
        from telltales_api import create_app
        from telltales_api.context import ApiSettings

        telltales_env.store  # noqa: B018 - migrates the database and closes registration
        settings = ApiSettings(db=telltales_env.path, config=telltales_env.config_path)
        return create_app(settings, registry=telltales_env.registry)

    with ApiClient(build) as api:
        yield api
