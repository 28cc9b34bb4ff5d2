"""Pilots: rules and playbooks switched on for some CSM groups, with a control group.

An ops team turns a playbook on for one CSM group at a time, from a given day, and
holds a share of that group's accounts out as a control group so the effect can be
measured. The control group is chosen by a stable hash of the pilot and the account,
so the same accounts stay out however often the pilot is read. Accounts outside any
enabled pilot, and the control group, run in shadow mode: rules are evaluated and
playbooks recorded as "would have started", nothing is sent and no task is created.
Every change to a pilot is an event in ``pilot_events``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from sqlite_utils import Database

from telltales import clock
from telltales.errors import InputError
from telltales.models import is_blank
from telltales.playbooks.plan import Plan
from telltales.store import Store
from telltales.store.csm_groups import unknown_group_problem

PilotState = Literal["enabled", "disabled", "ended"]
Cohort = Literal["pilot", "control", "none"]

PILOT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}(?![\s\S])"
r"""Lowercase letters, digits, - and _, at most 64, starting with a letter or digit.

``(?![\s\S])`` ends the text in Python and in JSON Schema alike (Python's ``$`` also
matches before a final newline), so the schema states exactly this rule."""
_ID = re.compile(PILOT_ID_PATTERN)


class Pilot(msgspec.Struct, kw_only=True, frozen=True):
    pilot_id: str
    description: str
    csm_groups: tuple[str, ...]
    rules: tuple[str, ...]
    playbooks: tuple[str, ...]
    starts_on: date
    holdout_share: float
    state: PilotState
    created_by: str
    created_at: datetime

    def cohort_of(self, account_id: str) -> Cohort:
        return (
            "control"
            if holdout_fraction(self.pilot_id, account_id) < self.holdout_share
            else ("pilot")
        )


class PilotEvent(msgspec.Struct, kw_only=True, frozen=True):
    pilot_id: str
    event: str
    at: datetime
    by: str
    detail: str


class NewPilot(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What an ops team gives to create a pilot (the CLI and the API decode into this)."""

    pilot_id: str
    csm_groups: list[str]
    rules: list[str]
    playbooks: list[str]
    starts_on: date
    holdout_share: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.0
    description: str = ""
    enabled: bool = True


def holdout_fraction(pilot_id: str, account_id: str) -> float:
    """A number in [0, 1) fixed by the pilot and the account: below the share is control."""
    digest = hashlib.sha256(f"{pilot_id}\0{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def create_pilot(store: Store, plan: Plan, new: NewPilot, *, by: str) -> Pilot:
    """Check and store a pilot; refuse one naming no group or an unknown one (a typo would
    enable the pilot for nobody), or an unknown rule or playbook."""
    problem = _problem(new, plan)
    if problem:
        raise InputError(problem)
    _check_by(by)
    # " apac-midmarket" would match no account: groups are kept as accounts spell them.
    new = msgspec.structs.replace(
        new, csm_groups=list(dict.fromkeys(group.strip() for group in new.csm_groups))
    )
    with store.transaction() as db:
        if db.execute("SELECT 1 FROM pilots WHERE pilot_id = ?", [new.pilot_id]).fetchone():
            raise InputError(f"pilot_id: a pilot named {new.pilot_id!r} already exists")
        unknown = unknown_group_problem(store, new.csm_groups, plan.csm_groups)
        if unknown:
            raise InputError(f"csm_groups: {unknown}")
        if new.enabled:
            _refuse_overlap(store, new.pilot_id, new.csm_groups)
        now = clock.now()
        db.execute(
            "INSERT INTO pilots (pilot_id, description, csm_groups, rules, playbooks, starts_on, "
            "holdout_share, state, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                new.pilot_id,
                new.description,
                _json(new.csm_groups),
                _json(new.rules),
                _json(new.playbooks),
                new.starts_on.isoformat(),
                new.holdout_share,
                "enabled" if new.enabled else "disabled",
                by,
                now.isoformat(),
            ],
        )
        _event(store, new.pilot_id, "created", by, now, _describe(new))
        if new.enabled:
            _event(store, new.pilot_id, "enabled", by, now, "")
    return get_pilot(store, new.pilot_id)


def _problem(new: NewPilot, plan: Plan) -> str | None:
    if not _ID.match(new.pilot_id):
        return (
            f"pilot_id: {new.pilot_id!r} must be lowercase letters, digits, - and _ "
            "(at most 64, starting with a letter or digit)"
        )
    if not new.csm_groups or any(is_blank(group) for group in new.csm_groups):
        return "csm_groups: a pilot names at least one CSM group (and no empty name)"
    if not 0 <= new.holdout_share < 1:
        return (
            f"holdout_share: {new.holdout_share:g} is not a share of accounts: give at least 0 "
            "and less than 1 (0.2 holds a fifth of the accounts out as control)"
        )
    if not new.playbooks:
        return "playbooks: a pilot enables at least one playbook"
    if not new.rules:
        return "rules: a pilot enables at least one rule"
    for rule in new.rules:
        if rule not in plan.rules:
            return f"rules: no enabled rule named {rule!r} (known: {', '.join(sorted(plan.rules))})"
    for playbook in new.playbooks:
        if playbook not in plan.playbooks:
            known = ", ".join(sorted(plan.playbooks))
            return f"playbooks: no enabled playbook named {playbook!r} (known: {known})"
    return None


def _describe(new: NewPilot) -> str:
    return (
        f"groups {', '.join(new.csm_groups)}; rules {', '.join(new.rules)}; playbooks "
        f"{', '.join(new.playbooks)}; from {new.starts_on}; control {new.holdout_share:.0%}"
    )


def set_state(
    store: Store, pilot_id: str, state: PilotState, *, by: str, reason: str = ""
) -> Pilot:
    """Enable, disable or end a pilot; an ended pilot stays ended."""
    _check_by(by)
    with store.transaction():
        pilot = get_pilot(store, pilot_id)
        if pilot.state == "ended":
            raise InputError(f"pilot {pilot_id!r} has ended; create a new pilot instead")
        if pilot.state == state:
            raise InputError(f"pilot {pilot_id!r} is already {state}")
        if state == "enabled":
            _refuse_overlap(store, pilot_id, pilot.csm_groups)
        store.db.execute("UPDATE pilots SET state = ? WHERE pilot_id = ?", [state, pilot_id])
        _event(store, pilot_id, state, by, clock.now(), reason)
    return get_pilot(store, pilot_id)


def _check_by(by: str) -> None:
    if not by.strip():
        raise InputError("by: say who makes the change (every change to a pilot is recorded)")


def _refuse_overlap(store: Store, pilot_id: str, groups: Sequence[str]) -> None:
    overlap = overlapping_pilot(store, pilot_id, groups)
    if overlap is not None:
        shared, other = overlap
        raise InputError(
            f"csm_groups: {shared!r} is already in enabled pilot {other.pilot_id!r}; "
            "one pilot per CSM group at a time (disable or end it first)"
        )


def overlapping_pilot(
    store: Store, pilot_id: str, groups: Collection[str]
) -> tuple[str, Pilot] | None:
    """The first group that another enabled pilot already covers, and that pilot.

    One pilot per CSM group at a time, so that an account's cohort is never in doubt:
    enabling ``pilot_id`` for ``groups`` must wait until this answers None.
    """
    for other in page_pilots(store, csm_groups=groups, state="enabled", limit=None):
        if other.pilot_id != pilot_id:
            return sorted(set(groups) & set(other.csm_groups))[0], other
    return None


def _event(store: Store, pilot_id: str, event: str, by: str, at: datetime, detail: str) -> None:
    store.db.execute(
        "INSERT INTO pilot_events (pilot_id, event, at, by, detail) VALUES (?, ?, ?, ?, ?)",
        [pilot_id, event, at.isoformat(), by, detail],
    )


COLUMNS = (
    "pilot_id, description, csm_groups, rules, playbooks, starts_on, holdout_share, state, "
    "created_by, created_at"
)


def pilot_from_row(row: Sequence[object]) -> Pilot:
    record = dict(zip(COLUMNS.split(", "), row, strict=True))
    for column in ("csm_groups", "rules", "playbooks"):
        record[column] = msgspec.json.decode(str(record[column]))
    return msgspec.convert(record, Pilot, strict=False)


def get_pilot(store: Store, pilot_id: str) -> Pilot:
    pilot = find_pilot(store, pilot_id)
    if pilot is None:
        raise InputError(f"unknown pilot {pilot_id!r}")
    return pilot


def find_pilot(
    store: Store, pilot_id: str, *, csm_groups: Collection[str] | None = None
) -> Pilot | None:
    """The pilot, if it exists and covers one of ``csm_groups`` (None: any group).

    One answer for "no such pilot" and "a pilot of other groups", so a caller limited
    to some groups cannot tell them apart.
    """
    found = page_pilots(store, pilot_id=pilot_id, csm_groups=csm_groups, limit=1)
    return found[0] if found else None


def list_pilots(store: Store) -> list[Pilot]:
    return load_pilots(store.db)


def page_pilots(
    store: Store,
    *,
    pilot_id: str | None = None,
    csm_groups: Collection[str] | None = None,
    state: PilotState | None = None,
    after: str | None = None,
    limit: int | None = 100,
) -> list[Pilot]:
    """One page of the pilots matching every filter, by id.

    ``csm_groups`` keeps the pilots covering at least one of those groups (None:
    every pilot); ``after`` is the id of the last pilot of the previous page;
    ``limit`` None reads them all.
    """
    conditions: list[str] = []
    params: list[object] = []
    if pilot_id is not None:
        conditions.append("pilot_id = ?")
        params.append(pilot_id)
    if csm_groups is not None:
        groups = sorted(csm_groups)
        conditions.append(
            "EXISTS (SELECT 1 FROM json_each(pilots.csm_groups) "
            f"WHERE value IN ({', '.join('?' for _ in groups)}))"
        )
        params.extend(groups)
    if state is not None:
        conditions.append("state = ?")
        params.append(state)
    if after is not None:
        conditions.append("pilot_id > ?")
        params.append(after)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = store.db.execute(
        f"SELECT {COLUMNS} FROM pilots {where} ORDER BY pilot_id LIMIT ?",
        [*params, -1 if limit is None else limit],
    )
    return [pilot_from_row(row) for row in rows]


def load_pilots(db: Database) -> list[Pilot]:
    """Every pilot, in any state, by id."""
    return [pilot_from_row(row) for row in db.execute(f"SELECT {COLUMNS} FROM pilots ORDER BY 1")]


def pilot_events(store: Store, pilot_id: str) -> list[PilotEvent]:
    rows = store.db.execute(
        "SELECT pilot_id, event, at, by, detail FROM pilot_events WHERE pilot_id = ? "
        "ORDER BY event_id",
        [pilot_id],
    )
    return [
        PilotEvent(pilot_id=p, event=e, at=datetime.fromisoformat(a), by=b, detail=d)
        for p, e, a, b, d in rows
    ]


def pilots_in_force(pilots: Iterable[Pilot], day: date) -> dict[str, Pilot]:
    """The enabled pilot covering each CSM group on ``day``."""
    found: dict[str, Pilot] = {}
    for pilot in pilots:
        if pilot.state == "enabled" and day >= pilot.starts_on:
            for group in pilot.csm_groups:
                found[group] = pilot
    return found


def _json(values: Sequence[str]) -> str:
    return msgspec.json.encode(list(values)).decode()
