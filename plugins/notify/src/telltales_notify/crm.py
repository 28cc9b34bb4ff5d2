"""The ``http`` CRM adapter: POST each renewal flag to an endpoint of your own.

Most CRMs are reached through an integration layer (a middleware, a serverless
function, an iPaaS flow) rather than directly; this adapter speaks plain JSON to that
layer, which maps the flag onto the CRM's renewal opportunity.
"""

from __future__ import annotations

import os

import msgspec
from telltales import ActionOutcome, RenewalFlag

from .http_delivery import post_json
from .outcomes import missing_secret
from .payloads import CrmFlag
from .settings import HttpCrmSettings


class HttpCrmAdapter:
    """Sends the flag with its idempotency key, so the endpoint can mark it only once."""

    name = "http"
    settings_type = HttpCrmSettings

    def push(self, flag: RenewalFlag) -> ActionOutcome:
        settings: HttpCrmSettings = flag.settings
        headers = {"Idempotency-Key": flag.idempotency_key}
        token = ""
        if settings.token_env:
            token = os.environ.get(settings.token_env, "")
            if not token:
                return missing_secret(settings.token_env, "the CRM bearer token")
            headers["Authorization"] = f"Bearer {token}"
        body = msgspec.json.encode(
            CrmFlag(
                idempotency_key=flag.idempotency_key,
                account_id=flag.account_id,
                account_name=flag.account_name,
                renewal_date=flag.renewal_date,
                flag=flag.flag,
                reason=flag.reason,
                evidence=flag.evidence,
                flagged_at=flag.flagged_at,
                account_url=flag.account_url,
            )
        )
        return post_json(
            settings.url, body, headers, timeout_seconds=settings.timeout_seconds, hide=(token,)
        )
