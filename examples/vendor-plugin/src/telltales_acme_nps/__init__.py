"""Acme Surveys NPS responses as a telltales signal source, and a survey as an action.

The entry point (``acme_nps`` in the group ``telltales``) names this module; its
``@hookimpl`` functions register what the submodules define: the schema
(``schema``), a record type the core ingests (``responses``), a signal source
(``nps``) and a playbook action (``pulse``). Importing it first checks that the core
offers the plugin API they are written against (``api_version``).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Migrations
from telltales import Ingester, PlaybookAction, SignalSource, hookimpl

# First: refuses a core whose plugin API lacks what the modules below use.
from . import api_version  # noqa: F401
from .nps import NpsSource
from .pulse import PulseSurveyAction
from .responses import ResponsesIngester
from .schema import migrations


# [docs:hooks]
@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(ResponsesIngester())


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(NpsSource())


@hookimpl
def register_playbook_actions(register: Callable[[PlaybookAction], None]) -> None:
    register(PulseSurveyAction())
    # [/docs:hooks]
