"""``sign`` and ``verify``: what a receiver relies on to trust a webhook."""

from __future__ import annotations

import pytest
from telltales_notify.signature import sign, verify

SECRET = b"whsec-3f9a1c7e5b"
BODY = b'{"event":"playbook.action"}'
SENT = 1795000000


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # Computed independently: printf '1795000000.{"event":"playbook.action"}' |
    # openssl dgst -sha256 -hmac whsec-3f9a1c7e5b
    assert sign(SECRET, str(SENT), BODY) == (
        "sha256=641876d7f4fe4f183537fdfc3a965c0f6f125567f15dbc72b2834025184d673b"
    )


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_verify_accepts_within_tolerance(offset: int) -> None:
    signature = sign(SECRET, str(SENT), BODY)

    assert verify(SECRET, str(SENT), BODY, signature, now=SENT + offset)


@pytest.mark.parametrize("offset", [-301, 301, 86400])
def test_verify_refuses_a_timestamp_too_far_from_now(offset: int) -> None:
    signature = sign(SECRET, str(SENT), BODY)

    assert not verify(SECRET, str(SENT), BODY, signature, now=SENT + offset)


def test_tolerance_is_the_receivers_choice() -> None:
    signature = sign(SECRET, str(SENT), BODY)

    assert verify(SECRET, str(SENT), BODY, signature, tolerance_seconds=3600, now=SENT + 3000)
    assert not verify(SECRET, str(SENT), BODY, signature, tolerance_seconds=10, now=SENT + 11)


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "sha256=",
        "641876d7f4fe4f183537fdfc3a965c0f6f125567f15dbc72b2834025184d673b",
        "sha256=641876D7F4FE4F183537FDFC3A965C0F6F125567F15DBC72B2834025184D673B",
        "sha256=é",
    ],
)
def test_verify_refuses_any_other_signature(signature: str) -> None:
    assert not verify(SECRET, str(SENT), BODY, signature, now=SENT)


@pytest.mark.parametrize("timestamp", ["", "-1795000000", "1795000000.0", " 1795000000", "١٢٣"])
def test_verify_refuses_a_timestamp_that_is_not_unix_seconds(timestamp: str) -> None:
    assert not verify(SECRET, timestamp, BODY, sign(SECRET, timestamp, BODY), now=SENT)
