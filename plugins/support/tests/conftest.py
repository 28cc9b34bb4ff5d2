"""The support plugin registered alone on a fresh database, with three accounts."""

from __future__ import annotations

import pytest
import telltales_support
from telltales.testing import PluginHarness


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_support, name="support")
    telltales_env.add_accounts({"a1": "Alpha", "a2": "Beta", "a3": "Gamma"})
    return telltales_env
