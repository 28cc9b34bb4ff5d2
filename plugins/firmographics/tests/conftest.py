"""Fixtures for the firmographics tests: only this plugin registered, two accounts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import telltales_firmographics
from telltales.testing import PluginHarness


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_firmographics, name="firmographics")
    telltales_env.add_accounts({"a1": "Alpha", "a2": "Beta"})
    return telltales_env


@pytest.fixture
def snapshot() -> Callable[..., dict[str, Any]]:
    """A valid snapshot record of a 1,800-person logistics firm in EMEA; override any field."""

    def make(**fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {
            "account_id": "a1",
            "as_of": "2026-11-02",
            "employee_count": 1800,
            "industry": "logistics",
            "region": "EMEA",
            "products": ["core", "reporting"],
        }
        record.update(fields)
        return record

    return make
