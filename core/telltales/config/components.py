"""Settings per component: each registered plugin's own table of the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telltales.config.document import TomlDocument, TomlPath
from telltales.errors import dotted
from telltales.observability import log
from telltales.plugins import Entry, Registry, left_out_note


def component_settings(
    document: TomlDocument,
    section: str,
    kind: str,
    registered: Mapping[str, Entry[Any]],
    tables: Mapping[str, Any],
    registry: Registry,
) -> dict[str, Any]:
    """Each registered component's ``[<section>.<name>]`` table, checked for it.

    A table naming no installed component is refused, unless it belongs to a plugin
    that was left out: that one is set aside with a warning, so one broken plugin does
    not stop the others (the runs say they are degraded). A table for a component with
    a ``settings_type`` is decoded into it; one for a component that declares no
    settings must be empty, so a key written there is refused rather than silently
    ignored.
    """
    unknown = []
    for name in sorted(set(tables) - set(registered)):
        failure = registry.left_out_by(name)
        if failure is None:
            unknown.append(name)
        else:
            log.warning(
                "[%s.%s] not applied: plugin %r was left out (%s)",
                section,
                name,
                failure.plugin,
                failure.stage,
            )
    if unknown:
        known = ", ".join(sorted(registered)) or "none"
        raise document.error(
            (section, unknown[0]),
            f"[{section}.{unknown[0]}] names no installed {kind} "
            f"(installed: {known}{left_out_note(registry)})",
        )
    settings: dict[str, Any] = {}
    for name, entry in registered.items():
        table = tables.get(name, {})
        settings_type = getattr(entry.obj, "settings_type", None)
        if settings_type is not None:
            settings[name] = document.decode((section, name), table, settings_type)
            continue
        if table != {}:
            where: TomlPath = (section, name)
            if isinstance(table, Mapping):
                where = (*where, next(iter(table)))
            raise document.error(
                where, f"{dotted(where)}: unknown key; {kind} {name!r} takes no settings"
            )
        settings[name] = {}
    return settings
