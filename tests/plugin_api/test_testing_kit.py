"""The helpers of ``telltales.testing`` that plugin tests check signals with.

``PluginHarness``: accounts by id and name, a configuration given as TOML text, one
source's signals, one signal (or its value and evidence) that fails naming what the
account has. The plugin is ``support/every_hook.py``: one signal a day per account,
``every_hook.note_count``.
"""

from __future__ import annotations

from datetime import date

import pytest
import support.every_hook as every_hook
from telltales.errors import ConfigError
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)
NOTE_COUNT = "every_hook.note_count"


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(every_hook, name="every_hook")
    return telltales_env


def notes(account_id: str, count: int) -> list[dict[str, str]]:
    return [
        {"note_id": f"{account_id}-{n}", "account_id": account_id, "day": "2026-11-01"}
        for n in range(count)
    ]


def test_accounts_given_by_id_and_name(env: PluginHarness) -> None:
    env.add_accounts({"a1": "Alpha", "a2": "Beta"})
    rows = env.store.db.execute("SELECT account_id, name FROM accounts ORDER BY 1").fetchall()
    assert rows == [("a1", "Alpha"), ("a2", "Beta")]


def test_configure_toml_writes_the_file_beside_the_database_and_uses_it(
    env: PluginHarness,
) -> None:
    text = "[engine]\nsource_time_limit_seconds = 7\n"
    path = env.configure_toml(text)
    assert path == env.path.with_name("telltales.toml")
    assert path.read_text() == text
    assert (env.config_path, env.config.source, env.config.text) == (path, str(path), text)
    # A second call replaces the file and the configuration.
    assert env.configure_toml("") == path
    assert (path.read_text(), env.config.text) == ("", "")


def test_configure_toml_refuses_text_that_is_not_toml(env: PluginHarness) -> None:
    with pytest.raises(ConfigError, match="telltales.toml"):
        env.configure_toml("[engine\n")


def test_signals_of_one_source_leave_out_the_cores(env: PluginHarness) -> None:
    # Purchased and assigned seats give the core's account.seat_deployment signal too.
    env.add_accounts(
        [{"account_id": "a1", "name": "Alpha", "seats_purchased": 10, "seats_assigned": 5}]
    )
    env.ingest("every_hook.notes", notes("a1", 2))
    env.run(DAY)
    assert set(env.signals("a1", DAY)) == {"account.seat_deployment", NOTE_COUNT}
    assert set(env.signals("a1", DAY, source="every_hook")) == {NOTE_COUNT}
    assert set(env.signals("a1", DAY, source="account")) == {"account.seat_deployment"}
    assert env.signals("a1", DAY, source="nobody") == {}


def test_signal_and_observed_read_one_signal(env: PluginHarness) -> None:
    env.add_accounts({"a1": "Alpha"})
    env.ingest("every_hook.notes", notes("a1", 3))
    env.run(DAY)
    signal = env.signal("a1", NOTE_COUNT, DAY)
    assert (signal.account_id, signal.key, signal.value) == ("a1", NOTE_COUNT, 3)
    assert (signal.dimension, signal.as_of, signal.source) == ("engagement", DAY, "every_hook")
    assert env.observed("a1", NOTE_COUNT, DAY) == (3, "3 CSM notes up to 2026-11-20")


def test_a_missing_signal_fails_listing_what_the_account_has(env: PluginHarness) -> None:
    env.add_accounts(
        [{"account_id": "a1", "name": "Alpha", "seats_purchased": 4, "seats_assigned": 2}]
    )
    env.ingest("every_hook.notes", notes("a1", 2))
    env.run(DAY)
    expected = (
        "no signal every_hook.note_cuont for account 'a1' on 2026-11-20; it has 2: "
        "account.seat_deployment = 0.5, every_hook.note_count = 2"
    )
    with pytest.raises(AssertionError) as failed:
        env.signal("a1", "every_hook.note_cuont", DAY)
    assert str(failed.value) == expected
    with pytest.raises(AssertionError) as failed:
        env.observed("a1", "every_hook.note_cuont", DAY)
    assert str(failed.value) == expected


def test_a_day_without_signals_says_so(env: PluginHarness) -> None:
    env.add_accounts({"a1": "Alpha"})
    env.run(DAY)
    with pytest.raises(AssertionError) as failed:
        env.signal("a1", NOTE_COUNT, date(2026, 11, 19))
    assert str(failed.value) == (
        "no signal every_hook.note_count for account 'a1' on 2026-11-19; "
        "it has none (was the day run, and does the account exist?)"
    )
