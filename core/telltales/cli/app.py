"""What every ``telltales`` command shares: the application context and option types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from telltales.config import LoadedConfig, config_path, load_config
from telltales.errors import TelltalesError
from telltales.models import date_problem
from telltales.playbooks.plan import Plan, load_plan
from telltales.plugins import PluginFailure, Registry, load_registry
from telltales.store import Store, default_path, open_for_plugins


class App:
    """What a command needs, built on first use so ``--help`` stays instant."""

    def __init__(self, db: Path | None, config: Path | None) -> None:
        self.db_path = db or default_path()
        self.config_option = config

    @cached_property
    def registry(self) -> Registry:
        registry = load_registry()
        _warn(registry.failures)
        return registry

    @cached_property
    def config(self) -> LoadedConfig:
        return load_config(config_path(self.config_option))

    @cached_property
    def plan(self) -> Plan:
        """Rules, playbooks and their settings, checked against the installed plugins."""
        return load_plan(self.config, self.registry)

    def open(self, *, create: bool = False) -> Store:
        """The database, migrated; a plugin whose migrations fail is left out, with a warning."""
        known = len(self.registry.failures)
        store = open_for_plugins(self.db_path, self.registry, create=create)
        if len(self.registry.failures) > known:
            _warn(self.registry.failures[known:])
            self.__dict__.pop("plan", None)  # checked with a plugin now left out: check again
        return store


def _warn(failures: Sequence[PluginFailure]) -> None:
    for failure in failures:
        click.secho(
            f"warning: plugin {failure.plugin!r} left out ({failure.stage}): {failure.error}",
            fg="yellow",
            err=True,
        )


class ErrorLines(click.Group):
    """Turns a :class:`TelltalesError` into one ``Error:`` line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TelltalesError as error:
            raise click.ClickException(str(error)) from error


def day_of(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


class Day(click.DateTime):
    """A day given as YYYY-MM-DD, within the days telltales reasons about.

    Year 0001 or 9999 would overflow date arithmetic (a traceback); it is refused as a
    bad option value, like a malformed date.
    """

    def __init__(self) -> None:
        super().__init__(formats=["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        converted = super().convert(value, param, ctx)
        problem = date_problem(converted.date()) if isinstance(converted, datetime) else None
        if problem is not None:
            self.fail(problem, param, ctx)
        return converted


DAY = Day()
