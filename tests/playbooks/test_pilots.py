"""Pilots: checked on creation, every change an event, a stable control group, shadow outside."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from support.book import PILOT_START, Book, d
from telltales.errors import InputError
from telltales.playbooks.pilots import (
    NewPilot,
    PilotState,
    create_pilot,
    get_pilot,
    holdout_fraction,
    list_pilots,
    pilot_events,
    set_state,
)

OPS = "ops@vendor.example"
KNOWN_RULES = (
    "core_feature_drop, drop, gone, high_priority_tickets, low_logins_in_adoption, "
    "low_seat_utilization, mild, slow, sponsor_left, tickets"
)


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    opened = Book(tmp_path)
    yield opened
    opened.store.close()


def pilot(pilot_id: str = "p1", **fields: Any) -> NewPilot:
    given: dict[str, Any] = {
        "pilot_id": pilot_id,
        "csm_groups": ["g1"],
        "rules": ["drop"],
        "playbooks": ["respond"],
        "starts_on": PILOT_START,
        **fields,
    }
    return NewPilot(**given)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"csm_groups": []},
            "csm_groups: a pilot names at least one CSM group (and no empty name)",
        ),
        (
            {"csm_groups": ["g1", "g3"]},
            "csm_groups: no CSM group named 'g3' (known: g1, g2)",
        ),
        (
            {"csm_groups": ["g1", " "]},
            "csm_groups: a pilot names at least one CSM group (and no empty name)",
        ),
        ({"rules": []}, "rules: a pilot enables at least one rule"),
        ({"playbooks": []}, "playbooks: a pilot enables at least one playbook"),
        (
            {"rules": ["drop", "dorp"]},
            f"rules: no enabled rule named 'dorp' (known: {KNOWN_RULES})",
        ),
        (
            {"rules": ["score_red"]},  # switched off in the book's configuration
            f"rules: no enabled rule named 'score_red' (known: {KNOWN_RULES})",
        ),
        (
            {"playbooks": ["at_risk_response"]},  # switched off too
            "playbooks: no enabled playbook named 'at_risk_response' (known: respond)",
        ),
        (
            {"holdout_share": 1.0},
            "holdout_share: 1 is not a share of accounts: give at least 0 and less than 1 "
            "(0.2 holds a fifth of the accounts out as control)",
        ),
        (
            {"holdout_share": -0.1},
            "holdout_share: -0.1 is not a share of accounts: give at least 0 and less than 1 "
            "(0.2 holds a fifth of the accounts out as control)",
        ),
        (
            {"holdout_share": math.nan},
            "holdout_share: nan is not a share of accounts: give at least 0 and less than 1 "
            "(0.2 holds a fifth of the accounts out as control)",
        ),
        (
            {"pilot_id": "Q1 pilot"},
            "pilot_id: 'Q1 pilot' must be lowercase letters, digits, - and _ (at most 64, "
            "starting with a letter or digit)",
        ),
    ],
    ids=[
        "no-group",
        "unknown-group",
        "blank-group",
        "no-rule",
        "no-playbook",
        "unknown-rule",
        "disabled-rule",
        "disabled-playbook",
        "holdout-one",
        "holdout-negative",
        "holdout-nan",
        "bad-id",
    ],
)
def test_a_bad_pilot_is_refused_and_nothing_is_written(
    book: Book, fields: dict[str, Any], message: str
) -> None:
    plan = book.plan()
    new = pilot(**fields)
    with pytest.raises(InputError) as refused:
        create_pilot(book.store, plan, new, by=OPS)
    assert str(refused.value) == message
    assert (book.count("pilots"), book.count("pilot_events")) == (0, 0)


def test_a_pilot_decoded_from_json_refuses_a_bad_holdout_too() -> None:
    """NewPilot, decoded from a request body, carries the bound create_pilot checks."""
    given = msgspec.to_builtins(pilot(starts_on=PILOT_START)) | {"holdout_share": 1.5}
    with pytest.raises(msgspec.ValidationError, match=r"Expected `float` < 1.0"):
        msgspec.convert(given, NewPilot)


def test_a_duplicate_id_and_overlapping_enabled_pilots_are_refused(book: Book) -> None:
    plan = book.plan()
    create_pilot(book.store, plan, pilot("p1"), by=OPS)
    with pytest.raises(InputError) as duplicate:
        create_pilot(book.store, plan, pilot("p1", csm_groups=["g2"]), by=OPS)
    assert str(duplicate.value) == "pilot_id: a pilot named 'p1' already exists"
    overlap = (
        "csm_groups: 'g1' is already in enabled pilot 'p1'; one pilot per CSM group at a time "
        "(disable or end it first)"
    )
    with pytest.raises(InputError) as overlapping:
        create_pilot(book.store, plan, pilot("p2", csm_groups=["g2", "g1"]), by=OPS)
    assert str(overlapping.value) == overlap
    assert [p.pilot_id for p in list_pilots(book.store)] == ["p1"]

    # Disabled, it may overlap; enabling it is refused while p1 holds the group.
    create_pilot(book.store, plan, pilot("p2", csm_groups=["g2", "g1"], enabled=False), by=OPS)
    with pytest.raises(InputError) as enabling:
        set_state(book.store, "p2", "enabled", by=OPS)
    assert str(enabling.value) == overlap
    set_state(book.store, "p1", "disabled", by=OPS)
    assert set_state(book.store, "p2", "enabled", by=OPS).state == "enabled"
    with pytest.raises(InputError) as back:
        set_state(book.store, "p1", "enabled", by=OPS)
    assert str(back.value) == overlap.replace("enabled pilot 'p1'", "enabled pilot 'p2'")


def test_every_change_is_an_event_and_an_ended_pilot_stays_ended(book: Book) -> None:
    plan = book.plan()
    before = datetime.now(UTC)
    created = create_pilot(book.store, plan, pilot(holdout_share=0.2), by=OPS)
    assert (created.state, created.created_by, created.holdout_share) == ("enabled", OPS, 0.2)
    set_state(book.store, "p1", "disabled", by="lee@vendor.example", reason="holiday freeze")
    set_state(book.store, "p1", "enabled", by="lee@vendor.example")
    ended = set_state(book.store, "p1", "ended", by=OPS, reason="rolled out to everyone")
    assert ended.state == "ended"
    events = pilot_events(book.store, "p1")
    assert [(e.event, e.by, e.detail) for e in events] == [
        ("created", OPS, "groups g1; rules drop; playbooks respond; from 2026-11-01; control 20%"),
        ("enabled", OPS, ""),
        ("disabled", "lee@vendor.example", "holiday freeze"),
        ("enabled", "lee@vendor.example", ""),
        ("ended", OPS, "rolled out to everyone"),
    ]
    stamps = [e.at for e in events]
    assert stamps == sorted(stamps)
    assert before <= stamps[0]
    assert stamps[-1] <= datetime.now(UTC)

    states: tuple[PilotState, ...] = ("enabled", "disabled", "ended")
    for state in states:
        with pytest.raises(InputError) as refused:
            set_state(book.store, "p1", state, by=OPS)
        assert str(refused.value) == "pilot 'p1' has ended; create a new pilot instead"
    assert len(pilot_events(book.store, "p1")) == 5


def test_changing_to_the_same_state_or_an_unknown_pilot_is_refused(book: Book) -> None:
    plan = book.plan()
    create_pilot(book.store, plan, pilot(), by=OPS)
    with pytest.raises(InputError) as same:
        set_state(book.store, "p1", "enabled", by=OPS)
    assert str(same.value) == "pilot 'p1' is already enabled"
    with pytest.raises(InputError) as unknown:
        set_state(book.store, "nope", "disabled", by=OPS)
    assert str(unknown.value) == "unknown pilot 'nope'"
    assert len(pilot_events(book.store, "p1")) == 2


def test_groups_are_kept_as_accounts_spell_them(book: Book) -> None:
    plan = book.plan()
    create_pilot(book.store, plan, pilot(csm_groups=[" g1 ", "g1"]), by=OPS)
    assert get_pilot(book.store, "p1").csm_groups == ("g1",)
    book.signal("a1", drop=-0.5)
    result = book.run(plan)
    assert result.actions is not None
    assert result.actions.playbooks_live == 1


# The control group.


def fraction(pilot_id: str, account_id: str) -> float:
    """The documented hash: SHA-256 of "<pilot>\\0<account>", first 8 bytes over 2**64."""
    digest = hashlib.sha256(f"{pilot_id}\0{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def test_the_control_group_is_a_stable_hash_of_pilot_and_account() -> None:
    ids = [f"acct-{n:05d}" for n in range(10_000)]
    first = {a for a in ids if holdout_fraction("p1", a) < 0.2}
    again = {a for a in ids if holdout_fraction("p1", a) < 0.2}
    other = {a for a in ids if holdout_fraction("p2", a) < 0.2}
    assert first == again
    assert all(holdout_fraction("p1", a) == fraction("p1", a) for a in ids[:100])
    # A fifth held out, give or take (binomial sd over 10,000 is 0.004).
    assert abs(len(first) / 10_000 - 0.2) < 0.015
    # Another pilot draws its own control group: about 0.2 x 0.2 of accounts are in both.
    assert abs(len(first & other) / 10_000 - 0.04) < 0.01
    # A larger share keeps the smaller share's accounts out, and adds to them.
    assert first <= {a for a in ids if holdout_fraction("p1", a) < 0.3}


def test_control_accounts_get_shadow_runs(book: Book) -> None:
    # With pilot p1 the hash puts a3 below one half, a1, a2 and a4 above it.
    assert [round(fraction("p1", a), 3) for a in ("a1", "a2", "a3", "a4")] == [
        0.696,
        0.928,
        0.412,
        0.853,
    ]
    plan = book.plan()
    create_pilot(book.store, plan, pilot(holdout_share=0.5), by=OPS)
    book.signal("a1", drop=-0.5)
    book.signal("a3", drop=-0.5)
    book.run(plan)
    assert book.rows("SELECT account_id, cohort, pilot_id FROM transitions ORDER BY 1") == [
        ("a1", "pilot", "p1"),
        ("a2", "pilot", "p1"),
        ("a3", "control", "p1"),
        ("a4", "pilot", "p1"),
        ("b1", "none", None),
    ]
    assert book.rows("SELECT account_id, mode, cohort, note FROM playbook_runs ORDER BY 1") == [
        ("a1", "live", "pilot", "pilot 'p1'"),
        ("a3", "shadow", "control", "control group of pilot 'p1'"),
    ]
    assert book.rows("SELECT account_id, mode, cohort FROM rule_hits ORDER BY 1") == [
        ("a1", "live", "pilot"),
        ("a3", "shadow", "control"),
    ]
    assert book.rows("SELECT DISTINCT account_id FROM tasks") == [("a1",)]


def test_a_pilot_acts_from_its_first_day_and_only_while_enabled(book: Book) -> None:
    plan = book.plan()
    create_pilot(book.store, plan, pilot(starts_on=d(21)), by=OPS)
    book.signal("a1", drop=-0.5)
    book.run(plan, d(20))  # the day before it starts
    book.signal("a2", drop=-0.5)
    book.run(plan, d(21))  # its first day
    set_state(book.store, "p1", "disabled", by=OPS)
    book.signal("a3", drop=-0.5)
    book.run(plan, d(22))
    set_state(book.store, "p1", "enabled", by=OPS)
    book.signal("a4", drop=-0.5)
    book.run(plan, d(23))
    set_state(book.store, "p1", "ended", by=OPS)
    book.signal("a1", drop=-0.1)
    book.run(plan, d(24))
    book.signal("a1", drop=-0.5)
    book.run(plan, d(25))
    no_pilot = "CSM group 'g1' is in no pilot"
    assert book.rows("SELECT as_of, account_id, mode, note FROM playbook_runs ORDER BY 1") == [
        ("2026-11-20", "a1", "shadow", no_pilot),
        ("2026-11-21", "a2", "live", "pilot 'p1'"),
        ("2026-11-22", "a3", "shadow", no_pilot),
        ("2026-11-23", "a4", "live", "pilot 'p1'"),
        ("2026-11-25", "a1", "shadow", no_pilot),
    ]
