"""The wording people read, where the email and webhook tests do not already pin it down."""

from __future__ import annotations

import msgspec
import pytest
from telltales import ActionRequest
from telltales_notify.summary import chat_text, value_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.45, "0.45"),
        (-0.62, "-0.62"),
        (0.1 + 0.2, "0.3"),
        (150000.0, "150000"),
        (1234567.5, "1234567.5"),
        ("adoption", "adoption"),
    ],
)
def test_values_are_written_as_a_person_would(value: float | str, text: str) -> None:
    assert value_text(value) == text


def test_chat_text_without_firings_or_link_uses_the_reason(at_risk: ActionRequest) -> None:
    account = msgspec.structs.replace(at_risk.account, arr=0.0, csm_group="", renewal_date=None)
    request = msgspec.structs.replace(
        at_risk,
        account=account,
        firings=(),
        account_url="",
        reason="score_red",
        evidence="health score 31 (red)\nbelow 40",
    )

    assert chat_text(request) == (
        "Ferrum Manufacturing (ferrum) entered At-Risk on 2026-11-20 "
        "(owner li.chen@vendor.example). score_red: health score 31 (red) below 40."
    )
