"""The hooks a telltales plugin can implement.

Every hook registers objects; the objects do the work (see ``contracts``). A hook
receives a ``register`` callable and calls it once per object. Hook arguments only
ever grow, and :data:`telltales.PLUGIN_API_VERSION` says which set a core offers.
Each hook is documented, with a worked example, in ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy
from sqlite_utils import Migrations

from telltales.contracts import CrmAdapter, Ingester, PlaybookAction, Scorer, SignalSource

PROJECT_NAME = "telltales"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    """Register signal sources that turn raw records into signals.

    :param register: call with each :class:`~telltales.contracts.SignalSource`.

    .. versionadded:: 1.0
    """


@hookspec
def register_scorers(register: Callable[[Scorer], None]) -> None:
    """Register scorers that roll a run's signals up into scores with breakdowns.

    :param register: call with each :class:`~telltales.contracts.Scorer`.

    .. versionadded:: 1.0
    """


@hookspec
def register_playbook_actions(register: Callable[[PlaybookAction], None]) -> None:
    """Register actions that playbooks can run (tasks, email, webhooks, CRM flags).

    :param register: call with each :class:`~telltales.contracts.PlaybookAction`.

    .. versionadded:: 1.0
    .. versionchanged:: 1.3
       ``execute`` became optional beside the new ``record``; actions may declare
       ``params_type`` and ``settings_type``.
    """


@hookspec
def register_crm_adapters(register: Callable[[CrmAdapter], None]) -> None:
    """Register adapters that push renewal flags to a CRM (``[crm] adapter = NAME``).

    :param register: call with each :class:`~telltales.contracts.CrmAdapter`.

    .. versionadded:: 1.3
    """


@hookspec
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    """Register the raw record types a plugin accepts, and how to store them.

    The core serves each ingester from ``telltales ingest NAME FILE`` (and, with the
    REST API, ``POST /v1/ingest/NAME``), validating a whole batch first.

    :param register: call with each :class:`~telltales.contracts.Ingester`.

    .. versionadded:: 1.0
    """


@hookspec
def register_migrations(register: Callable[[Migrations], None]) -> None:
    """Register the plugin's schema as a ``sqlite_utils.Migrations`` set.

    The set's name must be unique (use the plugin's name). Migrations are applied in
    order when a database is opened; a database that has applied migrations this
    code does not know is refused, untouched.

    :param register: call with each ``sqlite_utils.Migrations`` set.

    .. versionadded:: 1.0
    """
