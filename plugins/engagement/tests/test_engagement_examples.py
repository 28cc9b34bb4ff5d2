"""The example files the demo loads tell the stories they are meant to tell."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import telltales_engagement
from telltales.testing import PluginHarness

DATA = Path(__file__).resolve().parents[3] / "examples" / "data"
DAY = date(2026, 11, 20)


def test_example_data_loads_and_reads_as_intended(telltales_env: PluginHarness) -> None:
    env = telltales_env
    env.register(telltales_engagement, name="engagement")
    env.add_accounts(json.loads((DATA / "accounts.json").read_text()))
    for name in ("engagement.activities", "engagement.outcomes"):
        env.ingest(name, json.loads((DATA / f"{name}.json").read_text()))
    assert env.run(DAY).status == "ok"
    values = {
        account: {k: s.value for k, s in env.signals(account, DAY).items()}
        for account in ("solstice", "ferrum", "tidewater", "quillworks")
    }
    solstice, ferrum = values["solstice"], values["ferrum"]
    assert solstice["engagement.roi_verified_share"] == 1
    assert solstice["engagement.cadence_ratio"] > 1
    assert solstice["engagement.value_review_overdue"] == 0
    # Ferrum: last call on 2026-09-03, 78 days before; 1 of 5 due outcomes verified.
    assert ferrum["engagement.days_since_last_touch"] == 78
    assert ferrum["engagement.roi_verified_share"] == 0.2
    assert ferrum["engagement.value_review_overdue"] == 1
    # Tidewater (smb, every 60 days): one touch in 90 days against 1.5 expected.
    assert values["tidewater"]["engagement.cadence_ratio"] == 0.6667
    # Quillworks is onboarding: three outcomes agreed, none due yet.
    assert values["quillworks"]["engagement.outcomes_planned"] == 3
    assert "engagement.roi_verified_share" not in values["quillworks"]
