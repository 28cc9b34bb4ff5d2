"""Settings per component: each registered plugin's own table of the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from telltales.config.document import TomlDocument, TomlPath
from telltales.errors import dotted
from telltales.plugins import Entry


def component_settings(
    document: TomlDocument,
    section: str,
    kind: str,
    registered: Mapping[str, Entry[Any]],
    tables: Mapping[str, Any],
) -> dict[str, Any]:
    """Each registered component's ``[<section>.<name>]`` table, checked for it.

    A table naming no installed component is refused; one for a component with a
    ``settings_type`` is decoded into it; one for a component that declares no settings
    must be empty, so a key written there is refused rather than silently ignored.
    """
    unknown = sorted(set(tables) - set(registered))
    if unknown:
        known = ", ".join(sorted(registered)) or "none"
        raise document.error(
            (section, unknown[0]),
            f"[{section}.{unknown[0]}] names no installed {kind} (installed: {known})",
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
