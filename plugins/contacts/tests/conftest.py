"""Fixtures shared by the contacts plugin's tests: the harness and two record builders.

The builders are served as fixtures because test modules are imported by path
(``--import-mode=importlib``) and cannot import a sibling helper module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
import telltales_contacts
from telltales.testing import PluginHarness


@pytest.fixture
def contacts_env(telltales_env: PluginHarness) -> PluginHarness:
    """The core plus this plugin only, with two empty accounts."""
    telltales_env.register(telltales_contacts, name="contacts")
    telltales_env.add_accounts({"a1": "Alpha", "a2": "Beta"})
    return telltales_env


Record = dict[str, Any]
PersonBuilder = Callable[..., Record]
MeetingBuilder = Callable[..., Record]


def _person(
    contact_id: str,
    as_of: str,
    name: str,
    roles: Sequence[str] = (),
    *,
    account_id: str = "a1",
    title: str | None = None,
    status: str = "active",
) -> Record:
    record: Record = {
        "contact_id": contact_id,
        "account_id": account_id,
        "as_of": as_of,
        "name": name,
        "roles": list(roles),
        "status": status,
    }
    if title is not None:
        record["title"] = title
    return record


def _meeting(
    meeting_id: str,
    day: str,
    contact_ids: Sequence[str],
    *,
    account_id: str = "a1",
    kind: str = "meeting",
) -> Record:
    return {
        "meeting_id": meeting_id,
        "account_id": account_id,
        "day": day,
        "contact_ids": list(contact_ids),
        "kind": kind,
    }


@pytest.fixture
def person() -> PersonBuilder:
    """Build a ``contacts.people`` record: ``person(contact_id, as_of, name, roles, ...)``."""
    return _person


@pytest.fixture
def meeting() -> MeetingBuilder:
    """Build a ``contacts.meetings`` record: ``meeting(meeting_id, day, contact_ids, ...)``."""
    return _meeting
