"""News about an account as telltales signals that fade as the news ages.

An acquisition, a merger, layoffs or a new executive change who decides a renewal
and what they care about; the effect is strongest when the news is fresh and wanes
over the following months. The plugin stores news items fed by any news provider
(``telltales ingest news.items``) and turns each account's recent items into
``current_state`` signals whose impact halves every ``half_life_days``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Migrations
from telltales import Ingester, SignalSource, hookimpl

from .records import NewsItemsIngester
from .schema import migrations
from .signals import NewsSource


@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(NewsItemsIngester())


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(NewsSource())
