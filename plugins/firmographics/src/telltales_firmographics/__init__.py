"""Firmographic snapshots as telltales signals: does the account look like who renews?

Registers the ``firmographics_snapshots`` table, the ``firmographics.snapshots``
ingester (dated snapshots of size, industry, region and products owned, kept as a
history) and the ``firmographics`` source, which measures the latest snapshot
against the ideal customer profile configured in ``[plugins.firmographics]`` and
watches headcount for shrinkage.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Migrations
from telltales import Ingester, SignalSource, hookimpl

from .records import Snapshot, SnapshotsIngester
from .schema import migrations
from .settings import Settings, Weights
from .signals import FirmographicsSource

__all__ = ["FirmographicsSource", "Settings", "Snapshot", "SnapshotsIngester", "Weights"]


@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(SnapshotsIngester())


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(FirmographicsSource())
