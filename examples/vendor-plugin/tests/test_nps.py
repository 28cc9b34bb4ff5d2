"""The plugin's own tests, using the fixtures telltales.testing provides."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import telltales_acme_nps
from telltales import Signal, SignalBatch
from telltales.errors import InputError
from telltales.testing import ApiClient, PluginHarness
from telltales_acme_nps.nps import NpsSource

DAY = date(2026, 11, 20)


# [docs:fixture]
@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_acme_nps, name="acme_nps")
    telltales_env.add_accounts({"a1": "Alpha", "a2": "Beta"})
    return telltales_env
    # [/docs:fixture]


def responses(account_id: str, scores: list[int], day: str = "2026-11-01") -> list[dict[str, Any]]:
    return [
        {"response_id": f"{account_id}-{n}", "account_id": account_id, "score": s, "day": day}
        for n, s in enumerate(scores)
    ]


# [docs:test]
def test_nps_is_promoters_minus_detractors(env: PluginHarness) -> None:
    # a1: 10, 9, 9 promoters; 8 passive; 3 detractor -> (3 - 1) / 5 = +40
    env.ingest("acme_nps.responses", responses("a1", [10, 9, 9, 8, 3]))
    result = env.run(DAY)
    assert result.status == "ok"
    assert env.observed("a1", "acme_nps.nps", DAY) == (
        40,
        "NPS +40 from 5 responses in the 90 days to 2026-11-20: 3 promoters, 1 detractors",
    )
    assert env.signal("a1", "acme_nps.nps", DAY).dimension == "interest"
    # [/docs:test]


def test_too_few_responses_give_no_signal(env: PluginHarness) -> None:
    env.ingest("acme_nps.responses", responses("a2", [10, 10]))
    env.run(DAY)
    assert "acme_nps.nps" not in env.signals("a2", DAY)


def test_responses_outside_the_window_are_ignored(env: PluginHarness) -> None:
    env.ingest("acme_nps.responses", responses("a1", [0, 0, 0], day="2026-01-01"))
    env.ingest("acme_nps.responses", responses("a2", [10, 10, 10]))
    env.run(DAY)
    assert "acme_nps.nps" not in env.signals("a1", DAY)
    assert env.signal("a2", "acme_nps.nps", DAY).value == 100


# [docs:settings-test]
def test_the_window_is_a_setting(env: PluginHarness) -> None:
    env.ingest("acme_nps.responses", responses("a1", [0, 0, 0], day="2026-01-01"))
    env.configure_toml("[plugins.acme_nps]\nwindow_days = 365\n")
    env.run(DAY)
    # 2026-01-01 is 323 days before 2026-11-20: inside 365 days, outside the default 90.
    assert env.observed("a1", "acme_nps.nps", DAY) == (
        -100,
        "NPS -100 from 3 responses in the 365 days to 2026-11-20: 0 promoters, 3 detractors",
    )
    assert env.signals("a2", DAY, source="acme_nps") == {}
    # [/docs:settings-test]


def test_reingesting_an_export_changes_nothing(env: PluginHarness) -> None:
    batch = responses("a1", [10, 9, 2])
    env.ingest("acme_nps.responses", batch)
    env.ingest("acme_nps.responses", batch)
    (count,) = env.store.db.execute("SELECT count(*) FROM acme_nps_responses").fetchone()
    assert count == 3


def test_a_score_out_of_range_is_refused_with_its_field(env: PluginHarness) -> None:
    with pytest.raises(InputError, match="field 'score'"):
        env.ingest("acme_nps.responses", responses("a1", [11]))


# [docs:api-test]
def test_answers_sent_over_the_api_give_the_signal(
    env: PluginHarness, telltales_api: ApiClient
) -> None:
    ingest = telltales_api.headers(telltales_api.key("ingest"))
    sent = telltales_api.client.post(
        "/v1/ingest/acme_nps.responses",
        json={"records": responses("a1", [10, 10, 9, 3])},
        headers=ingest,
    )
    assert sent.status_code == 200
    assert sent.json()["stored"] == 4
    env.run(DAY)
    read = telltales_api.headers(telltales_api.key("read"))
    answer = telltales_api.client.get("/v1/accounts/a1/signals", headers=read).json()
    assert [(s["key"], s["value"]) for s in answer["signals"]] == [("acme_nps.nps", 50)]
    # [/docs:api-test]


# [docs:ingest-errors]
def test_ingest_refuses_a_whole_batch_and_says_where(env: PluginHarness) -> None:
    with pytest.raises(InputError, match=r"^record 2, field 'score': expected `int` <= 10$"):
        env.ingest("acme_nps.responses", responses("a1", [9, 11]))
    with pytest.raises(InputError, match=r"^record 1, field 'account_id': unknown account 'zz'"):
        env.ingest("acme_nps.responses", responses("zz", [9]))
    with pytest.raises(InputError, match=r"^no ingester named 'acme_nps.answers'"):
        env.ingest("acme_nps.answers", responses("a1", [9]))
    # Nothing of a refused batch is stored, not even its valid first record.
    assert env.store.db.execute("SELECT count(*) FROM acme_nps_responses").fetchone() == (0,)
    # [/docs:ingest-errors]


# [docs:degraded]
def test_a_failing_source_degrades_the_run_and_says_why(
    env: PluginHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def export_not_ready(self: NpsSource, batch: SignalBatch) -> list[Signal]:
        raise TimeoutError("the survey export is not ready")

    monkeypatch.setattr(NpsSource, "compute", export_not_ready)
    result = env.run(DAY)  # a failing source does not raise: the run is degraded
    assert result.status == "degraded"
    [failure] = result.failures
    assert failure.plugin == "acme_nps"
    assert failure.component == "source:acme_nps"
    assert failure.error == "TimeoutError: the survey export is not ready"
    # [/docs:degraded]
