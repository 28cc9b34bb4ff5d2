"""CSM activities and success-plan outcomes as engagement and ROI signals (DEAR's E and R).

Engagement asks whether the customer is met at the cadence its segment was promised
and had its value reviewed recently; ROI asks what share of the outcomes agreed in
its success plan were verified as achieved. The plugin registers its tables, two
ingesters (``engagement.activities``, ``engagement.outcomes``) and the
``engagement`` signal source.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Migrations
from telltales import Ingester, SignalSource, hookimpl

from .records import ActivitiesIngester, OutcomesIngester
from .schema import migrations
from .signals import EngagementSource


@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(ActivitiesIngester())
    register(OutcomesIngester())


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(EngagementSource())
