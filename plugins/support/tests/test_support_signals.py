"""The support source: each signal hand-computed, as of a day, under settings."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from telltales.errors import ConfigError
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)
# With the defaults the window is 2026-10-22..2026-11-20, the baseline 2026-04-25..2026-10-21
# and closed tickets count from 2026-08-23.
EXAMPLES = Path(__file__).parents[3] / "examples" / "data"
KEYS = {
    "support.high_priority_30d",
    "support.ticket_spike",
    "support.open_high_priority",
    "support.median_resolution_days_90d",
}


def ticket(
    ticket_id: str, account_id: str, priority: str, opened: str, closed: str | None = None
) -> dict[str, Any]:
    record = {
        "ticket_id": ticket_id,
        "account_id": account_id,
        "priority": priority,
        "opened_at": opened,
    }
    if closed is not None:
        record["closed_at"] = closed
    return record


def test_high_priority_tickets_opened_in_the_window(env: PluginHarness) -> None:
    env.ingest(
        "support.tickets",
        [
            ticket("in-1", "a1", "high", "2026-10-22T00:00:00Z"),  # first moment of the window
            ticket("in-2", "a1", "urgent", "2026-11-20T23:59:59"),  # last moment (naive = UTC)
            ticket("in-3", "a1", "high", "2026-11-05T10:00:00Z", "2026-11-06T10:00:00Z"),
            # 07:00 at +08:00 on 2026-10-22 is 2026-10-21 in UTC: before the window.
            ticket("out-1", "a1", "high", "2026-10-22T07:00:00+08:00"),
            ticket("out-2", "a1", "normal", "2026-11-01T10:00:00Z"),  # not high-priority
            ticket("out-3", "a1", "urgent", "2026-11-21T00:00:00Z"),  # after the run day
        ],
    )
    assert env.run(DAY).status == "ok"
    # 2 high (in-1, in-3) + 1 urgent (in-2) = 3
    assert env.observed("a1", "support.high_priority_30d", DAY) == (
        3,
        "3 high-priority tickets opened in the 30 days to 2026-11-20 (2 high, 1 urgent)",
    )
    assert env.signal("a1", "support.high_priority_30d", DAY).dimension == "current_state"


def test_no_high_priority_ticket_is_a_true_zero_once_the_account_has_tickets(
    env: PluginHarness,
) -> None:
    env.ingest(
        "support.tickets",
        [
            ticket("t1", "a1", "low", "2026-03-01T09:00:00Z", "2026-03-02T09:00:00Z"),
            ticket("t2", "a1", "normal", "2026-11-10T09:00:00Z"),
            ticket("t3", "a2", "urgent", "2026-11-21T09:00:00Z"),  # a2's only ticket is future
        ],
    )
    env.run(DAY)
    assert env.observed("a1", "support.high_priority_30d", DAY) == (
        0,
        "0 high-priority tickets opened in the 30 days to 2026-11-20 "
        "(2 tickets on record since 2026-03-01)",
    )
    assert env.observed("a1", "support.open_high_priority", DAY) == (
        0,
        "0 high-priority tickets open on 2026-11-20 (2 tickets on record since 2026-03-01)",
    )
    # No ticket on or before the run day: nothing is known, so nothing is said.
    assert env.signals("a2", DAY, source="support") == {}
    assert env.signals("a3", DAY, source="support") == {}


def test_ticket_spike_against_the_accounts_own_baseline(env: PluginHarness) -> None:
    baseline_days = [
        "2026-04-25",  # first day of the baseline
        "2026-05-20",
        "2026-06-11",
        "2026-07-01",
        "2026-07-30",
        "2026-08-19",
        "2026-09-09",
        "2026-09-30",
        "2026-10-21",  # last day of the baseline
    ]
    window_days = [f"2026-{d}" for d in ("10-22", "10-25", "11-01", "11-04", "11-08")]
    window_days += [f"2026-{d}" for d in ("11-11", "11-15", "11-18", "11-20")]
    env.ingest(
        "support.tickets",
        [ticket("old", "a1", "low", "2026-04-24T12:00:00Z")]  # before the baseline
        + [ticket(f"b{n}", "a1", "normal", f"{d}T12:00:00Z") for n, d in enumerate(baseline_days)]
        + [ticket(f"w{n}", "a1", "high", f"{d}T12:00:00Z") for n, d in enumerate(window_days)],
    )
    env.run(DAY)
    # baseline: 9 tickets / (180 / 30) windows = 1.5 per 30 days; 9 in the window / 1.5 = 6.0
    assert env.observed("a1", "support.ticket_spike", DAY) == (
        6.0,
        "9 tickets in the 30 days to 2026-11-20 against a baseline of 1.5 per 30 days "
        "over the 180 days before (6.0x)",
    )


def test_ticket_spike_floors_a_thin_baseline(env: PluginHarness, tmp_path: Path) -> None:
    # Two accounts' tickets only: the feed's last day is weeks before DAY, past support's
    # freshness limit, which this test of the baseline's floor turns off.
    config = tmp_path / "telltales.toml"
    config.write_text("[freshness]\nsupport = 0\n")
    env.configure(config)
    env.ingest(
        "support.tickets",
        [
            ticket("b1", "a1", "low", "2026-06-01T12:00:00Z"),
            ticket("w1", "a1", "low", "2026-11-01T12:00:00Z"),
            ticket("w2", "a1", "normal", "2026-11-02T12:00:00Z"),
            ticket("w3", "a1", "urgent", "2026-11-03T12:00:00Z"),
            ticket("w4", "a2", "low", "2026-11-03T12:00:00Z"),
            ticket("w5", "a2", "low", "2026-11-04T12:00:00Z"),
        ],
    )
    env.run(DAY)
    # a1: 1 baseline ticket / 6 windows = 0.1667 < 1.0, floored to 1.0; 3 / 1.0 = 3.0
    assert env.observed("a1", "support.ticket_spike", DAY) == (
        3.0,
        "3 tickets in the 30 days to 2026-11-20 against the minimum baseline of 1.0 per "
        "30 days, as the 180 days before had only 1 ticket, 0.17 per 30 days (3.0x)",
    )
    # a2: no baseline ticket at all, floored to 1.0; 2 / 1.0 = 2.0
    assert env.observed("a2", "support.ticket_spike", DAY) == (
        2.0,
        "2 tickets in the 30 days to 2026-11-20 against the minimum baseline of 1.0 per "
        "30 days, as the 180 days before had none (2.0x)",
    )


def test_open_high_priority_tickets_and_the_age_of_the_oldest(env: PluginHarness) -> None:
    env.ingest(
        "support.tickets",
        [
            # Closed after the run day: still open on it.
            ticket("o1", "a1", "high", "2026-10-01T08:00:00Z", "2026-11-21T00:00:00Z"),
            ticket("o2", "a1", "urgent", "2026-11-10T08:00:00Z"),
            # Closed on the run day itself: not open at its end.
            ticket("c1", "a1", "high", "2026-09-15T08:00:00Z", "2026-11-20T23:00:00Z"),
            ticket("n1", "a1", "normal", "2026-08-01T08:00:00Z"),  # open, but not high
            ticket("f1", "a1", "urgent", "2026-11-21T08:00:00Z"),  # opened after the run day
        ],
    )
    env.run(DAY)
    # o1 + o2 = 2; oldest o1 opened 2026-10-01: 30 days left in October + 20 = 50 days
    assert env.observed("a1", "support.open_high_priority", DAY) == (
        2,
        "2 high-priority tickets open on 2026-11-20 "
        "(1 high, 1 urgent; the oldest, opened 2026-10-01, is 50 days old)",
    )


def test_median_resolution_of_tickets_closed_in_the_last_90_days(env: PluginHarness) -> None:
    env.ingest(
        "support.tickets",
        [
            ticket("r1", "a1", "low", "2026-08-22T00:00:00Z", "2026-08-23T00:00:00Z"),  # 1 day
            ticket("r2", "a1", "high", "2026-09-01T00:00:00Z", "2026-09-03T12:00:00Z"),  # 2.5
            ticket("r3", "a1", "normal", "2026-10-01T06:00:00Z", "2026-10-04T18:00:00Z"),  # 3.5
            ticket("r4", "a1", "urgent", "2026-11-11T00:00:00Z", "2026-11-20T00:00:00Z"),  # 9
            # Closed the day before the 90 days began: out.
            ticket("x1", "a1", "low", "2026-08-01T00:00:00Z", "2026-08-22T23:59:59Z"),
            # Closes after the run day: still open on it, out.
            ticket("x2", "a1", "low", "2026-11-19T00:00:00Z", "2026-11-21T01:00:00Z"),
            ticket("y1", "a2", "low", "2026-11-01T00:00:00Z"),  # a2 has closed nothing
        ],
    )
    env.run(DAY)
    # sorted 1, 2.5, 3.5, 9 -> (2.5 + 3.5) / 2 = 3.0
    assert env.observed("a1", "support.median_resolution_days_90d", DAY) == (
        3.0,
        "Median 3.0 days from open to close over 4 tickets closed in the 90 days to "
        "2026-11-20 (fastest 1.0, slowest 9.0 days)",
    )
    assert "support.median_resolution_days_90d" not in env.signals("a2", DAY)


def test_a_run_as_of_an_earlier_day_never_sees_later_records(env: PluginHarness) -> None:
    env.ingest(
        "support.tickets",
        [
            ticket("t1", "a1", "high", "2026-11-10T09:00:00Z", "2026-11-15T09:00:00Z"),
            ticket("t2", "a1", "urgent", "2026-11-13T09:00:00Z"),
        ],
    )
    early = date(2026, 11, 12)
    assert env.run(early).status == "ok"
    signals = env.signals("a1", early, source="support")
    # t2 is not yet opened and t1 not yet closed on 2026-11-12.
    assert signals["support.high_priority_30d"].value == 1
    assert signals["support.open_high_priority"].evidence == (
        "1 high-priority ticket open on 2026-11-12 "
        "(1 high, 0 urgent; the oldest, opened 2026-11-10, is 2 days old)"
    )
    assert "support.median_resolution_days_90d" not in signals
    assert env.run(date(2026, 11, 9)).status == "ok"
    assert env.signals("a1", date(2026, 11, 9), source="support") == {}

    env.run(DAY)
    later = env.signals("a1", DAY, source="support")
    assert later["support.high_priority_30d"].value == 2
    assert later["support.open_high_priority"].value == 1
    assert later["support.median_resolution_days_90d"].value == 5.0


def test_settings_change_the_windows_and_thresholds(env: PluginHarness) -> None:
    env.ingest(
        "support.tickets",
        [
            ticket("b1", "a1", "normal", "2026-10-25T09:00:00Z", "2026-10-26T09:00:00Z"),
            ticket("w1", "a1", "high", "2026-11-15T09:00:00Z"),
            ticket("w2", "a1", "urgent", "2026-11-18T09:00:00Z", "2026-11-19T21:00:00Z"),
            ticket("w3", "a1", "urgent", "2026-11-19T09:00:00Z"),
        ],
    )
    env.configure_toml(
        "[plugins.support]\n"
        "window_days = 7\n"
        "baseline_days = 28\n"
        'high_priorities = ["urgent"]\n'
        "min_baseline = 0.1\n"
        "resolution_window_days = 7\n"
    )
    env.run(DAY)
    # window 2026-11-14..20: urgent w2 + w3 = 2 (w1 is high, no longer counted)
    assert env.observed("a1", "support.high_priority_30d", DAY) == (
        2,
        "2 high-priority tickets opened in the 7 days to 2026-11-20 (2 urgent)",
    )
    # baseline 2026-10-17..11-13: b1 = 1 / (28 / 7) = 0.25 per 7 days (above the 0.1 floor);
    # 3 in the window / 0.25 = 12.0
    assert env.observed("a1", "support.ticket_spike", DAY) == (
        12.0,
        "3 tickets in the 7 days to 2026-11-20 against a baseline of 0.25 per 7 days "
        "over the 28 days before (12.0x)",
    )
    # open urgent: w3 only, opened 2026-11-19, 1 day old
    assert env.observed("a1", "support.open_high_priority", DAY) == (
        1,
        "1 high-priority ticket open on 2026-11-20 "
        "(1 urgent; the oldest, opened 2026-11-19, is 1 day old)",
    )
    # closed since 2026-11-14: w2 only, 1.5 days (b1 closed before the 7 days)
    assert env.observed("a1", "support.median_resolution_days_90d", DAY) == (
        1.5,
        "Median 1.5 days from open to close over 1 ticket closed in the 7 days to 2026-11-20",
    )


def test_a_zero_baseline_floor_is_refused(env: PluginHarness) -> None:
    env.configure_toml("[plugins.support]\nmin_baseline = 0\n")
    with pytest.raises(ConfigError, match=r"plugins\.support\.min_baseline"):
        env.run(DAY)


def test_reingesting_and_rerunning_changes_no_signal(env: PluginHarness) -> None:
    records = [
        ticket("t1", "a1", "high", "2026-11-01T09:00:00Z", "2026-11-02T09:00:00Z"),
        ticket("t2", "a1", "urgent", "2026-11-10T09:00:00Z"),
        ticket("t3", "a2", "low", "2026-07-10T09:00:00Z"),
    ]
    env.ingest("support.tickets", records)
    env.run(DAY)
    before = {a: env.signals(a, DAY, source="support") for a in ("a1", "a2")}
    env.ingest("support.tickets", records)
    env.run(DAY)
    assert {a: env.signals(a, DAY, source="support") for a in ("a1", "a2")} == before
    (count,) = env.store.db.execute("SELECT count(*) FROM support_tickets").fetchone()
    assert count == 3


def test_a_ticket_resent_when_it_closes_is_counted_once(env: PluginHarness) -> None:
    opened = ticket("t1", "a1", "urgent", "2026-11-10T09:00:00Z")
    env.ingest("support.tickets", [opened])
    env.ingest("support.tickets", [{**opened, "closed_at": "2026-11-12T21:00:00Z"}])
    env.run(DAY)
    signals = env.signals("a1", DAY)
    assert signals["support.high_priority_30d"].value == 1
    assert signals["support.open_high_priority"].value == 0
    assert signals["support.median_resolution_days_90d"].value == 2.5


def test_the_example_data_passes_the_engine(env: PluginHarness) -> None:
    env.add_accounts(json.loads((EXAMPLES / "accounts.json").read_text()))
    env.ingest("support.tickets", json.loads((EXAMPLES / "support.tickets.json").read_text()))
    result = env.run(DAY)
    assert result.status == "ok"
    assert result.failures == ()
    ferrum = env.signals("ferrum", DAY, source="support")
    assert set(ferrum) == KEYS
    assert {s.dimension for s in ferrum.values()} == {"current_state"}
    assert ferrum["support.high_priority_30d"].evidence == (
        "6 high-priority tickets opened in the 30 days to 2026-11-20 (4 high, 2 urgent)"
    )
    # 9 baseline tickets / 6 windows = 1.5; 9 in the window / 1.5 = 6.0
    assert ferrum["support.ticket_spike"].value == 6.0
    assert ferrum["support.open_high_priority"].value == 4
    assert env.signal("bluepeak", "support.ticket_spike", DAY).value == 1.0
