"""The action plan: rules, statuses, playbooks and their settings, checked as one.

Everything here comes from the TOML configuration (and the shipped ``defaults.toml``
beside this file, written in the same format). It is checked whole before a run
starts: a rule on a signal no installed source declares, a playbook step naming an
action nobody registered, parameters an action refuses — each is an error naming
the file, the line and the problem, and nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from telltales.config import component_settings
from telltales.config.document import TomlDocument, TomlPath
from telltales.contracts import CrmAdapter
from telltales.playbooks.rules import (
    DEFAULT_LABELS,
    NAME,
    Rule,
    RuleSpec,
    compile_condition,
)
from telltales.playbooks.steps import Playbook, PlaybookSpec, Step
from telltales.plugins import left_out_note
from telltales.signals.freshness import SourceLimit, load_limits
from telltales.signals.scorecards.definition import (
    HEALTH_SCORER,
    SHADOW_SCORER,
    check_signal_key,
    excused,
)

if TYPE_CHECKING:
    from telltales.config import Config, LoadedConfig
    from telltales.plugins import PluginFailure, Registry


DEFAULTS_FILE = "defaults.toml"
RENEWAL_FLAG = "renewal.flag"
"""The core action whose settings are the configured CRM adapter (``[crm]``)."""
DEFAULT_ACCOUNT_URL = "http://127.0.0.1:8000/v1/accounts/{account_id}/health"


class LabelsSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    healthy: Annotated[str, msgspec.Meta(min_length=1)] = DEFAULT_LABELS["healthy"]
    concern: Annotated[str, msgspec.Meta(min_length=1)] = DEFAULT_LABELS["concern"]
    at_risk: Annotated[str, msgspec.Meta(min_length=1)] = DEFAULT_LABELS["at_risk"]
    inactive: Annotated[str, msgspec.Meta(min_length=1)] = DEFAULT_LABELS["inactive"]
    """An account no longer live (churned or paused): set by its lifecycle, never a rule."""


class AlertsSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    max_new_runs_per_csm_per_week: Annotated[int, msgspec.Meta(ge=1)] | None = 10
    """New live playbook runs one CSM can be given in 7 days; more are held back."""


class OutboxSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 8
    backoff_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    """Wait before the second attempt; it doubles with each attempt after that."""
    backoff_max_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    lease_seconds: Annotated[float, msgspec.Meta(gt=0)] = 120.0
    """How long a worker holds a delivery it is attempting; if it dies, another
    worker takes the delivery over once the lease has run out."""
    attempt_time_limit_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    """How long one attempt may take before the worker gives up on it and moves on: a
    failed attempt, retried with backoff. Keep it under ``lease_seconds``."""


TimeLimit = Annotated[float, msgspec.Meta(gt=0, le=86400)]
"""Seconds a plugin component may take in one run: more than zero, at most a day."""


class EngineSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[engine]``: how long each signal source and scorer may take in one run.

    A component that overruns is abandoned: the run goes on without its output and is
    marked degraded, as when it raises.
    """

    source_time_limit_seconds: TimeLimit = 300.0
    scorer_time_limit_seconds: TimeLimit = 300.0
    source_time_limits: dict[str, TimeLimit] = msgspec.field(default_factory=dict)
    """Per-source limits, by source name, overriding ``source_time_limit_seconds``."""
    scorer_time_limits: dict[str, TimeLimit] = msgspec.field(default_factory=dict)
    """Per-scorer limits, by scorer name, overriding ``scorer_time_limit_seconds``."""

    def source_limit(self, name: str) -> tuple[float, str]:
        """The source's limit and the setting it comes from (for messages)."""
        if name in self.source_time_limits:
            return self.source_time_limits[name], f"[engine.source_time_limits] {name}"
        return self.source_time_limit_seconds, "[engine] source_time_limit_seconds"

    def scorer_limit(self, name: str) -> tuple[float, str]:
        """The scorer's limit and the setting it comes from (for messages)."""
        if name in self.scorer_time_limits:
            return self.scorer_time_limits[name], f'[engine.scorer_time_limits] "{name}"'
        return self.scorer_time_limit_seconds, "[engine] scorer_time_limit_seconds"


class LinksSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    account_url: str = DEFAULT_ACCOUNT_URL
    """Where a task or message links to; ``{account_id}`` is replaced."""


class GroupSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    manager: str = ""
    """Who the ``manager`` recipient or assignee is for accounts of this CSM group."""


class CrmSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    adapter: str = ""
    """The CRM adapter that renewal flags are pushed through; empty keeps them local."""
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


@dataclass(frozen=True)
class Crm:
    adapter: CrmAdapter
    settings: Any


@dataclass(frozen=True)
class Plan:
    """Everything the rules, statuses, playbooks and outbox need for a run."""

    rules: Mapping[str, Rule] = field(default_factory=dict)
    playbooks: Mapping[str, Playbook] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    alerts: AlertsSpec = field(default_factory=AlertsSpec)
    outbox: OutboxSpec = field(default_factory=OutboxSpec)
    engine: EngineSpec = field(default_factory=EngineSpec)
    freshness: Mapping[str, SourceLimit] | None = None
    """Each declaring source's freshness limit (``[freshness]``, else its default);
    None for a plan built without a registry (a run then uses the defaults)."""
    links: LinksSpec = field(default_factory=LinksSpec)
    managers: Mapping[str, str] = field(default_factory=dict)
    csm_groups: frozenset[str] = frozenset()
    """The groups ``[csm_groups.<group>]`` tables declare: known before any account has
    them (``telltales.store.csm_groups``)."""
    action_settings: Mapping[str, Any] = field(default_factory=dict)
    crm: Crm | None = None

    def account_url(self, account_id: str) -> str:
        return self.links.account_url.replace("{account_id}", account_id)


def load_plan(config: LoadedConfig, registry: Registry) -> Plan:
    """Check the shipped defaults and the user's tables; return the plan for runs."""
    values = config.values
    user = config.document
    shipped_text = resources.files(__package__).joinpath(DEFAULTS_FILE).read_text("utf-8")
    shipped_doc = TomlDocument(DEFAULTS_FILE, shipped_text)
    shipped = msgspec.toml.decode(shipped_text)

    rules: dict[str, Rule] = {}
    for name, table in shipped.get("rules", {}).items():
        shipped_rule = _rule(shipped_doc, ("rules", name), name, table, registry, shipped=True)
        if shipped_rule is not None:
            rules[name] = shipped_rule
    for name, table in values.rules.items():
        path: TomlPath = ("rules", name)
        if not NAME.match(name):
            raise user.error(path, f"[rules.{name}]: a rule name is lowercase letters, digits, _")
        if table == {"enabled": False}:
            if name not in rules:
                raise user.error(
                    path, f"[rules.{name}]: there is no shipped rule {name!r} to switch off"
                )
            del rules[name]
            continue
        rule = _rule(user, path, name, table, registry, shipped=False)
        if rule is None:
            rules.pop(name, None)
        else:
            rules[name] = rule
    active_rules = rules

    action_settings = _action_settings(user, values.actions, registry)
    playbooks: dict[str, Playbook] = {}
    for source, doc, tables in (
        ("shipped", shipped_doc, shipped.get("playbooks", {})),
        ("user", user, values.playbooks),
    ):
        for name, table in tables.items():
            path = ("playbooks", name)
            if not NAME.match(name):
                raise doc.error(path, f"[playbooks.{name}]: a name is lowercase letters, digits, _")
            if source == "user" and table == {"enabled": False}:
                if name not in playbooks:
                    raise doc.error(
                        path,
                        f"[playbooks.{name}]: there is no shipped playbook {name!r} to switch off",
                    )
                del playbooks[name]
                continue
            playbook = _playbook(doc, path, name, table, registry, active_rules, action_settings)
            if playbook is None:
                playbooks.pop(name, None)
            else:
                playbooks[name] = playbook

    labels = user.decode(("statuses",), values.statuses, LabelsSpec)
    groups = {
        group: user.decode(("csm_groups", group), table, GroupSpec)
        for group, table in values.csm_groups.items()
    }
    crm = _crm(user, values.crm, registry)
    if RENEWAL_FLAG in registry.actions:
        action_settings[RENEWAL_FLAG] = crm
    return Plan(
        rules=active_rules,
        playbooks=playbooks,
        labels={status: getattr(labels, status) for status in DEFAULT_LABELS},
        alerts=user.decode(("alerts",), values.alerts, AlertsSpec),
        outbox=user.decode(("outbox",), values.outbox, OutboxSpec),
        engine=_engine(user, values, registry),
        freshness=load_limits(config, registry),
        links=_links(user, values.links),
        managers={group: spec.manager for group, spec in groups.items() if spec.manager},
        csm_groups=frozenset(groups),
        action_settings=action_settings,
        crm=crm,
    )


def _rule(
    doc: TomlDocument,
    path: TomlPath,
    name: str,
    table: object,
    registry: Registry,
    *,
    shipped: bool,
) -> Rule | None:
    spec = doc.decode(path, table, RuleSpec)
    if not spec.enabled:
        return None
    conditions = []
    for index, condition_spec in enumerate(spec.conditions):
        where = (*path, "conditions", index)
        compiled = compile_condition(condition_spec)
        if isinstance(compiled, str):
            raise doc.error(where, f"[rules.{name}] condition {index + 1}: {compiled}")
        label = f"[rules.{name}] condition {index + 1}"
        if compiled.kind == "signal":
            missing = check_signal_key(doc, where, label, compiled.name, registry)
            if missing is not None and not excused(compiled.name, registry, shipped=shipped):
                raise doc.error(where, f"{label}: {compiled.name!r}: {missing}")
        elif compiled.kind in ("score", "grade") and compiled.name == SHADOW_SCORER:
            raise doc.error(
                where,
                f"{label}: {compiled.kind}.{SHADOW_SCORER} is the shadow card's, which drives "
                "no status until it is promoted (docs/backtest.md); a rule reads "
                f"{compiled.kind}.{HEALTH_SCORER}",
            )
        elif (
            compiled.kind in ("score", "grade")
            and compiled.name not in registry.scorers
            and registry.left_out_by(compiled.name) is None
        ):
            known = ", ".join(registry.scorers) or "none"
            raise doc.error(
                where,
                f"{label}: no scorer named {compiled.name!r} is installed "
                f"(known: {known}{left_out_note(registry)})",
            )
        conditions.append(compiled)
    by_dimension = spec.next_action_by_dimension or {}
    if by_dimension and not any(c.kind in ("score", "grade") for c in conditions):
        raise doc.error(
            (*path, "next_action_by_dimension"),
            f"[rules.{name}] next_action_by_dimension: the rule reads no score or grade, so "
            "it has no weakest dimension to choose by; use next_action",
        )
    for dimension in by_dimension:
        if not NAME.match(dimension):
            raise doc.error(
                (*path, "next_action_by_dimension", dimension),
                f"[rules.{name}] next_action_by_dimension: {dimension!r} is not a dimension "
                "name (a scorecard component: lowercase letters, digits, _)",
            )
    return Rule(
        name=name,
        description=spec.description,
        status=spec.status,
        severity=spec.severity,
        conditions=tuple(conditions),
        hold_days=spec.hold_days,
        cooldown_days=spec.cooldown_days,
        shipped=shipped,
        min_stay_days=spec.min_stay_days,
        next_action=spec.next_action,
        next_action_by_dimension=dict(by_dimension),
    )


def _playbook(
    doc: TomlDocument,
    path: TomlPath,
    name: str,
    table: object,
    registry: Registry,
    rules: Mapping[str, Rule],
    settings: Mapping[str, Any],
) -> Playbook | None:
    spec = doc.decode(path, table, PlaybookSpec)
    if not spec.enabled:
        return None
    for index, rule in enumerate(spec.rules):
        if rule not in rules:
            raise doc.error(
                (*path, "rules", index),
                f"[playbooks.{name}] rules: no enabled rule named {rule!r} "
                f"(known: {', '.join(sorted(rules)) or 'none'})",
            )
    steps = [
        _step(doc, (*path, "steps", index), name, index + 1, table, registry, settings)
        for index, table in enumerate(spec.steps)
    ]
    return Playbook(
        name=name,
        description=spec.description,
        on_enter=spec.on_enter,
        rules=frozenset(spec.rules),
        steps=tuple(steps),
    )


def _step(
    doc: TomlDocument,
    path: TomlPath,
    playbook: str,
    number: int,
    table: dict[str, Any],
    registry: Registry,
    settings: Mapping[str, Any],
) -> Step:
    label = f"[playbooks.{playbook}] step {number}"
    params = dict(table)
    action_name = params.pop("action", None)
    approval = params.pop("approval", None)
    if not isinstance(action_name, str):
        raise doc.error(path, f'{label}: name its action, e.g. action = "task"')
    entry = registry.actions.get(action_name)
    if entry is None:
        raise doc.error((*path, "action"), f"{label}: {missing_action(registry, action_name)}")
    action = entry.obj
    if approval is not None and not isinstance(approval, bool):
        raise doc.error((*path, "approval"), f"{label}: approval is true or false")
    if approval is False and action.reaches_customer:
        raise doc.error(
            (*path, "approval"),
            f"{label}: action {action_name!r} reaches the customer, so a CSM must approve it; "
            "remove approval = false",
        )
    executes = callable(getattr(action, "execute", None))
    if approval is True and not executes:
        raise doc.error(
            (*path, "approval"),
            f"{label}: action {action_name!r} only writes in telltales (it sends nothing), "
            "so there is nothing to approve; remove approval = true",
        )
    params_type = getattr(action, "params_type", None)
    decoded: Any = params
    if params_type is not None:
        try:
            decoded = msgspec.convert(params, params_type)
        except msgspec.ValidationError as error:
            raise doc.invalid(path, error) from error
    needs_approval = bool(action.reaches_customer or approval)
    check_step = getattr(action, "check_step", None)
    if callable(check_step):
        problem = check_step(decoded, settings.get(action_name), needs_approval)
        if problem:
            raise doc.error(path, f"{label}: {problem}")
    return Step(
        number=number,
        action=action_name,
        params=decoded,
        raw_params=params,
        needs_approval=needs_approval,
        records=callable(getattr(action, "record", None)),
        executes=executes,
    )


def missing_action(registry: Registry, name: str) -> str:
    """Why a playbook step cannot use action ``name``: not installed, or its plugin left out.

    A playbook is never started with a step missing, so a step on a left-out plugin's
    action stops the configuration (a settings table of that plugin is only set aside).
    """
    failure = registry.left_out_by(name)
    if failure is None:
        known = ", ".join(sorted(registry.actions)) or "none"
        return f"no action named {name!r} (installed: {known}{left_out_note(registry)})"
    return (
        f"action {name!r} is not available: {_left_out(failure)}; a playbook is not "
        "started with a step missing: fix the plugin, or take the step out"
    )


def _left_out(failure: PluginFailure) -> str:
    return f"plugin {failure.plugin!r} was left out ({failure.stage}): {failure.error}"


def _action_settings(
    doc: TomlDocument, tables: Mapping[str, Any], registry: Registry
) -> dict[str, Any]:
    return component_settings(doc, "actions", "action", registry.actions, tables, registry)


def _crm(doc: TomlDocument, table: Mapping[str, Any], registry: Registry) -> Crm | None:
    spec = doc.decode(("crm",), table, CrmSpec)
    if not spec.adapter:
        return None
    entry = registry.crm_adapters.get(spec.adapter)
    if entry is None:
        failure = registry.left_out_by(spec.adapter)
        known = ", ".join(sorted(registry.crm_adapters)) or "none"
        problem = (
            f"no CRM adapter named {spec.adapter!r} ({known}{left_out_note(registry)})"
            if failure is None
            else f"CRM adapter {spec.adapter!r} is not available: {_left_out(failure)}"
        )
        raise doc.error(("crm", "adapter"), f"[crm] adapter: {problem}")
    settings_type = getattr(entry.obj, "settings_type", None)
    settings = (
        spec.settings
        if settings_type is None
        else doc.decode(("crm", "settings"), spec.settings, settings_type)
    )
    return Crm(adapter=entry.obj, settings=settings)


def _engine(doc: TomlDocument, values: Config, registry: Registry) -> EngineSpec:
    """``[engine]``, with per-component limits only for installed sources and scorers."""
    spec = doc.decode(("engine",), values.engine, EngineSpec)
    for table, names, kind in (
        ("source_time_limits", registry.sources, "signal source"),
        ("scorer_time_limits", registry.scorers, "scorer"),
    ):
        missing = sorted(set(getattr(spec, table)) - set(names))
        unknown = [name for name in missing if registry.left_out_by(name) is None]
        if unknown:
            known = ", ".join(sorted(names)) or "none"
            raise doc.error(
                ("engine", table, unknown[0]),
                f"[engine.{table}] {unknown[0]}: no installed {kind} has that name "
                f"(installed: {known}{left_out_note(registry)})",
            )
    return spec


_URL = re.compile(r"^https?://[^\s]+$")


def _links(doc: TomlDocument, table: Mapping[str, Any]) -> LinksSpec:
    links = doc.decode(("links",), table, LinksSpec)
    if not _URL.match(links.account_url):
        raise doc.error(("links", "account_url"), "[links] account_url: expected an http(s) URL")
    return links
