"""Every contacts signal against hand-computed values and its exact evidence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from telltales.errors import ConfigError
from telltales.testing import PluginHarness
from telltales_contacts import ContactsSource

Builder = Callable[..., dict[str, Any]]
DAY = date(2026, 11, 20)


# -- contacts.sponsor_left / contacts.champion_left ------------------------------------


def test_a_sponsor_who_left_the_company_raises_sponsor_left(
    contacts_env: PluginHarness, person: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person(
                "dana", "2026-05-01", "Dana Reyes", ["executive_sponsor"], title="VP Operations"
            ),
            person("dana", "2026-10-28", "Dana Reyes", ["executive_sponsor"], status="left"),
            person("wei", "2026-05-01", "Wei Zhang", ["champion"]),
        ],
    )
    result = contacts_env.run(DAY)
    assert result.status == "ok"
    # 2026-10-28 to 2026-11-20: 3 days to the end of October + 20 = 23 days.
    assert contacts_env.observed("a1", "contacts.sponsor_left", DAY) == (
        1,
        "executive sponsor Dana Reyes (VP Operations) left the company on 2026-10-28, "
        "23 days before 2026-11-20",
    )
    assert contacts_env.signal("a1", "contacts.sponsor_left", DAY).dimension == "engagement"
    assert contacts_env.observed("a1", "contacts.champion_left", DAY) == (
        0,
        "no champion change in the 90 days to 2026-11-20",
    )


def test_a_champion_who_changed_role_raises_champion_left(
    contacts_env: PluginHarness, person: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person(
                "omar",
                "2026-01-10",
                "Omar Haddad",
                ["champion", "decision_maker"],
                title="Director of Clinical Systems",
            ),
            person(
                "omar", "2026-10-05", "Omar Haddad", ["decision_maker"], title="Head of Procurement"
            ),
        ],
    )
    contacts_env.run(DAY)
    # 2026-10-05 to 2026-11-20: 26 days to the end of October + 20 = 46 days.
    assert contacts_env.observed("a1", "contacts.champion_left", DAY) == (
        1,
        "champion Omar Haddad (Director of Clinical Systems) stopped being champion on "
        "2026-10-05, 46 days before 2026-11-20; now Head of Procurement, roles: "
        "decision maker",
    )
    assert contacts_env.observed("a1", "contacts.sponsor_left", DAY) == (
        0,
        "no executive sponsor change in the 90 days to 2026-11-20",
    )


def test_a_sponsor_who_lost_every_role_is_a_change(
    contacts_env: PluginHarness, person: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("kim", "2026-03-01", "Kim Lee", ["executive_sponsor"]),
            person("kim", "2026-11-20", "Kim Lee", []),
        ],
    )
    contacts_env.run(DAY)
    # Changed on the day of the run itself.
    assert contacts_env.observed("a1", "contacts.sponsor_left", DAY) == (
        1,
        "executive sponsor Kim Lee stopped being executive sponsor on 2026-11-20, "
        "the day of the run; now no roles",
    )


def test_gaining_a_role_or_changing_title_is_not_a_loss(
    contacts_env: PluginHarness, person: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("ann", "2026-01-01", "Ann Ito", ["user"], title="Analyst"),
            person("ann", "2026-10-01", "Ann Ito", ["champion", "user"], title="Lead Analyst"),
            person("bo", "2026-01-01", "Bo Berg", ["executive_sponsor"], title="CFO"),
            person("bo", "2026-10-01", "Bo Berg", ["executive_sponsor"], title="CEO"),
        ],
    )
    contacts_env.run(DAY)
    assert contacts_env.signal("a1", "contacts.champion_left", DAY).value == 0
    assert contacts_env.signal("a1", "contacts.sponsor_left", DAY).value == 0


def test_a_person_first_recorded_as_left_with_the_role_counts(
    contacts_env: PluginHarness, person: Builder
) -> None:
    # Only the latest state was exported: she left on 2026-11-01, still listed as champion.
    contacts_env.ingest(
        "contacts.people",
        [person("eve", "2026-11-01", "Eve Moss", ["champion"], status="left")],
    )
    contacts_env.run(DAY)
    # 2026-11-01 to 2026-11-20 = 19 days.
    assert contacts_env.observed("a1", "contacts.champion_left", DAY) == (
        1,
        "champion Eve Moss left the company on 2026-11-01, 19 days before 2026-11-20",
    )


def test_the_latest_of_several_changes_is_named(
    contacts_env: PluginHarness, person: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("s1", "2026-01-01", "Ada Park", ["executive_sponsor"]),
            person("s1", "2026-09-01", "Ada Park", ["executive_sponsor"], status="left"),
            person("s2", "2026-01-01", "Ben Cho", ["executive_sponsor"], title="CTO"),
            person("s2", "2026-11-02", "Ben Cho", ["executive_sponsor"], status="left"),
        ],
    )
    contacts_env.run(DAY)
    # Ben left 2026-11-02, 18 days before; Ada on 2026-09-01 (80 days before) is the other.
    assert contacts_env.observed("a1", "contacts.sponsor_left", DAY) == (
        1,
        "executive sponsor Ben Cho (CTO) left the company on 2026-11-02, 18 days before "
        "2026-11-20; 1 more executive sponsor change in the 90 days to 2026-11-20",
    )


def test_the_change_window_includes_its_first_day_only(
    contacts_env: PluginHarness, person: Builder
) -> None:
    # A 90-day window to 2026-11-20 starts on 2026-08-23 (11-20 minus 89 days: 20 days back
    # to 10-31, 31 to 09-30, 30 to 08-31, 8 more to 08-23).
    contacts_env.ingest(
        "contacts.people",
        [
            person("p1", "2026-01-01", "In Window", ["executive_sponsor"]),
            person("p1", "2026-08-23", "In Window", ["executive_sponsor"], status="left"),
            person("p2", "2026-01-01", "Too Early", ["executive_sponsor"], account_id="a2"),
            person(
                "p2",
                "2026-08-22",
                "Too Early",
                ["executive_sponsor"],
                account_id="a2",
                status="left",
            ),
        ],
    )
    contacts_env.run(DAY)
    assert contacts_env.signal("a1", "contacts.sponsor_left", DAY).evidence == (
        "executive sponsor In Window left the company on 2026-08-23, 89 days before 2026-11-20"
    )
    assert contacts_env.observed("a2", "contacts.sponsor_left", DAY) == (
        0,
        "no executive sponsor change in the 90 days to 2026-11-20",
    )


def test_change_window_days_setting_narrows_the_window(
    contacts_env: PluginHarness, person: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("s", "2026-01-01", "Sam Roe", ["executive_sponsor"]),
            person("s", "2026-10-28", "Sam Roe", [], status="left"),
            person("c", "2026-01-01", "Cy Ames", ["champion"]),
            person("c", "2026-10-05", "Cy Ames", ["user"]),
        ],
    )
    contacts_env.run(DAY)
    assert contacts_env.signal("a1", "contacts.sponsor_left", DAY).value == 1
    assert contacts_env.signal("a1", "contacts.champion_left", DAY).value == 1
    contacts_env.configure_toml("[plugins.contacts]\nchange_window_days = 30\n")
    contacts_env.run(DAY)
    # 23 days ago is inside 30 days; 46 days ago is not.
    assert contacts_env.signal("a1", "contacts.sponsor_left", DAY).value == 1
    assert contacts_env.observed("a1", "contacts.champion_left", DAY) == (
        0,
        "no champion change in the 30 days to 2026-11-20",
    )


def test_a_setting_out_of_range_is_refused(contacts_env: PluginHarness) -> None:
    contacts_env.configure_toml("[plugins.contacts]\nchange_window_days = 0\n")
    with pytest.raises(ConfigError, match=r"plugins\.contacts\.change_window_days"):
        contacts_env.run(DAY)


# -- contacts.sponsor_tagged -------------------------------------------------------------


def test_sponsor_tagged_names_the_active_sponsors(
    contacts_env: PluginHarness, person: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("b", "2026-02-01", "Bo Berg", ["executive_sponsor"], title="CFO"),
            person("a", "2026-02-01", "Ann Ito", ["executive_sponsor", "decision_maker"]),
            person("c", "2026-02-01", "Cy Ames", ["champion"]),
            person("d", "2026-02-01", "Di Lund", ["executive_sponsor"]),
            person("d", "2026-06-01", "Di Lund", ["executive_sponsor"], status="left"),
        ],
    )
    contacts_env.run(DAY)
    # Ann and Bo hold the role and are active; Di left, so 3 active contacts remain.
    assert contacts_env.observed("a1", "contacts.sponsor_tagged", DAY) == (
        1,
        "2 executive sponsors tagged among 3 active contacts: Ann Ito, Bo Berg (CFO)",
    )


def test_no_sponsor_tagged(contacts_env: PluginHarness, person: Builder) -> None:
    contacts_env.ingest(
        "contacts.people",
        [person(f"c{n}", "2026-02-01", f"Person {n}", ["user"]) for n in range(4)],
    )
    contacts_env.run(DAY)
    assert contacts_env.observed("a1", "contacts.sponsor_tagged", DAY) == (
        0,
        "no executive sponsor tagged among 4 active contacts",
    )
    # No sponsor, no meeting cadence to measure: sponsor_tagged already says it.
    assert "contacts.days_since_sponsor_meeting" not in contacts_env.signals("a1", DAY)


# -- contacts.days_since_sponsor_meeting ------------------------------------------------


def test_days_since_sponsor_meeting_breaches_the_service_level(
    contacts_env: PluginHarness, person: Builder, meeting: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("dana", "2026-03-01", "Dana Reyes", ["executive_sponsor"], title="VP"),
            person("wei", "2026-03-01", "Wei Zhang", ["champion"]),
        ],
    )
    contacts_env.ingest(
        "contacts.meetings",
        [
            meeting("m1", "2026-05-02", ["dana", "wei"], kind="business_review"),
            meeting("m2", "2026-08-08", ["dana"], kind="value_review"),
            meeting("m3", "2026-11-01", ["wei"], kind="call"),
            meeting("m4", "2026-11-25", ["dana"]),
        ],
    )
    contacts_env.run(DAY)
    # Last meeting with Dana on or before the run day: 2026-08-08 (m3 is without her, m4 is
    # after the day). 23 days to 08-31 + 30 + 31 + 20 = 104; 104 - 90 = 14 over.
    assert contacts_env.observed("a1", "contacts.days_since_sponsor_meeting", DAY) == (
        104,
        "last met executive sponsor Dana Reyes 104 days ago (value review on 2026-08-08); "
        "service level is every 90 days: breached by 14 days",
    )


def test_sponsor_meeting_sla_setting_changes_the_verdict(
    contacts_env: PluginHarness, person: Builder, meeting: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people", [person("dana", "2026-03-01", "Dana Reyes", ["executive_sponsor"])]
    )
    contacts_env.ingest(
        "contacts.meetings", [meeting("m2", "2026-08-08", ["dana"], kind="value_review")]
    )
    contacts_env.configure_toml("[plugins.contacts]\nsponsor_meeting_sla_days = 120\n")
    contacts_env.run(DAY)
    # 120 - 104 = 16 days to spare.
    assert contacts_env.observed("a1", "contacts.days_since_sponsor_meeting", DAY) == (
        104,
        "last met executive sponsor Dana Reyes 104 days ago (value review on 2026-08-08); "
        "service level is every 120 days: within it by 16 days",
    )


def test_a_sponsor_never_met_counts_from_their_first_snapshot(
    contacts_env: PluginHarness, person: Builder, meeting: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("old", "2026-01-01", "Old Sponsor", ["executive_sponsor"]),
            person("old", "2026-09-30", "Old Sponsor", ["executive_sponsor"], status="left"),
            person("new", "2026-05-01", "Nia Cole", ["user"]),
            person("new", "2026-10-01", "Nia Cole", ["executive_sponsor"]),
        ],
    )
    # Meetings with the sponsor who has since left do not count for the current one.
    contacts_env.ingest("contacts.meetings", [meeting("m1", "2026-09-15", ["old"])])
    contacts_env.run(DAY)
    # Nia was first recorded on 2026-05-01: 30 + 30 + 31 + 31 + 30 + 31 + 20 = 203 days;
    # 203 - 90 = 113 over.
    assert contacts_env.observed("a1", "contacts.days_since_sponsor_meeting", DAY) == (
        203,
        "executive sponsor Nia Cole has never been met in the 203 days since first "
        "recorded on 2026-05-01; service level is every 90 days: breached by 113 days",
    )


def test_the_latest_meeting_with_any_current_sponsor_counts(
    contacts_env: PluginHarness, person: Builder, meeting: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("a", "2026-01-01", "Ann Ito", ["executive_sponsor"]),
            person("b", "2026-01-01", "Bo Berg", ["executive_sponsor"]),
        ],
    )
    contacts_env.ingest(
        "contacts.meetings",
        [
            meeting("m1", "2026-10-01", ["a"]),
            meeting("m2", "2026-11-12", ["a", "b"], kind="onsite"),
            meeting("m3", "2026-11-12", ["b"], account_id="a2"),
        ],
    )
    contacts_env.run(DAY)
    # 2026-11-12 to 2026-11-20 = 8 days; 90 - 8 = 82 to spare.
    assert contacts_env.observed("a1", "contacts.days_since_sponsor_meeting", DAY) == (
        8,
        "last met executive sponsors Ann Ito and Bo Berg 8 days ago (onsite on "
        "2026-11-12); service level is every 90 days: within it by 82 days",
    )


def test_none_of_several_sponsors_met_counts_from_the_longest_known(
    contacts_env: PluginHarness, person: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("a", "2026-10-21", "Ann Ito", ["executive_sponsor"]),
            person("b", "2026-08-22", "Bo Berg", ["executive_sponsor"]),
        ],
    )
    contacts_env.run(DAY)
    # Bo, first recorded 2026-08-22: 9 + 30 + 31 + 20 = 90 days, exactly the service level.
    assert contacts_env.observed("a1", "contacts.days_since_sponsor_meeting", DAY) == (
        90,
        "none of 2 executive sponsors has ever been met; Bo Berg, the longest known, was "
        "first recorded 90 days ago (2026-08-22); service level is every 90 days: "
        "within it by 0 days",
    )


# -- contacts.active_contacts -----------------------------------------------------------


def test_active_contacts_counts_who_has_not_left(
    contacts_env: PluginHarness, person: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("a", "2026-01-01", "Ann Ito", ["champion"]),
            person("b", "2026-01-01", "Bo Berg", ["user"]),
            person("c", "2026-01-01", "Cy Ames", ["admin"]),
            person("c", "2026-04-01", "Cy Ames", ["admin"], status="left"),
            person("d", "2026-01-01", "Di Lund", [], status="left"),
            person("d", "2026-07-01", "Di Lund", ["user"]),
        ],
    )
    contacts_env.run(DAY)
    # Ann, Bo and Di (rejoined on 2026-07-01) are active; Cy left: 3 of 4.
    assert contacts_env.observed("a1", "contacts.active_contacts", DAY) == (
        3,
        "3 active contacts on 2026-11-20 out of 4 recorded (1 left the company)",
    )


def test_zero_active_contacts_is_reported(contacts_env: PluginHarness, person: Builder) -> None:
    contacts_env.ingest(
        "contacts.people", [person("a", "2026-01-01", "Ann Ito", ["user"], status="left")]
    )
    contacts_env.run(DAY)
    assert contacts_env.observed("a1", "contacts.active_contacts", DAY) == (
        0,
        "0 active contacts on 2026-11-20 out of 1 recorded (1 left the company)",
    )
    tagged = contacts_env.signal("a1", "contacts.sponsor_tagged", DAY)
    assert tagged.evidence == "no executive sponsor tagged among 0 active contacts"


# -- data that is missing or not yet true -----------------------------------------------


def test_an_account_without_snapshots_gets_no_signal(
    contacts_env: PluginHarness, person: Builder, meeting: Builder
) -> None:
    contacts_env.ingest("contacts.people", [person("a", "2026-01-01", "Ann Ito", ["user"])])
    contacts_env.ingest("contacts.meetings", [meeting("m", "2026-11-01", ["x"], account_id="a2")])
    result = contacts_env.run(DAY)
    assert result.status == "ok"
    assert contacts_env.signals("a2", DAY) == {}
    assert set(contacts_env.signals("a1", DAY)) == {
        "contacts.sponsor_left",
        "contacts.champion_left",
        "contacts.sponsor_tagged",
        "contacts.active_contacts",
    }


def test_records_dated_after_the_run_day_are_ignored(
    contacts_env: PluginHarness, person: Builder, meeting: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people",
        [
            person("dana", "2026-03-01", "Dana Reyes", ["executive_sponsor"]),
            person("dana", "2026-12-01", "Dana Reyes", ["executive_sponsor"], status="left"),
            person("late", "2026-12-01", "Late Hire", ["champion"]),
            person("new", "2026-12-01", "New Account", ["user"], account_id="a2"),
        ],
    )
    contacts_env.ingest(
        "contacts.meetings",
        [meeting("m1", "2026-10-01", ["dana"]), meeting("m2", "2026-11-25", ["dana"])],
    )
    contacts_env.run(DAY)
    signals = contacts_env.signals("a1", DAY)
    # As of 2026-11-20 Dana is still the sponsor, last met 2026-10-01: 30 + 20 = 50 days.
    assert signals["contacts.sponsor_left"].value == 0
    assert signals["contacts.sponsor_tagged"].value == 1
    assert signals["contacts.days_since_sponsor_meeting"].value == 50
    assert signals["contacts.active_contacts"].value == 1
    assert contacts_env.signals("a2", DAY) == {}
    later = date(2026, 12, 2)
    contacts_env.run(later)
    signals = contacts_env.signals("a1", later)
    assert signals["contacts.sponsor_left"].value == 1
    assert signals["contacts.sponsor_tagged"].value == 0
    assert signals["contacts.active_contacts"].value == 1
    assert "contacts.days_since_sponsor_meeting" not in signals


def test_every_key_is_declared_with_its_direction() -> None:
    declared = {
        spec.key: (spec.dimension, spec.higher_is_better) for spec in ContactsSource.signals
    }
    assert declared == {
        "contacts.sponsor_left": ("engagement", False),
        "contacts.champion_left": ("engagement", False),
        "contacts.sponsor_tagged": ("engagement", True),
        "contacts.days_since_sponsor_meeting": ("engagement", False),
        "contacts.active_contacts": ("engagement", True),
    }
