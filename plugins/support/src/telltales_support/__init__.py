"""Support tickets as telltales signals: high-priority load, ticket spikes, backlog, speed.

A customer that files a burst of urgent tickets, or waits weeks for answers, is telling
its CSM something before it says it at the renewal. This plugin registers the
``support_tickets`` table (``register_migrations``), the ``support.tickets`` ingester
(``register_ingesters``) and the ``support`` signal source (``register_signal_sources``),
which reads every account of a run in one query.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Migrations
from telltales import Ingester, SignalSource, hookimpl

from .records import TicketsIngester
from .schema import migrations
from .signals import SupportSource


@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(TicketsIngester())


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(SupportSource())
