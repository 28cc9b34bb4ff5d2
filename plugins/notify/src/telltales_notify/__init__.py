"""Playbook actions that tell people, and an adapter that flags renewals in a CRM.

When an account enters a status, its playbook can alert the people who act on it. This
plugin registers two actions (``register_playbook_actions``): ``email`` (to the
account's owner, its CSM group's manager or fixed addresses, over SMTP) and ``webhook``
(a signed JSON event, e.g. to a chat channel); and one CRM adapter
(``register_crm_adapters``): ``http``, which POSTs the renewal flag to an endpoint of
your own. None of them reaches the customer.
"""

from __future__ import annotations

from collections.abc import Callable

from telltales import CrmAdapter, PlaybookAction, hookimpl

from .crm import HttpCrmAdapter
from .mail import EmailAction
from .webhook import WebhookAction


@hookimpl
def register_playbook_actions(register: Callable[[PlaybookAction], None]) -> None:
    register(EmailAction())
    register(WebhookAction())


@hookimpl
def register_crm_adapters(register: Callable[[CrmAdapter], None]) -> None:
    register(HttpCrmAdapter())
