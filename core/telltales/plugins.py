"""Finding, loading and checking plugins: forgiving and loud.

A plugin that fails to import, implements a hook that does not exist, raises while
registering, or registers something malformed is recorded as a :class:`PluginFailure`
and left out whole; every other plugin keeps working. ``TELLTALES_STRICT_PLUGINS=1``
turns any failure into a :class:`~telltales.errors.PluginError`.
``TELLTALES_PLUGINS=a,b`` loads only the named entry-point plugins (the core's own
default plugins always load).
"""

from __future__ import annotations

import contextvars
import importlib
import inspect
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from importlib.metadata import entry_points
from typing import Any, Generic, Literal, NamedTuple, TypeVar

import msgspec
import pluggy
from sqlite_utils import Migrations

from telltales import clock, hookspecs
from telltales.contracts import (
    CrmAdapter,
    Ingester,
    PlaybookAction,
    Scorer,
    SignalSource,
    SignalSpec,
)
from telltales.errors import PluginError
from telltales.models import DIMENSIONS
from telltales.version import __version__

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
STRICT_ENV = "TELLTALES_STRICT_PLUGINS"
ALLOW_ENV = "TELLTALES_PLUGINS"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "telltales.default_plugins.schema",
    "telltales.default_plugins.accounts",
    "telltales.default_plugins.health",
    "telltales.default_plugins.actions",
)
"""The core's own behaviour, registered through the same hooks as any plugin."""

HOOK_NAMES: tuple[str, ...] = (
    "register_migrations",
    "register_ingesters",
    "register_signal_sources",
    "register_scorers",
    "register_playbook_actions",
    "register_crm_adapters",
)

Stage = Literal["load", "register", "migrate", "run"]

_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DOTTED_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")

T = TypeVar("T")


class PluginFailure(msgspec.Struct, kw_only=True, frozen=True):
    """Which plugin failed, at which stage, with what error, and when."""

    plugin: str
    stage: Stage
    error: str
    at: datetime


class PluginInfo(msgspec.Struct, kw_only=True, frozen=True):
    """A loaded plugin as ``telltales plugins`` and ``/v1/plugins`` show it."""

    name: str
    version: str
    builtin: bool
    hooks: list[str]
    registered: dict[str, list[str]]


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object and the plugin it came from."""

    plugin: str
    obj: T


@dataclass
class Registry:
    """Everything the loaded plugins registered, keyed by name."""

    strict: bool = False
    sources: dict[str, Entry[SignalSource]] = field(default_factory=dict)
    scorers: dict[str, Entry[Scorer]] = field(default_factory=dict)
    actions: dict[str, Entry[PlaybookAction]] = field(default_factory=dict)
    crm_adapters: dict[str, Entry[CrmAdapter]] = field(default_factory=dict)
    ingesters: dict[str, Entry[Ingester]] = field(default_factory=dict)
    migrations: dict[str, Entry[Migrations]] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    plugins: list[PluginInfo] = field(default_factory=list)
    withheld: dict[str, str] = field(default_factory=dict)
    """The names a left-out plugin registered (or began to), each with the plugin."""

    def fail(self, plugin: str, stage: Stage, error: str) -> None:
        """Record a plugin failure; in strict mode, stop everything."""
        failure = PluginFailure(plugin=plugin, stage=stage, error=error, at=clock.now())
        self.failures.append(failure)
        if self.strict:
            raise PluginError(f"plugin {plugin!r} failed ({stage}): {error} [{STRICT_ENV} is set]")

    def leave_out(self, plugin: str, stage: Stage, error: str) -> None:
        """Take back everything ``plugin`` registered, then record its failure.

        For a failure found after registration: its migrations failed when a database
        was opened. The plugin is then left out whole, as if it had failed to load.
        """
        for kind in _KINDS.values():
            table: dict[str, Entry[Any]] = getattr(self, kind)
            for name in [name for name, entry in table.items() if entry.plugin == plugin]:
                del table[name]
                self.withheld[name] = plugin
        self.plugins = [info for info in self.plugins if info.name != plugin]
        self.fail(plugin, stage, error)

    def left_out_by(self, name: str) -> PluginFailure | None:
        """The failure of the left-out plugin a component's ``name`` belongs to, or None.

        Known for a plugin left out once it had registered; for one that failed before
        (at import), told by the convention that a component is named after its plugin
        (``acme_nps``, ``acme_nps.pulse_survey``, keys ``acme_nps.*``). How the
        configuration sets aside what names a left-out plugin, instead of refusing it
        as a misspelling.
        """
        for failure in self.failures:
            owner = failure.plugin
            if self.withheld.get(name) == owner or name == owner or name.startswith(f"{owner}."):
                return failure
        return None


def left_out_note(registry: Registry) -> str:
    """``; left out: a, b`` for a message about a name nothing installed has, else ``""``.

    A name the configuration uses may belong to a plugin that failed before it could
    say what it registers: the message then says which plugins are missing.
    """
    names = sorted({failure.plugin for failure in registry.failures})
    return f"; left out: {', '.join(names)}" if names else ""


class TimeLimitExceeded(Exception):
    """A plugin call gave no result within its time limit and was abandoned."""

    def __init__(self, seconds: float, setting: str) -> None:
        super().__init__(
            f"no result within {seconds:g} s (the time limit, {setting}): abandoned, "
            "whatever it returns later is discarded"
        )
        self.seconds = seconds


def call_with_time_limit(call: Callable[[], T], seconds: float, setting: str) -> T:
    """Return what ``call`` returns (or raise what it raises) if it ends within ``seconds``.

    The call runs in a thread of its own, in a copy of the caller's context so that its
    spans nest under the caller's. Python cannot stop a thread: one that overruns raises
    :class:`TimeLimitExceeded` here and is left to finish on its own, as a daemon thread
    so that it never keeps the process alive. Its result is dropped unread, so the
    caller must give it nothing it could still write through (signal sources and
    scorers get a read-only connection; an action's delivery carries its idempotency
    key, so a late send is not acted on twice). ``setting`` names where the limit is
    configured, for the message.
    """
    context = contextvars.copy_context()
    outcome: list[tuple[bool, Any]] = []
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append((True, context.run(call)))
        except BaseException as error:  # handed to the waiting caller, re-raised there
            outcome.append((False, error))
        finally:
            done.set()

    threading.Thread(target=target, name=f"telltales {setting}", daemon=True).start()
    if not done.wait(seconds):
        raise TimeLimitExceeded(seconds, setting)
    returned, value = outcome[0]
    if returned:
        result: T = value
        return result
    raise value


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def strict_from_env() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def allow_list_from_env() -> frozenset[str] | None:
    """The entry-point names in ``TELLTALES_PLUGINS``, or None to load them all."""
    raw = os.environ.get(ALLOW_ENV)
    if raw is None:
        return None
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def load_registry(
    *,
    extra: Iterable[tuple[str, object]] = (),
    use_entry_points: bool = True,
    strict: bool | None = None,
    allow: frozenset[str] | None = None,
) -> Registry:
    """Load the default plugins, installed plugins and ``extra`` (name, plugin) pairs.

    ``strict`` and ``allow`` default to the environment. ``extra`` is how tests and
    ``telltales.testing`` register a plugin for one test.
    """
    registry = Registry(strict=strict_from_env() if strict is None else strict)
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    candidates = [
        _Candidate(name, __version__, True, partial(importlib.import_module, name))
        for name in DEFAULT_PLUGINS
    ]
    if use_entry_points:
        if allow is None:
            allow = allow_list_from_env()
        candidates.extend(_entry_point_candidates(registry, allow))
    candidates.extend(_Candidate(name, "", False, partial(_given, obj)) for name, obj in extra)

    for name, version, builtin, load in candidates:
        plugin = _load_one(registry, manager, name, load)
        if plugin is None:
            continue
        _register_one(registry, manager, name, plugin, version, builtin)
    return registry


class _Candidate(NamedTuple):
    """A plugin about to be loaded: ``load`` imports (or just returns) it."""

    name: str
    version: str
    builtin: bool
    load: Callable[[], object]


def _given(plugin: object) -> object:
    return plugin


def _entry_point_candidates(registry: Registry, allow: frozenset[str] | None) -> list[_Candidate]:
    found: list[_Candidate] = []
    seen: set[str] = set()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if allow is not None and ep.name not in allow:
            continue
        if ep.name in seen:
            registry.fail(ep.name, "load", "two installed distributions use this plugin name")
            continue
        seen.add(ep.name)
        version = ep.dist.version if ep.dist is not None else ""
        found.append(_Candidate(ep.name, version, False, ep.load))
    for missing in sorted((allow or frozenset()) - seen):
        registry.fail(missing, "load", f"named in {ALLOW_ENV} but not installed")
    return found


def _load_one(
    registry: Registry, manager: pluggy.PluginManager, name: str, load: Callable[[], object]
) -> object | None:
    try:
        plugin = load()
    except Exception as error:
        registry.fail(name, "load", _describe(error))
        return None
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as error:
        registry.fail(name, "load", _invalid_hook(manager, plugin, error))
        return None
    except ValueError as error:
        registry.fail(name, "load", _describe(error))
        return None
    unknown = sorted(
        caller.name for caller in manager.get_hookcallers(plugin) or () if not caller.has_spec()
    )
    if unknown:
        manager.unregister(plugin)
        registry.fail(
            name,
            "load",
            f"implements unknown hook(s) {', '.join(unknown)}; "
            f"known hooks: {', '.join(HOOK_NAMES)}",
        )
        return None
    return plugin


def _invalid_hook(
    manager: pluggy.PluginManager, plugin: object, error: pluggy.PluginValidationError
) -> str:
    """pluggy's refusal in one line: the hook, the parameter it does not give, its own.

    pluggy refuses a hook function with a required parameter the hook does not pass,
    in three lines naming neither the parameter on its own nor the hook's parameters.
    """
    for hook_name in HOOK_NAMES:
        function = getattr(plugin, hook_name, None)
        if not callable(function) or manager.parse_hookimpl_opts(plugin, hook_name) is None:
            continue
        declared = inspect.signature(function).parameters
        given = inspect.signature(getattr(hookspecs, hook_name)).parameters
        unexpected = [
            repr(name)
            for name, parameter in declared.items()
            if name not in given
            and parameter.default is parameter.empty
            and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        ]
        if unexpected:
            return (
                f"{hook_name}({', '.join(declared)}): unexpected parameter "
                f"{', '.join(unexpected)}; the hook's parameters are ({', '.join(given)})"
            )
    return " ".join(str(error).split())  # pluggy's other refusals, on one line


_KINDS = {
    "register_migrations": "migrations",
    "register_ingesters": "ingesters",
    "register_signal_sources": "sources",
    "register_scorers": "scorers",
    "register_playbook_actions": "actions",
    "register_crm_adapters": "crm_adapters",
}


def _register_one(
    registry: Registry,
    manager: pluggy.PluginManager,
    name: str,
    plugin: object,
    version: str,
    builtin: bool,
) -> None:
    """Call each of the plugin's hooks; keep what it registered only if all of it is valid."""
    collected: dict[str, list[Any]] = {}
    hooks: list[str] = []
    for hook_name in HOOK_NAMES:
        impls = [
            impl
            for impl in getattr(manager.hook, hook_name).get_hookimpls()
            if impl.plugin is plugin
        ]
        if not impls:
            continue
        hooks.append(hook_name)
        objects: list[Any] = collected.setdefault(_KINDS[hook_name], [])
        try:
            returned = [impl.function(register=objects.append) for impl in impls]
        except Exception as error:
            error_text = f"{hook_name} raised {_describe(error)}"
            _drop(registry, manager, name, plugin, error_text, collected)
            return
        mistake = next((value for value in returned if value is not None), None)
        if mistake is not None:
            returned_text = _returned_problem(hook_name, mistake)
            _drop(registry, manager, name, plugin, returned_text, collected)
            return
    problems: list[str] = [
        problem
        for kind, objects in collected.items()
        for obj in objects
        if (problem := _problem(registry, kind, obj)) is not None
    ]
    problems.extend(_duplicates(collected))
    if problems:
        _drop(registry, manager, name, plugin, "; ".join(problems), collected)
        return
    for kind, objects in collected.items():
        table: dict[str, Entry[Any]] = getattr(registry, kind)
        for obj in objects:
            table[obj.name] = Entry(plugin=name, obj=obj)
    registry.plugins.append(
        PluginInfo(
            name=name,
            version=version,
            builtin=builtin,
            hooks=hooks,
            registered={kind: [obj.name for obj in objs] for kind, objs in collected.items()},
        )
    )


def _returned_problem(hook_name: str, value: object) -> str:
    """Why a hook that returned something is refused: it registers by calling ``register``.

    A hook that returns its objects (or yields them, or is ``async``) registers
    nothing; accepted in silence, the plugin would look loaded and contribute nothing.
    """
    if inspect.isgenerator(value) or inspect.iscoroutine(value):
        value.close()  # never started: closing it keeps Python from warning about it
        kind = "a generator" if inspect.isgenerator(value) else "a coroutine (an async hook)"
        what = f"{kind}, so its body never ran"
    elif isinstance(value, list | tuple | set | frozenset):
        kinds = ", ".join(sorted({type(item).__name__ for item in value})) or "empty"
        what = f"a {type(value).__name__} of {len(value)} ({kinds})"
    else:
        what = f"a {type(value).__name__}"
    return (
        f"{hook_name} returned {what} instead of None: a hook registers each object by "
        "calling register(obj) and returns nothing, so nothing was registered"
    )


def _drop(
    registry: Registry,
    manager: pluggy.PluginManager,
    name: str,
    plugin: object,
    error: str,
    collected: dict[str, list[Any]],
) -> None:
    manager.unregister(plugin)
    for objects in collected.values():
        for obj in objects:
            if isinstance(getattr(obj, "name", None), str):
                registry.withheld.setdefault(obj.name, name)
    registry.fail(name, "register", error)


def _duplicates(collected: dict[str, list[Any]]) -> list[str]:
    problems: list[str] = []
    for kind, objects in collected.items():
        names: list[str] = [getattr(obj, "name", "") for obj in objects]
        problems.extend(
            f"registers {kind[:-1]} {dup!r} twice"
            for dup in sorted({n for n in names if names.count(n) > 1})
        )
    return problems


def _problem(registry: Registry, kind: str, obj: object) -> str | None:
    """Say why ``obj`` cannot be registered as ``kind``, or None."""
    label = kind[:-1] if kind != "migrations" else "migration set"
    name = getattr(obj, "name", None)
    if not isinstance(name, str):
        return f"registered a {label} without a string 'name': {obj!r}"
    taken: dict[str, Entry[Any]] = getattr(registry, kind)
    if name in taken:
        return f"{label} {name!r} is already registered by plugin {taken[name].plugin!r}"
    if kind == "sources":
        if not isinstance(obj, SignalSource):
            return f"source {name!r} has no compute(batch) method"
        if not _SOURCE_NAME.match(name):
            return f"source name {name!r} must be lowercase letters, digits and _ (no dots)"
        compute_days = getattr(obj, "compute_days", None)
        if compute_days is not None and not callable(compute_days):
            return f"source {name!r}: compute_days must be a method, compute_days(batch)"
        settings_type = getattr(obj, "settings_type", None)
        if settings_type is not None and not (
            isinstance(settings_type, type) and issubclass(settings_type, msgspec.Struct)
        ):
            return f"source {name!r}: settings_type must be a msgspec.Struct subclass"
        return _specs_problem(name, getattr(obj, "signals", None))
    elif kind == "scorers":
        if not isinstance(obj, Scorer):
            return f"scorer {name!r} has no score(batch) method"
        if not _DOTTED_NAME.match(name):
            return f"scorer name {name!r} must be lowercase, dotted words"
        settings_type = getattr(obj, "settings_type", None)
        if settings_type is not None and not (
            isinstance(settings_type, type) and issubclass(settings_type, msgspec.Struct)
        ):
            return f"scorer {name!r}: settings_type must be a msgspec.Struct subclass"
    elif kind == "actions":
        if not isinstance(obj, PlaybookAction) or not isinstance(obj.reaches_customer, bool):
            return f"action {name!r} needs a boolean reaches_customer"
        if not any(callable(getattr(obj, method, None)) for method in ("record", "execute")):
            return f"action {name!r} needs record(request), execute(request) or both"
        if not _DOTTED_NAME.match(name):
            return f"action name {name!r} must be lowercase, dotted words"
        return _struct_attributes_problem(f"action {name!r}", obj, "params_type", "settings_type")
    elif kind == "crm_adapters":
        if not isinstance(obj, CrmAdapter):
            return f"CRM adapter {name!r} needs push(flag)"
        if not _DOTTED_NAME.match(name):
            return f"CRM adapter name {name!r} must be lowercase, dotted words"
        return _struct_attributes_problem(f"CRM adapter {name!r}", obj, "settings_type")
    elif kind == "ingesters":
        if not isinstance(obj, Ingester):
            return f"ingester {name!r} needs record_type and store(db, records)"
        record_type = obj.record_type
        if not (isinstance(record_type, type) and issubclass(record_type, msgspec.Struct)):
            return f"ingester {name!r}: record_type must be a msgspec.Struct subclass"
        if not _DOTTED_NAME.match(name):
            return f"ingester name {name!r} must be lowercase, dotted words"
    elif kind == "migrations" and not isinstance(obj, Migrations):
        return f"register_migrations expects sqlite_utils.Migrations, got {type(obj).__name__}"
    return None


def _struct_attributes_problem(what: str, obj: object, *attributes: str) -> str | None:
    for attribute in attributes:
        value = getattr(obj, attribute, None)
        if value is not None and not (
            isinstance(value, type) and issubclass(value, msgspec.Struct)
        ):
            return f"{what}: {attribute} must be a msgspec.Struct subclass"
    return None


_SPEC_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+(\.\*)?$")


def _specs_problem(source: str, specs: object) -> str | None:
    """Check a source's optional ``signals`` declarations."""
    if specs is None:
        return None
    if not isinstance(specs, tuple | list) or not all(isinstance(s, SignalSpec) for s in specs):
        return f"source {source!r}: signals must be a tuple of SignalSpec"
    keys = [spec.key for spec in specs]
    for spec in specs:
        if not _SPEC_KEY.match(spec.key) or not spec.key.startswith(f"{source}."):
            return f"source {source!r}: declared key {spec.key!r} must look like '{source}.name'"
        if spec.dimension not in DIMENSIONS:
            return f"source {source!r}: declared key {spec.key!r} has unknown dimension"
        if keys.count(spec.key) > 1:
            return f"source {source!r}: key {spec.key!r} declared twice"
    return None
