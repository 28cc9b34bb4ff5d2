"""The playbook action: ask Acme Surveys to send a pulse survey to an account's people.

The survey reaches the customer, so every step of it waits for a CSM's approval.
Delivery goes through telltales' outbox: ``execute`` is called after the playbook run
has committed, retried with backoff while it answers ``delivered=False``, and may be
called again for the same step after a crash; the ``Idempotency-Key`` header lets
Acme's API ignore a repeat, so the customer gets one survey.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Annotated

import msgspec
from telltales import ActionOutcome, ActionRequest

RETRY_LATER = frozenset({408, 425, 429})
"""Answers under 500 that mean "not now" rather than "never"."""


# [docs:action-types]
class PulseParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A playbook step's parameters: which of Acme's survey templates to send."""

    survey: Annotated[str, msgspec.Meta(min_length=1)] = "nps-pulse"


class PulseSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[actions."acme_nps.pulse_survey"]`` in telltales.toml."""

    api_url: str = "https://api.acme-surveys.example/v1/pulses"
    token_env: str = "ACME_SURVEYS_TOKEN"
    """The environment variable holding the API token: secrets stay out of the file."""
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    # [/docs:action-types]


class PulseRequest(msgspec.Struct, kw_only=True):
    """The JSON body Acme's API takes."""

    account_id: str
    account_name: str
    survey: str
    reason: str


# [docs:action]
class PulseSurveyAction:
    """``acme_nps.pulse_survey``: Acme Surveys sends the account's people a survey."""

    name = "acme_nps.pulse_survey"
    reaches_customer = True
    params_type = PulseParams
    settings_type = PulseSettings

    def execute(self, request: ActionRequest) -> ActionOutcome:
        params: PulseParams = request.params
        settings: PulseSettings = request.settings
        token = os.environ.get(settings.token_env, "")
        if not token:
            # Every retry would fail the same way: give up at once, and say why.
            return ActionOutcome(
                delivered=False, retryable=False, detail=f"{settings.token_env} is not set"
            )
        body = PulseRequest(
            account_id=request.account.account_id,
            account_name=request.account.name,
            survey=params.survey,
            reason=request.reason,
        )
        call = urllib.request.Request(
            settings.api_url,
            data=msgspec.json.encode(body),
            method="POST",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": request.idempotency_key,
            },
        )
        try:
            with urllib.request.urlopen(call, timeout=settings.timeout_seconds) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            retryable = error.code >= 500 or error.code in RETRY_LATER
            return ActionOutcome(
                delivered=False, retryable=retryable, detail=f"Acme answered HTTP {error.code}"
            )
        except OSError as error:  # refused, unreachable, timed out: try again later
            return ActionOutcome(delivered=False, detail=f"cannot reach Acme: {error}")
        return ActionOutcome(delivered=True, detail=f"{params.survey} sent, HTTP {status}")
        # [/docs:action]
