"""The JSON bodies sent over HTTP: a webhook event and a CRM renewal flag.

Receivers are written against these shapes, so fields are only ever added.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec
from telltales import RuleFiring


class AccountSummary(msgspec.Struct, kw_only=True, frozen=True):
    """The account facts a receiver needs to route and word a notification."""

    account_id: str
    name: str
    owner: str
    csm_group: str
    segment: str
    arr: float
    renewal_date: date | None


class WebhookEvent(msgspec.Struct, kw_only=True, frozen=True):
    """What the ``webhook`` action POSTs: one playbook step for one account."""

    idempotency_key: str
    """The same on every attempt to deliver this step: act on it once."""
    event: Literal["playbook.action"]
    account: AccountSummary
    status: str
    status_label: str
    as_of: date | None
    playbook: str
    playbook_run_id: int
    step: int
    reason: str
    evidence: str
    firings: tuple[RuleFiring, ...]
    account_url: str
    text: str
    """The whole event as one paragraph, for a chat channel."""


class CrmFlag(msgspec.Struct, kw_only=True, frozen=True):
    """What the ``http`` CRM adapter POSTs: mark this account's open renewal."""

    idempotency_key: str
    account_id: str
    account_name: str
    renewal_date: date | None
    flag: str
    reason: str
    evidence: str
    flagged_at: datetime
    account_url: str
