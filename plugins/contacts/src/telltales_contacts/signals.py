"""The contacts signal source: every account of a batch from two set-based queries.

The first query walks each person's snapshots up to the day of the run with window
functions: the latest snapshot is the person's state on that day, and ``LAG`` pairs
every snapshot in the change window with the one before it, so a change is a pair
whose roles or status differ. The second query finds, for every person of the batch,
the last meeting they attended on or before the day. Both read nothing dated after
the day of the run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import msgspec
from telltales import BATCH_TABLE, DataDays, Freshness, Signal, SignalBatch, SignalSpec

from .settings import Settings

SPONSOR = "executive_sponsor"
CHAMPION = "champion"

# Both queries start from the batch: CROSS JOIN pins SQLite's join order, so each
# account's rows are reached through its index and a run of a few accounts never scans
# the whole table. A person's snapshots all name one account (the ingester sees to
# it), so partitioning by (account_id, contact_id) walks each person's history in the
# order of the account index.
_SNAPSHOTS = f"""
SELECT account_id, contact_id, as_of, name, title, roles, status,
       prev_name, prev_title, prev_roles, prev_status, first_as_of, is_current
FROM (
    SELECT p.account_id, p.contact_id, p.as_of, p.name, p.title, p.roles, p.status,
           LAG(p.name) OVER history AS prev_name,
           LAG(p.title) OVER history AS prev_title,
           LAG(p.roles) OVER history AS prev_roles,
           LAG(p.status) OVER history AS prev_status,
           FIRST_VALUE(p.as_of) OVER history AS first_as_of,
           LEAD(p.as_of) OVER history IS NULL AS is_current
    FROM {BATCH_TABLE} b
    CROSS JOIN contacts_people p ON p.account_id = b.account_id
    WHERE p.as_of <= :day
    WINDOW history AS (PARTITION BY p.account_id, p.contact_id ORDER BY p.as_of)
)
WHERE is_current OR as_of >= :since
"""

_LAST_MEETINGS = f"""
SELECT account_id, contact_id, day, kind
FROM (
    SELECT m.account_id, a.contact_id, m.day, m.kind,
           ROW_NUMBER() OVER (
               PARTITION BY m.account_id, a.contact_id ORDER BY m.day DESC, m.meeting_id
           ) AS recency
    FROM {BATCH_TABLE} b
    CROSS JOIN contacts_meetings m ON m.account_id = b.account_id
    CROSS JOIN contacts_meeting_attendees a ON a.meeting_id = m.meeting_id
    WHERE m.day <= :day
)
WHERE recency = 1
"""


@dataclass(frozen=True)
class _State:
    """What one snapshot says about a person."""

    name: str
    title: str | None
    roles: frozenset[str]
    status: str

    def holds(self, role: str) -> bool:
        # Someone who has left holds no role at the account, whatever the record lists.
        return self.status == "active" and role in self.roles

    def who(self) -> str:
        return f"{self.name} ({self.title})" if self.title else self.name

    def position(self) -> str:
        roles = ", ".join(_label(r) for r in sorted(self.roles)) if self.roles else ""
        held = f"roles: {roles}" if roles else "no roles"
        return f"{self.title}, {held}" if self.title else held


@dataclass(frozen=True)
class _Snapshot:
    account_id: str
    contact_id: str
    as_of: date
    state: _State
    previous: _State | None
    first_as_of: date
    is_current: bool


@dataclass(frozen=True)
class _LastMeeting:
    day: date
    kind: str


class ContactsSource:
    """Sponsor and champion changes, sponsor coverage and cadence, active contacts."""

    name = "contacts"
    freshness = Freshness(
        tables=(
            DataDays(table="contacts_people", day_column="as_of"),
            DataDays(table="contacts_meetings"),
        )
    )
    """Role changes are rare: never stale by default (``[freshness] contacts`` sets a limit)."""
    settings_type = Settings
    signals = (
        SignalSpec(
            key="contacts.sponsor_left",
            dimension="engagement",
            description=(
                "1 if an executive sponsor left the company or lost the role in the change "
                "window, else 0 (flag)"
            ),
            higher_is_better=False,
        ),
        SignalSpec(
            key="contacts.champion_left",
            dimension="engagement",
            description=(
                "1 if a champion left the company or lost the role in the change window, "
                "else 0 (flag)"
            ),
            higher_is_better=False,
        ),
        SignalSpec(
            key="contacts.sponsor_tagged",
            dimension="engagement",
            description="1 if an active contact holds executive_sponsor, else 0 (flag)",
            higher_is_better=True,
        ),
        SignalSpec(
            key="contacts.days_since_sponsor_meeting",
            dimension="engagement",
            description=(
                "days since the last meeting with a current executive sponsor, or since the "
                "sponsor was first recorded if never met (days)"
            ),
            higher_is_better=False,
        ),
        SignalSpec(
            key="contacts.active_contacts",
            dimension="engagement",
            description="contacts who have not left the company (count)",
            higher_is_better=True,
        ),
    )

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        settings: Settings = batch.settings
        day = batch.as_of
        since = day - timedelta(days=settings.change_window_days - 1)
        params = {"day": day.isoformat(), "since": since.isoformat()}
        by_account: dict[str, list[_Snapshot]] = defaultdict(list)
        for row in batch.db.execute(_SNAPSHOTS, params):
            snapshot = _snapshot(row)
            by_account[snapshot.account_id].append(snapshot)
        meetings = {
            (account_id, contact_id): _LastMeeting(date.fromisoformat(met), kind)
            for account_id, contact_id, met, kind in batch.db.execute(_LAST_MEETINGS, params)
        }
        for account_id in sorted(by_account):
            snapshots = by_account[account_id]
            current = sorted((s for s in snapshots if s.is_current), key=_by_name)
            window = [s for s in snapshots if s.as_of >= since]
            for role, key in (
                (SPONSOR, "contacts.sponsor_left"),
                (CHAMPION, "contacts.champion_left"),
            ):
                yield _change_signal(account_id, key, role, window, day, settings)
            active = [s for s in current if s.state.status == "active"]
            sponsors = [s for s in active if SPONSOR in s.state.roles]
            yield _tagged_signal(account_id, sponsors, len(active))
            if sponsors:
                yield _meeting_signal(account_id, sponsors, meetings, day, settings)
            yield _active_signal(account_id, len(active), len(current), day)


def _snapshot(row: Sequence[Any]) -> _Snapshot:
    (account_id, contact_id, as_of, name, title, roles, status) = row[:7]
    prev_name, prev_title, prev_roles, prev_status, first_as_of, is_current = row[7:]
    previous = (
        None
        if prev_status is None
        else _State(prev_name, prev_title, _roles(prev_roles), prev_status)
    )
    return _Snapshot(
        account_id=account_id,
        contact_id=contact_id,
        as_of=date.fromisoformat(as_of),
        state=_State(name, title, _roles(roles), status),
        previous=previous,
        first_as_of=date.fromisoformat(first_as_of),
        is_current=bool(is_current),
    )


def _roles(text: str) -> frozenset[str]:
    return frozenset(msgspec.json.decode(text, type=list[str]))


def _by_name(snapshot: _Snapshot) -> tuple[str, str]:
    return (snapshot.state.name, snapshot.contact_id)


def _label(role: str) -> str:
    return role.replace("_", " ")


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _names(snapshots: Iterable[_Snapshot]) -> str:
    return " and ".join(s.state.name for s in snapshots)


def _lost(snapshot: _Snapshot, role: str) -> _State | None:
    """The state in which the person held ``role``, if this snapshot is where they lost it.

    A person first recorded as having left, with the role listed, is read as having
    left while holding it: a CRM export often carries only the latest state.
    """
    before = snapshot.previous
    if before is None:
        held = snapshot.state.status == "left" and role in snapshot.state.roles
        before = snapshot.state
    else:
        held = before.holds(role)
    return before if held and not snapshot.state.holds(role) else None


def _change_signal(
    account_id: str,
    key: str,
    role: str,
    window: Sequence[_Snapshot],
    day: date,
    settings: Settings,
) -> Signal:
    label = _label(role)
    changes = sorted(
        ((s, before) for s in window if (before := _lost(s, role)) is not None),
        key=lambda change: (-change[0].as_of.toordinal(), change[1].name),
    )
    period = f"in the {settings.change_window_days} days to {day}"
    if not changes:
        evidence = f"no {label} change {period}"
    else:
        latest, before = changes[0]
        elapsed = (day - latest.as_of).days
        ago = f"{_days(elapsed)} before {day}" if elapsed else "the day of the run"
        if latest.state.status == "left":
            evidence = f"{label} {before.who()} left the company on {latest.as_of}, {ago}"
        else:
            evidence = (
                f"{label} {before.who()} stopped being {label} on {latest.as_of}, {ago}; "
                f"now {latest.state.position()}"
            )
        if len(changes) > 1:
            evidence += f"; {_plural(len(changes) - 1, f'more {label} change')} {period}"
    return Signal(
        account_id=account_id,
        key=key,
        value=1 if changes else 0,
        dimension="engagement",
        evidence=evidence,
    )


def _tagged_signal(account_id: str, sponsors: Sequence[_Snapshot], active: int) -> Signal:
    among = f"among {_plural(active, 'active contact')}"
    if sponsors:
        names = ", ".join(s.state.who() for s in sponsors)
        evidence = f"{_plural(len(sponsors), 'executive sponsor')} tagged {among}: {names}"
    else:
        evidence = f"no executive sponsor tagged {among}"
    return Signal(
        account_id=account_id,
        key="contacts.sponsor_tagged",
        value=1 if sponsors else 0,
        dimension="engagement",
        evidence=evidence,
    )


def _meeting_signal(
    account_id: str,
    sponsors: Sequence[_Snapshot],
    meetings: dict[tuple[str, str], _LastMeeting],
    day: date,
    settings: Settings,
) -> Signal:
    met = {s.contact_id: m for s in sponsors if (m := meetings.get((account_id, s.contact_id)))}
    if met:
        last = max(met.values(), key=lambda m: m.day)
        present = [s for s in sponsors if s.contact_id in met and met[s.contact_id].day == last.day]
        days = (day - last.day).days
        who = "executive sponsor" if len(present) == 1 else "executive sponsors"
        evidence = (
            f"last met {who} {_names(present)} {_days(days)} ago "
            f"({_label(last.kind)} on {last.day})"
        )
    else:
        # No current sponsor was ever met: the clock runs from the longest-known one.
        first = min(sponsors, key=lambda s: (s.first_as_of, s.state.name, s.contact_id))
        days = (day - first.first_as_of).days
        if len(sponsors) == 1:
            evidence = (
                f"executive sponsor {first.state.name} has never been met in the "
                f"{_days(days)} since first recorded on {first.first_as_of}"
            )
        else:
            evidence = (
                f"none of {len(sponsors)} executive sponsors has ever been met; "
                f"{first.state.name}, the longest known, was first recorded {_days(days)} ago "
                f"({first.first_as_of})"
            )
    sla = settings.sponsor_meeting_sla_days
    verdict = (
        f"breached by {_days(days - sla)}" if days > sla else f"within it by {_days(sla - days)}"
    )
    return Signal(
        account_id=account_id,
        key="contacts.days_since_sponsor_meeting",
        value=days,
        dimension="engagement",
        evidence=f"{evidence}; service level is every {_days(sla)}: {verdict}",
    )


def _active_signal(account_id: str, active: int, recorded: int, day: date) -> Signal:
    # Zero is a true observation here (everyone recorded has left), so it is emitted.
    return Signal(
        account_id=account_id,
        key="contacts.active_contacts",
        value=active,
        dimension="engagement",
        evidence=(
            f"{_plural(active, 'active contact')} on {day} out of {recorded} recorded "
            f"({recorded - active} left the company)"
        ),
    )
