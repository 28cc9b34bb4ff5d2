"""Ingesting people and meetings: validation, idempotency, history, and the example data."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import telltales_contacts
from telltales.errors import InputError
from telltales.testing import PluginHarness

Builder = Callable[..., dict[str, Any]]
DAY = date(2026, 11, 20)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "data"


def counts(env: PluginHarness) -> tuple[int, int, int]:
    db = env.store.db
    return (
        db["contacts_people"].count,
        db["contacts_meetings"].count,
        db["contacts_meeting_attendees"].count,
    )


def values(env: PluginHarness, account_id: str) -> dict[str, tuple[float, str]]:
    return {k: (s.value, s.evidence) for k, s in env.signals(account_id, DAY).items()}


def test_a_bad_role_is_refused_with_its_record_and_field_and_nothing_is_stored(
    contacts_env: PluginHarness, person: Builder
) -> None:
    records = [
        person("a", "2026-01-01", "Ann Ito", ["champion"]),
        person("b", "2026-01-01", "Bo Berg", ["ceo"]),
    ]
    with pytest.raises(InputError, match=r"record 2, field 'roles\[0\]': invalid enum value 'ceo'"):
        contacts_env.ingest("contacts.people", records)
    assert counts(contacts_env) == (0, 0, 0)


def test_a_snapshot_without_status_is_refused(contacts_env: PluginHarness, person: Builder) -> None:
    record = person("a", "2026-01-01", "Ann Ito", ["executive_sponsor"])
    del record["status"]
    with pytest.raises(InputError, match="record 1, field 'status': required field is missing"):
        contacts_env.ingest("contacts.people", [record])
    assert counts(contacts_env) == (0, 0, 0)


def test_a_meeting_without_attendees_is_refused(
    contacts_env: PluginHarness, meeting: Builder
) -> None:
    records = [meeting("m1", "2026-01-01", ["a"]), meeting("m2", "2026-01-02", [])]
    with pytest.raises(
        InputError, match="record 2, field 'contact_ids': expected `array` of length >= 1"
    ):
        contacts_env.ingest("contacts.meetings", records)
    assert counts(contacts_env) == (0, 0, 0)


def test_an_unknown_meeting_kind_is_refused(contacts_env: PluginHarness, meeting: Builder) -> None:
    with pytest.raises(InputError, match="record 1, field 'kind': invalid enum value 'lunch'"):
        contacts_env.ingest("contacts.meetings", [meeting("m", "2026-01-01", ["a"], kind="lunch")])


def test_an_unknown_account_is_refused(
    contacts_env: PluginHarness, person: Builder, meeting: Builder
) -> None:
    with pytest.raises(InputError, match="record 2, field 'account_id': unknown account 'zz'"):
        contacts_env.ingest(
            "contacts.people",
            [
                person("a", "2026-01-01", "Ann Ito", []),
                person("b", "2026-01-01", "Bo Berg", [], account_id="zz"),
            ],
        )
    with pytest.raises(InputError, match="record 1, field 'account_id': unknown account 'zz'"):
        contacts_env.ingest(
            "contacts.meetings", [meeting("m", "2026-01-01", ["a"], account_id="zz")]
        )
    assert counts(contacts_env) == (0, 0, 0)


def test_a_person_at_two_accounts_is_refused(contacts_env: PluginHarness, person: Builder) -> None:
    contacts_env.ingest("contacts.people", [person("a", "2026-01-01", "Ann Ito", [])])
    with pytest.raises(InputError) as refused:
        contacts_env.ingest(
            "contacts.people", [person("a", "2026-02-01", "Ann Ito", [], account_id="a2")]
        )
    # The stored snapshot's account is not named: the sender may not see its group.
    assert str(refused.value) == (
        "contact 'a', snapshot of 2026-02-01, field 'account_id': its stored snapshots name "
        "another account, not 'a2'; a person's snapshots must all name one account"
    )
    with pytest.raises(
        InputError,
        match="contact 'b', snapshot of 2026-02-01, field 'account_id': the batch also names "
        "it at account 'a1', not 'a2'",
    ):
        contacts_env.ingest(
            "contacts.people",
            [
                person("c", "2026-01-01", "Cy Ames", []),
                person("b", "2026-01-01", "Bo Berg", []),
                person("b", "2026-02-01", "Bo Berg", [], account_id="a2"),
            ],
        )
    assert counts(contacts_env) == (1, 0, 0)


def test_reingesting_the_same_records_changes_nothing(
    contacts_env: PluginHarness, person: Builder, meeting: Builder
) -> None:
    people = [
        person("dana", "2026-03-01", "Dana Reyes", ["executive_sponsor"]),
        person("dana", "2026-10-28", "Dana Reyes", ["executive_sponsor"], status="left"),
        person("wei", "2026-03-01", "Wei Zhang", ["champion", "champion"]),
    ]
    meetings = [meeting("m1", "2026-08-08", ["dana", "wei", "dana"])]
    assert contacts_env.ingest("contacts.people", people) == 3
    contacts_env.ingest("contacts.meetings", meetings)
    contacts_env.run(DAY)
    before, first_counts = values(contacts_env, "a1"), counts(contacts_env)
    assert first_counts == (3, 1, 2)
    contacts_env.ingest("contacts.people", people)
    contacts_env.ingest("contacts.meetings", meetings)
    contacts_env.run(DAY)
    assert counts(contacts_env) == first_counts
    assert values(contacts_env, "a1") == before


def test_history_is_kept_and_a_resent_day_corrects_that_day(
    contacts_env: PluginHarness, person: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people", [person("a", "2026-01-01", "Ann Ito", ["champion"], title="Analyst")]
    )
    contacts_env.ingest(
        "contacts.people", [person("a", "2026-06-01", "Ann Ito", ["user"], title="Analyst")]
    )
    contacts_env.ingest(
        "contacts.people", [person("a", "2026-06-01", "Ann Ito", ["user"], title="Manager")]
    )
    rows = contacts_env.store.db.execute(
        "SELECT as_of, title, roles FROM contacts_people ORDER BY as_of"
    ).fetchall()
    assert rows == [
        ("2026-01-01", "Analyst", '["champion"]'),
        ("2026-06-01", "Manager", '["user"]'),
    ]


def test_a_resent_meeting_replaces_its_attendees(
    contacts_env: PluginHarness, person: Builder, meeting: Builder
) -> None:
    contacts_env.ingest(
        "contacts.people", [person("dana", "2026-03-01", "Dana Reyes", ["executive_sponsor"])]
    )
    contacts_env.ingest("contacts.meetings", [meeting("m1", "2026-11-10", ["dana"])])
    # The CRM corrected the meeting: Dana was not there after all.
    contacts_env.ingest("contacts.meetings", [meeting("m1", "2026-11-10", ["wei"])])
    assert counts(contacts_env) == (1, 1, 1)
    contacts_env.run(DAY)
    # Dana was never met; first recorded 2026-03-01:
    # 30 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 20 = 264 days.
    assert contacts_env.signal("a1", "contacts.days_since_sponsor_meeting", DAY).value == 264


def test_the_example_data_tells_its_story(telltales_env: PluginHarness) -> None:
    telltales_env.register(telltales_contacts, name="contacts")
    for ingester, name in (
        ("accounts", "accounts"),
        ("contacts.people", "contacts.people"),
        ("contacts.meetings", "contacts.meetings"),
    ):
        telltales_env.ingest(ingester, json.loads((EXAMPLES / f"{name}.json").read_text()))
    assert telltales_env.run(DAY).status == "ok"
    ferrum = telltales_env.signals("ferrum", DAY)
    assert ferrum["contacts.sponsor_left"].evidence == (
        "executive sponsor Dana Reyes (VP Operations) left the company on 2026-10-28, "
        "23 days before 2026-11-20"
    )
    assert ferrum["contacts.days_since_sponsor_meeting"].value == 163
    assert telltales_env.signals("bluepeak", DAY)["contacts.champion_left"].value == 1
    assert telltales_env.signals("tidewater", DAY)["contacts.sponsor_tagged"].value == 0
    assert telltales_env.signals("solstice", DAY)["contacts.days_since_sponsor_meeting"].value == 8
    # On 2026-11-01 Dana had left and Marcus Hale was not yet named her successor.
    earlier = date(2026, 11, 1)
    telltales_env.run(earlier)
    ferrum = telltales_env.signals("ferrum", earlier)
    assert ferrum["contacts.sponsor_left"].value == 1
    assert ferrum["contacts.sponsor_tagged"].value == 0
    assert "contacts.days_since_sponsor_meeting" not in ferrum
