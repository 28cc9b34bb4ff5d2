"""Engagement signals from CSM activities: last touch, cadence, value and business reviews."""

from __future__ import annotations

from datetime import date

import pytest
import telltales_engagement
from telltales.errors import ConfigError
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)

ACTIVITIES: list[tuple[str, str, str, str]] = [
    # mid-market: reviews long ago, a call just outside the 90-day window, an email
    # (not a touch by default) and a call in the future of the run day.
    ("m1", "mid", "2026-06-01", "value_review"),
    ("m2", "mid", "2026-07-01", "business_review"),
    ("m3", "mid", "2026-08-22", "call"),
    ("m4", "mid", "2026-09-01", "meeting"),
    ("m5", "mid", "2026-10-10", "call"),
    ("m6", "mid", "2026-11-01", "email"),
    ("m7", "mid", "2026-12-01", "call"),
    # Enterprise (capitalised in the CRM): two touches on the same day.
    ("e1", "ent", "2026-09-10", "email"),
    ("e2", "ent", "2026-10-01", "onsite"),
    ("e3", "ent", "2026-11-18", "call"),
    ("e4", "ent", "2026-11-18", "value_review"),
    # No segment: one call long ago.
    ("n1", "nos", "2026-03-01", "call"),
    # Only emails: activity, but no touch.
    ("x1", "mail", "2026-11-19", "email"),
]


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_engagement, name="engagement")
    telltales_env.add_accounts(
        [
            {"account_id": "mid", "name": "Mid", "segment": "mid-market"},
            {"account_id": "ent", "name": "Ent", "segment": "Enterprise"},
            {"account_id": "nos", "name": "No segment"},
            {"account_id": "mail", "name": "Mail only", "segment": "smb"},
            {"account_id": "quiet", "name": "Quiet", "segment": "smb"},
        ]
    )
    telltales_env.ingest(
        "engagement.activities",
        [{"activity_id": i, "account_id": a, "day": d, "kind": k} for i, a, d, k in ACTIVITIES],
    )
    return telltales_env


def test_mid_market_account_with_defaults(env: PluginHarness) -> None:
    assert env.run(DAY).status == "ok"
    s = env.signals("mid", DAY, source="engagement")
    assert set(s) == {
        "engagement.days_since_last_touch",
        "engagement.cadence_ratio",
        "engagement.days_since_value_review",
        "engagement.value_review_overdue",
        "engagement.business_review_overdue",
    }
    # Latest touch: the call on 2026-10-10 (the email on 2026-11-01 is no touch,
    # the call on 2026-12-01 is in the future): 2026-11-20 - 2026-10-10 = 41 days.
    assert env.observed("mid", "engagement.days_since_last_touch", DAY) == (
        41,
        "last touch 41 days ago (call on 2026-10-10); mid-market cadence is every 30 days",
    )
    assert env.signal("mid", "engagement.days_since_last_touch", DAY).dimension == "engagement"
    # Window 2026-08-23..2026-11-20 holds the meeting of 09-01 and the call of 10-10
    # (the call of 08-22 is 90 days back, one day outside): 2 / (90 / 30) = 0.6667.
    assert env.observed("mid", "engagement.cadence_ratio", DAY) == (
        0.6667,
        "2 touches in the 90 days to 2026-11-20 against 3 expected at the mid-market "
        "cadence of every 30 days (0.67)",
    )
    # The business review of 2026-07-01 includes a value review: 142 days ago.
    assert env.observed("mid", "engagement.days_since_value_review", DAY) == (
        142,
        "last value review 142 days ago (business review on 2026-07-01); "
        "one is expected every 90 days",
    )
    # 142 > 90: overdue.
    assert env.observed("mid", "engagement.value_review_overdue", DAY) == (
        1,
        "last value review 142 days ago (business review on 2026-07-01), "
        "more than the 90 days allowed between value reviews",
    )
    # 142 <= 180: not overdue.
    assert env.observed("mid", "engagement.business_review_overdue", DAY) == (
        0,
        "last business review 142 days ago (business review on 2026-07-01), "
        "within the 180 days allowed between business reviews",
    )


def test_enterprise_account_touched_twice_on_one_day(env: PluginHarness) -> None:
    env.run(DAY)
    # Segment matched ignoring case; both kinds of the latest day are named.
    assert env.observed("ent", "engagement.days_since_last_touch", DAY) == (
        2,
        "last touch 2 days ago (call and value review on 2026-11-18); "
        "Enterprise cadence is every 14 days",
    )
    # Touches: onsite 10-01, call and value review 11-18 = 3 (the email is none);
    # expected 90 / 14 = 6.43; 3 / 6.43 = 3 * 14 / 90 = 0.4667.
    assert env.observed("ent", "engagement.cadence_ratio", DAY) == (
        0.4667,
        "3 touches in the 90 days to 2026-11-20 against 6.43 expected at the Enterprise "
        "cadence of every 14 days (0.47)",
    )
    assert env.signal("ent", "engagement.days_since_value_review", DAY).value == 2
    assert env.signal("ent", "engagement.value_review_overdue", DAY).value == 0
    # Never a business review, but the first activity (2026-09-10) was 71 days ago,
    # within the 180 days: not overdue yet.
    assert env.observed("ent", "engagement.business_review_overdue", DAY) == (
        0,
        "no business review on record up to 2026-11-20; activities began 71 days ago "
        "(on 2026-09-10), within the 180 days allowed before the first one",
    )


def test_account_without_segment_uses_the_default_cadence(env: PluginHarness) -> None:
    env.run(DAY)
    s = env.signals("nos", DAY, source="engagement")
    # 2026-11-20 - 2026-03-01 = 264 days.
    assert env.observed("nos", "engagement.days_since_last_touch", DAY) == (
        264,
        "last touch 264 days ago (call on 2026-03-01); default cadence is every 30 days",
    )
    # No touch in the window: 0 / 3 = 0, a true observation for an account with activity.
    assert env.observed("nos", "engagement.cadence_ratio", DAY) == (
        0,
        "0 touches in the 90 days to 2026-11-20 against 3 expected at the default "
        "cadence of every 30 days (0.00)",
    )
    # Never a value review: no days-since signal, but overdue (264 > 90 days of activity).
    assert "engagement.days_since_value_review" not in s
    assert env.observed("nos", "engagement.value_review_overdue", DAY) == (
        1,
        "no value review on record up to 2026-11-20; activities began 264 days ago "
        "(on 2026-03-01), more than the 90 days allowed before the first one",
    )
    assert env.signal("nos", "engagement.business_review_overdue", DAY).value == 1


def test_emails_alone_are_activity_but_no_touch(env: PluginHarness) -> None:
    env.run(DAY)
    s = env.signals("mail", DAY, source="engagement")
    assert "engagement.days_since_last_touch" not in s
    # smb: 0 / (90 / 60) = 0.
    assert env.observed("mail", "engagement.cadence_ratio", DAY) == (
        0,
        "0 touches in the 90 days to 2026-11-20 against 1.5 expected at the smb "
        "cadence of every 60 days (0.00)",
    )
    assert env.signal("mail", "engagement.value_review_overdue", DAY).evidence == (
        "no value review on record up to 2026-11-20; activities began 1 day ago "
        "(on 2026-11-19), within the 90 days allowed before the first one"
    )


def test_an_account_without_activities_gets_no_signal(env: PluginHarness) -> None:
    env.run(DAY)
    assert env.signals("quiet", DAY, source="engagement") == {}


def test_activities_after_the_run_day_are_not_seen(env: PluginHarness) -> None:
    day = date(2026, 10, 9)
    env.run(day)
    # Not the call of 10-10 nor the one of 12-01: the meeting of 09-01, 38 days before.
    assert env.signal("mid", "engagement.days_since_last_touch", day).value == 38
    # Window 2026-07-12..2026-10-09: call 08-22 and meeting 09-01 = 2 -> 2 / 3 = 0.6667.
    assert env.signal("mid", "engagement.cadence_ratio", day).value == 0.6667
    # Before its first activity (2026-06-01) the account has no engagement signal.
    early = date(2026, 5, 31)
    env.run(early)
    assert env.signals("mid", early, source="engagement") == {}


def test_a_review_exactly_the_allowed_days_ago_is_not_overdue(env: PluginHarness) -> None:
    # The business review of 2026-07-01 is 180 days back on 2026-12-28, 181 on 12-29.
    env.run(date(2026, 12, 28))
    env.run(date(2026, 12, 29))
    assert env.signal("mid", "engagement.business_review_overdue", date(2026, 12, 28)).value == 0
    assert env.signal("mid", "engagement.business_review_overdue", date(2026, 12, 29)).value == 1


def test_settings_change_cadence_touch_kinds_and_review_intervals(env: PluginHarness) -> None:
    env.configure_toml(
        """
[plugins.engagement]
cadence_days = { "mid-market" = 15 }
default_cadence_days = 45
touch_kinds = ["call", "meeting", "email"]
value_review_every_days = 150
business_review_every_days = 120
""",
    )
    assert env.run(DAY).status == "ok"
    # The email of 11-01 now counts: 19 days ago.
    assert env.observed("mid", "engagement.days_since_last_touch", DAY) == (
        19,
        "last touch 19 days ago (email on 2026-11-01); mid-market cadence is every 15 days",
    )
    # Meeting 09-01, call 10-10, email 11-01 = 3; expected 90 / 15 = 6; 3 / 6 = 0.5.
    assert env.observed("mid", "engagement.cadence_ratio", DAY) == (
        0.5,
        "3 touches in the 90 days to 2026-11-20 against 6 expected at the mid-market "
        "cadence of every 15 days (0.50)",
    )
    # 142 days: within 150 for value reviews, more than 120 for business reviews.
    assert env.signal("mid", "engagement.value_review_overdue", DAY).value == 0
    assert env.signal("mid", "engagement.business_review_overdue", DAY).value == 1
    # cadence_days replaces the whole table: Enterprise falls back to the default, 45.
    # Touches of the kinds call/meeting/email: email 09-10, call 11-18 = 2; 90 / 45 = 2.
    assert env.observed("ent", "engagement.cadence_ratio", DAY) == (
        1,
        "2 touches in the 90 days to 2026-11-20 against 2 expected at the default "
        "cadence of every 45 days (1.00)",
    )


def test_window_days_setting(env: PluginHarness) -> None:
    env.configure_toml("[plugins.engagement]\nwindow_days = 120\n")
    env.run(DAY)
    # Window 2026-07-24..2026-11-20: calls 08-22, 10-10 and meeting 09-01 = 3;
    # expected 120 / 30 = 4; 3 / 4 = 0.75.
    assert env.observed("mid", "engagement.cadence_ratio", DAY) == (
        0.75,
        "3 touches in the 120 days to 2026-11-20 against 4 expected at the mid-market "
        "cadence of every 30 days (0.75)",
    )


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("touch_kinds = []", "plugins.engagement.touch_kinds"),
        ('touch_kinds = ["lunch"]', r"plugins.engagement.touch_kinds\[0\]"),
        (
            "cadence_days = { smb = 0 }",
            r"plugins.engagement.cadence_days: expected `int` >= 1",
        ),
        ("window_days = 0", "plugins.engagement.window_days"),
        ("cadence = 30", "plugins.engagement: object contains unknown field `cadence`"),
    ],
)
def test_bad_settings_are_refused_with_their_field(
    env: PluginHarness, toml: str, field: str
) -> None:
    env.configure_toml(f"[plugins.engagement]\n{toml}\n")
    with pytest.raises(ConfigError, match=field):
        env.run(DAY)


def test_a_run_for_some_accounts_computes_only_those(env: PluginHarness) -> None:
    env.run(DAY, account_ids=["mid"])
    assert env.signal("mid", "engagement.days_since_last_touch", DAY).value == 41
    assert env.signals("nos", DAY, source="engagement") == {}
