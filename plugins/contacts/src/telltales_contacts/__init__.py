"""Contacts: who the people at an account are, what roles they hold, and when we met them.

A renewal rarely survives the loss of the person who sponsored the purchase or of the
champion who drives use, and a sponsor nobody meets is a sponsor in name only. This
plugin ingests dated snapshots of each person (``contacts.people``) and the meetings
held with them (``contacts.meetings``), and turns them into ``engagement`` signals:
sponsor or champion changes, whether a sponsor is tagged at all, how long since a
sponsor was met, and how many contacts are still active.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Migrations
from telltales import Ingester, SignalSource, hookimpl

from .records import MeetingsIngester, PeopleIngester
from .schema import migrations
from .signals import ContactsSource

__all__ = ["ContactsSource", "MeetingsIngester", "PeopleIngester", "migrations"]


@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(PeopleIngester())
    register(MeetingsIngester())


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(ContactsSource())
