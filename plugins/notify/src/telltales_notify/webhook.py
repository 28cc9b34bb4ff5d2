"""The ``webhook`` action: POST a signed JSON event about one playbook step.

The receiver can be anything that takes JSON: a team's chat (through the ``text``
paragraph), an internal tool, a ticketing bridge. It knows the event is ours from the
signature and knows a repeat from the ``Idempotency-Key`` header.
"""

from __future__ import annotations

import os
import time

import msgspec
from telltales import ActionOutcome, ActionRequest

from .http_delivery import post_json
from .outcomes import missing_secret
from .payloads import AccountSummary, WebhookEvent
from .settings import WebhookParams, WebhookSettings
from .signature import sign
from .summary import chat_text


def event_for(request: ActionRequest) -> WebhookEvent:
    account = request.account
    return WebhookEvent(
        idempotency_key=request.idempotency_key,
        event="playbook.action",
        account=AccountSummary(
            account_id=account.account_id,
            name=account.name,
            owner=account.owner,
            csm_group=account.csm_group,
            segment=account.segment,
            arr=account.arr,
            renewal_date=account.renewal_date,
        ),
        status=request.status,
        status_label=request.status_label,
        as_of=request.as_of,
        playbook=request.playbook,
        playbook_run_id=request.playbook_run_id,
        step=request.step,
        reason=request.reason,
        evidence=request.evidence,
        firings=request.firings,
        account_url=request.account_url,
        text=chat_text(request),
    )


class WebhookAction:
    """Calls a URL from the playbook step with the event, signed with a shared secret."""

    name = "webhook"
    reaches_customer = False
    params_type = WebhookParams
    settings_type = WebhookSettings

    def execute(self, request: ActionRequest) -> ActionOutcome:
        params: WebhookParams = request.params
        settings: WebhookSettings = request.settings
        variable = params.secret_env or settings.secret_env
        secret = os.environ.get(variable, "")
        if not secret:
            return missing_secret(variable, "the webhook signing secret")
        body = msgspec.json.encode(event_for(request))
        timestamp = str(int(time.time()))
        headers = {
            "Idempotency-Key": request.idempotency_key,
            "X-Telltales-Timestamp": timestamp,
            "X-Telltales-Signature": sign(secret.encode(), timestamp, body),
        }
        # The URL is hidden too: chat webhooks carry their credential in the path.
        return post_json(
            params.url,
            body,
            headers,
            timeout_seconds=settings.timeout_seconds,
            hide=(secret, params.url),
        )
