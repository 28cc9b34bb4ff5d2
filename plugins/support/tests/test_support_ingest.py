"""support.tickets: validation, UTC normalisation and upsert by ticket_id."""

from __future__ import annotations

from typing import Any

import pytest
from telltales.errors import InputError
from telltales.testing import PluginHarness


def stored(env: PluginHarness) -> list[tuple[Any, ...]]:
    return env.store.db.execute(
        "SELECT ticket_id, account_id, priority, opened_at, closed_at, subject, status "
        "FROM support_tickets ORDER BY ticket_id"
    ).fetchall()


def test_timestamps_are_stored_in_utc_whether_naive_or_aware(env: PluginHarness) -> None:
    env.ingest(
        "support.tickets",
        [
            # 07:00 at +08:00 is 23:00 UTC the day before.
            {
                "ticket_id": "t1",
                "account_id": "a1",
                "priority": "high",
                "opened_at": "2026-10-22T07:00:00+08:00",
                "closed_at": "2026-10-23T01:30:00-05:00",
                "subject": "Exports fail",
                "status": "solved",
            },
            # Naive timestamps are taken as UTC.
            {
                "ticket_id": "t2",
                "account_id": "a1",
                "priority": "low",
                "opened_at": "2026-11-01T10:00:00",
            },
        ],
    )
    assert stored(env) == [
        (
            "t1",
            "a1",
            "high",
            "2026-10-21T23:00:00+00:00",
            "2026-10-23T06:30:00+00:00",
            "Exports fail",
            "solved",
        ),
        ("t2", "a1", "low", "2026-11-01T10:00:00+00:00", None, None, None),
    ]


def test_a_resent_ticket_replaces_its_earlier_state(env: PluginHarness) -> None:
    opened = {
        "ticket_id": "t1",
        "account_id": "a1",
        "priority": "normal",
        "opened_at": "2026-11-01T09:00:00Z",
        "status": "open",
    }
    env.ingest("support.tickets", [opened])
    env.ingest(
        "support.tickets",
        [{**opened, "priority": "urgent", "closed_at": "2026-11-03T09:00:00Z", "status": "solved"}],
    )
    assert stored(env) == [
        (
            "t1",
            "a1",
            "urgent",
            "2026-11-01T09:00:00+00:00",
            "2026-11-03T09:00:00+00:00",
            None,
            "solved",
        )
    ]


def test_reingesting_the_same_records_changes_nothing(env: PluginHarness) -> None:
    records = [
        {
            "ticket_id": f"t{n}",
            "account_id": "a1",
            "priority": "high",
            "opened_at": f"2026-11-0{n}T09:00:00Z",
        }
        for n in range(1, 4)
    ]
    env.ingest("support.tickets", records)
    before = stored(env)
    env.ingest("support.tickets", records)
    assert stored(env) == before
    assert len(before) == 3


def test_a_bad_priority_is_refused_by_record_and_field_and_nothing_is_stored(
    env: PluginHarness,
) -> None:
    good = {
        "ticket_id": "t1",
        "account_id": "a1",
        "priority": "low",
        "opened_at": "2026-11-01T09:00:00Z",
    }
    bad = {**good, "ticket_id": "t2", "priority": "critical"}
    with pytest.raises(
        InputError, match=r"^record 2, field 'priority': invalid enum value 'critical'$"
    ):
        env.ingest("support.tickets", [good, bad])
    assert stored(env) == []


def test_closed_before_opened_is_refused_naming_the_record_and_field(env: PluginHarness) -> None:
    good = {
        "ticket_id": "t1",
        "account_id": "a1",
        "priority": "low",
        "opened_at": "2026-11-01T09:00:00Z",
    }
    bad = {
        "ticket_id": "t2",
        "account_id": "a1",
        "priority": "low",
        # 2026-11-02T01:00+08:00 is 2026-11-01T17:00Z, before 2026-11-01T18:00Z.
        "opened_at": "2026-11-01T18:00:00Z",
        "closed_at": "2026-11-02T01:00:00+08:00",
    }
    with pytest.raises(
        InputError,
        match=r"^record 2, field 'closed_at': 2026-11-01T17:00:00\+00:00 is before opened_at "
        r"2026-11-01T18:00:00\+00:00$",
    ):
        env.ingest("support.tickets", [good, bad])
    assert stored(env) == []


def test_a_ticket_closed_the_moment_it_opened_is_accepted(env: PluginHarness) -> None:
    at = "2026-11-01T18:00:00Z"
    env.ingest(
        "support.tickets",
        [
            {
                "ticket_id": "t1",
                "account_id": "a1",
                "priority": "low",
                "opened_at": at,
                "closed_at": at,
            }
        ],
    )
    assert len(stored(env)) == 1


def test_an_unknown_field_is_refused(env: PluginHarness) -> None:
    record = {
        "ticket_id": "t1",
        "account_id": "a1",
        "priority": "low",
        "opened_at": "2026-11-01T09:00:00Z",
    }
    with pytest.raises(InputError, match=r"^record 1, field 'owner': unknown field"):
        env.ingest("support.tickets", [{**record, "owner": "sam"}])


def test_an_unknown_account_is_refused(env: PluginHarness) -> None:
    records = [
        {
            "ticket_id": "t1",
            "account_id": "a1",
            "priority": "low",
            "opened_at": "2026-11-01T09:00:00Z",
        },
        {
            "ticket_id": "t2",
            "account_id": "nobody",
            "priority": "low",
            "opened_at": "2026-11-01T09:00:00Z",
        },
    ]
    with pytest.raises(InputError, match=r"^record 2, field 'account_id': unknown account"):
        env.ingest("support.tickets", records)
    assert stored(env) == []


@pytest.mark.parametrize(
    ("field", "moment"),
    [
        ("opened_at", "9999-12-31T23:59:59-23:59"),
        ("opened_at", "0001-01-01T00:00:00+23:59"),
        ("closed_at", "9999-12-31T23:59:59-23:59"),
        ("opened_at", "1899-12-31T23:59:59Z"),
    ],
)
def test_a_time_outside_the_range_in_utc_is_refused_naming_the_field(
    env: PluginHarness, field: str, moment: str
) -> None:
    """Found by outside testers: an offset that carries a time past year 9999 (or before
    year 1) in UTC overflowed the conversion, a 500 over the API and a traceback."""
    ticket = {
        "ticket_id": "t1",
        "account_id": "a1",
        "priority": "low",
        "opened_at": "2026-11-01T09:00:00Z",
        field: moment,
    }
    with pytest.raises(
        InputError,
        match=rf"^record 1, field '{field}': .* is outside 1900-01-01..2999-12-31 in UTC$",
    ):
        env.ingest("support.tickets", [ticket])
    assert stored(env) == []
