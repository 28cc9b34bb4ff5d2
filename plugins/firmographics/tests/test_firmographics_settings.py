"""``[plugins.firmographics]``: the ICP thresholds change results; bad values are refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from telltales.errors import ConfigError
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)
SnapshotFactory = Callable[..., dict[str, Any]]


def test_the_size_range_is_a_setting(env: PluginHarness, snapshot: SnapshotFactory) -> None:
    env.ingest("firmographics.snapshots", [snapshot()])
    env.configure_toml("[plugins.firmographics]\nmin_employees = 2000\nmax_employees = 50000\n")
    assert env.run(DAY).status == "ok"
    # 1,800 is below the new minimum of 2,000: 0 of 1
    assert env.observed("a1", "firmographics.icp_fit", DAY) == (
        0.0,
        "snapshot of 2026-11-02 fits 0 of 1 ICP criterion (0%): "
        "1,800 employees outside 2,000..50,000",
    )


def test_a_minimum_above_the_maximum_is_refused(env: PluginHarness) -> None:
    env.configure_toml("[plugins.firmographics]\nmin_employees = 300\nmax_employees = 100\n")
    with pytest.raises(
        ConfigError,
        match=r"plugins\.firmographics: min_employees \(300\) must not exceed "
        r"max_employees \(100\)",
    ):
        env.run(DAY)


def test_a_weight_must_be_positive(env: PluginHarness) -> None:
    env.configure_toml("[plugins.firmographics.weights]\nindustry = 0\n")
    with pytest.raises(ConfigError, match=r"plugins\.firmographics\.weights\.industry: .*> 0"):
        env.run(DAY)


def test_a_misspelt_setting_is_refused(env: PluginHarness) -> None:
    env.configure_toml('[plugins.firmographics]\nindustry = ["retail"]\n')
    with pytest.raises(ConfigError, match=r"plugins\.firmographics.*unknown field `industry`"):
        env.run(DAY)
