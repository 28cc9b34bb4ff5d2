"""Fixtures for the firmographics tests: only this plugin registered, two accounts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import telltales_firmographics
from telltales.testing import PluginHarness


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_firmographics, name="firmographics")
    telltales_env.add_accounts(
        [{"account_id": "a1", "name": "Alpha"}, {"account_id": "a2", "name": "Beta"}]
    )
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


@pytest.fixture
def configure(env: PluginHarness, tmp_path: Path) -> Callable[[str], None]:
    """Use the given TOML text as telltales.toml for the test's runs."""

    def write(text: str) -> None:
        path = tmp_path / "telltales.toml"
        path.write_text(text)
        env.configure(path)

    return write
