"""Shared fixtures: Ferrum entering At-Risk as the core hands it to an action, and ports.

Every server a test talks to is real and listens on 127.0.0.1 only, for that test only.
"""

from __future__ import annotations

import socket
from datetime import date

import pytest
from telltales import Account, ActionRequest, RuleFiring, RuleMatch

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def _direct_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables; the test servers must be reached directly."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ferrum() -> Account:
    """The example data's account in trouble: renews in a month, fewer than half its seats used."""
    return Account(
        account_id="ferrum",
        name="Ferrum Manufacturing",
        owner="li.chen@vendor.example",
        csm_group="apac-midmarket",
        segment="mid-market",
        industry="manufacturing",
        employee_count=3100,
        arr=150000.0,
        seats_purchased=80,
        seats_assigned=36,
        products=["core", "workflows"],
        lifecycle_stage="adoption",
        renewal_date=date(2026, 12, 20),
        core_features=["workflows", "alerts", "reporting"],
    )


@pytest.fixture
def firings() -> tuple[RuleFiring, ...]:
    return (
        RuleFiring(
            rule="core_feature_drop",
            description="Active users of a core feature down more than 30% over 14 days",
            status="at_risk",
            severity="high",
            held_since=date(2026, 11, 18),
            matches=(
                RuleMatch(
                    subject="telemetry.core_feature_drop_14d",
                    value=-0.62,
                    comparison="below -0.3",
                    evidence="active users of Workflows fell from 29 to 11 in the 14 days "
                    "to 2026-11-20",
                ),
            ),
        ),
        RuleFiring(
            rule="low_seat_utilization",
            description="Fewer than half the purchased seats active over 30 days",
            status="concern",
            severity="medium",
            held_since=date(2026, 10, 2),
            matches=(
                RuleMatch(
                    subject="telemetry.seat_utilization_30d",
                    value=0.45,
                    comparison="below 0.5",
                    evidence="36 of 80 seats active in the 30 days to 2026-11-20",
                ),
            ),
        ),
    )


@pytest.fixture
def at_risk(ferrum: Account, firings: tuple[RuleFiring, ...]) -> ActionRequest:
    """Step 2 of the at-risk playbook for Ferrum; tests fill in ``params`` and ``settings``."""
    return ActionRequest(
        idempotency_key="tt-42-2-9f1c2b7a5d3e4f60",
        account=ferrum,
        params=None,
        reason="core_feature_drop, low_seat_utilization",
        evidence="core_feature_drop: telemetry.core_feature_drop_14d = -0.62 (below -0.3); "
        "low_seat_utilization: telemetry.seat_utilization_30d = 0.45 (below 0.5)",
        playbook="at_risk_response",
        playbook_run_id=42,
        step=2,
        status="at_risk",
        status_label="At-Risk",
        as_of=date(2026, 11, 20),
        firings=firings,
        account_url="https://telltales.vendor.example/accounts/ferrum",
        manager="priya.nair@vendor.example",
    )


@pytest.fixture
def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: refused, until a test server takes it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
