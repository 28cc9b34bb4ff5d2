"""Renewal outcomes: what each renewal was worth before and after, kept with every revision.

The retention and renewal metrics are computed from these rows, so a renewal is
checked as it comes in (a churned renewal is worth 0 after, a renewed one more than
0) and stored with who owned the account and which pilot cohort it was in on the
renewal date: a later move of the account to another team does not move its past
renewals. Recording the same values again changes nothing; different values replace
the row, and every version ever recorded stays in ``renewal_revisions``. A churned
renewal ends the account: a version from the renewal date says it churned
(docs/time.md#lifecycle).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Literal

import msgspec
from sqlite_utils import Database

from telltales.errors import InputError
from telltales.models import Identifier
from telltales.playbooks.pilots import Cohort, Pilot, load_pilots
from telltales.store import Store
from telltales.store.history import churn_from_renewal, undo_churn_from_renewal
from telltales.store.queries import equality_filter

Outcome = Literal["renewed", "churned"]
RenewalSource = Literal["api", "import", "cli"]

MAX_PROBLEMS = 100
"""Problems listed in one error; a file with more is cut here, with the total given."""


class RenewalOutcome(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """One renewal as a CRM or a person reports it."""

    account_id: Identifier
    renewal_date: date
    arr_before: Annotated[float, msgspec.Meta(gt=0)]
    """The ARR up for renewal."""
    arr_after: Annotated[float, msgspec.Meta(ge=0)]
    """The ARR after the renewal: 0 when the customer churned."""
    outcome: Outcome
    discount_percent: Annotated[float, msgspec.Meta(ge=0, le=100)] = 0.0
    """The discount given to renew, 0 to 100 (0 when none was given)."""


class Renewal(msgspec.Struct, kw_only=True, frozen=True):
    """A renewal as stored: its values, whose account it was, and who recorded it."""

    account_id: str
    renewal_date: date
    arr_before: float
    arr_after: float
    discount_percent: float
    outcome: Outcome
    owner: str
    csm_group: str
    segment: str
    """Owner, CSM group and segment of the account when the renewal was recorded."""
    cohort: Cohort
    """The account's cohort under the pilot covering its group on the renewal date."""
    pilot_id: str | None
    source: RenewalSource
    recorded_at: datetime
    recorded_by: str


class RenewalCounts(msgspec.Struct, kw_only=True, frozen=True):
    """What recording a batch did: new renewals, changed ones, and ones sent again as they were."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


class RecordProblem(msgspec.Struct, kw_only=True, frozen=True):
    """One invalid record of a batch: its section, its index there, the field and why."""

    section: str
    index: int
    field: str
    reason: str

    @property
    def path(self) -> str:
        """``renewals[3].arr_after``: where the problem is in the batch."""
        item = f"{self.section}[{self.index}]"
        return f"{item}.{self.field}" if self.field else item


class InvalidRecords(InputError):
    """A batch with invalid records: each one named by section, index and field; nothing stored."""

    def __init__(self, problems: Sequence[RecordProblem]) -> None:
        self.problems = list(problems[:MAX_PROBLEMS])
        self.total = len(problems)
        lines = [f"{p.path}: {p.reason}" for p in self.problems]
        if self.total > len(self.problems):
            lines.append(f"... and {self.total - len(self.problems)} more")
        super().__init__(f"{self.summary}:\n" + "\n".join(f"  {line}" for line in lines))

    @property
    def summary(self) -> str:
        return f"{self.total} invalid record(s); nothing was stored"


@dataclass(frozen=True)
class AccountSnapshot:
    """What a renewal or an imported row copies from its account."""

    owner: str
    csm_group: str
    segment: str


def load_accounts(db: Database, account_ids: Iterable[str]) -> dict[str, AccountSnapshot]:
    """The owner, group and segment of each of these accounts that exists, in one query."""
    ids = msgspec.json.encode(sorted(set(account_ids))).decode()
    rows = db.execute(
        "SELECT account_id, owner, csm_group, segment FROM accounts "
        "WHERE account_id IN (SELECT value FROM json_each(?))",
        [ids],
    )
    return {row[0]: AccountSnapshot(*row[1:]) for row in rows}


def unknown_account(account_id: str) -> str:
    """The same words for a missing account and one outside the caller's groups."""
    return f"unknown account {account_id!r}; add it with `telltales ingest accounts` first"


def check_renewals(
    records: Sequence[RenewalOutcome],
    accounts: dict[str, AccountSnapshot],
    *,
    csm_groups: frozenset[str] | None = None,
) -> list[RecordProblem]:
    """What is wrong with each record, beyond what its type already checked.

    ``csm_groups`` limits the accounts the caller may act on; an account outside
    them is reported exactly like a missing one, so a limited caller learns nothing
    about other groups.
    """
    problems: list[RecordProblem] = []
    seen: dict[tuple[str, date], int] = {}

    def problem(index: int, field: str, reason: str) -> None:
        problems.append(RecordProblem(section="renewals", index=index, field=field, reason=reason))

    for index, record in enumerate(records):
        account = accounts.get(record.account_id)
        if account is None or (csm_groups is not None and account.csm_group not in csm_groups):
            problem(index, "account_id", unknown_account(record.account_id))
        for field in ("arr_before", "arr_after", "discount_percent"):
            if not math.isfinite(getattr(record, field)):
                problem(index, field, "must be a finite number")
        if record.outcome == "churned" and record.arr_after != 0:
            problem(
                index,
                "arr_after",
                f"a churned renewal keeps no ARR: arr_after must be 0, not {record.arr_after:g}",
            )
        if record.outcome == "renewed" and record.arr_after == 0:
            problem(
                index,
                "arr_after",
                "a renewal with outcome 'renewed' keeps some ARR: arr_after must be more than 0 "
                "(say outcome 'churned' if the customer left)",
            )
        key = (record.account_id, record.renewal_date)
        if key in seen:
            problem(
                index,
                "renewal_date",
                f"renewals[{seen[key]}] is the same renewal ({record.account_id} on "
                f"{record.renewal_date}); send each renewal once",
            )
        else:
            seen[key] = index
    return problems


def record_renewals(
    store: Store,
    records: Sequence[RenewalOutcome],
    *,
    source: RenewalSource,
    by: str,
    csm_groups: frozenset[str] | None = None,
) -> RenewalCounts:
    """Check and store a batch of renewals in one transaction: all of them or none.

    Raises :class:`InvalidRecords` naming every invalid record (up to
    :data:`MAX_PROBLEMS`); nothing is stored then.
    """
    if not by.strip():
        raise InputError("by: say who records the renewals")
    with store.transaction() as db:
        accounts = load_accounts(db, (r.account_id for r in records))
        problems = check_renewals(records, accounts, csm_groups=csm_groups)
        if problems:
            raise InvalidRecords(problems)
        return write_renewals(db, records, accounts, source=source, by=by)


def write_renewals(
    db: Database,
    records: Sequence[RenewalOutcome],
    accounts: dict[str, AccountSnapshot],
    *,
    source: RenewalSource,
    by: str,
) -> RenewalCounts:
    """Upsert checked renewals; a changed or new one also gets a revision row."""
    if not records:
        return RenewalCounts()
    keys = msgspec.json.encode([[r.account_id, r.renewal_date] for r in records]).decode()
    existing = {
        (account_id, renewal_date): tuple(values)
        for account_id, renewal_date, *values in db.execute(
            "SELECT account_id, renewal_date, arr_before, arr_after, discount_percent, outcome "
            "FROM renewals WHERE (account_id, renewal_date) IN "
            "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))",
            [keys],
        )
    }
    cohorts = PilotCalendar.load(db)
    now = datetime.now(UTC).isoformat()
    changed: list[tuple[object, ...]] = []
    created = updated = 0
    for record in records:
        day = record.renewal_date.isoformat()
        values = (record.arr_before, record.arr_after, record.discount_percent, record.outcome)
        before = existing.get((record.account_id, day))
        if before == values:
            continue
        if before is None:
            created += 1
        else:
            updated += 1
        account = accounts[record.account_id]
        cohort, pilot_id = cohorts.cohort_of(
            record.account_id, account.csm_group, record.renewal_date
        )
        changed.append(
            (
                record.account_id,
                day,
                *values,
                account.owner,
                account.csm_group,
                account.segment,
                cohort,
                pilot_id,
                source,
                now,
                by,
            )
        )
    db.conn.executemany(
        """
        INSERT INTO renewals (account_id, renewal_date, arr_before, arr_after, discount_percent,
            outcome, owner, csm_group, segment, cohort, pilot_id, source, recorded_at, recorded_by)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (account_id, renewal_date) DO UPDATE SET
            arr_before = excluded.arr_before, arr_after = excluded.arr_after,
            discount_percent = excluded.discount_percent, outcome = excluded.outcome,
            owner = excluded.owner, csm_group = excluded.csm_group, segment = excluded.segment,
            cohort = excluded.cohort, pilot_id = excluded.pilot_id, source = excluded.source,
            recorded_at = excluded.recorded_at, recorded_by = excluded.recorded_by
        """,
        changed,
    )
    db.conn.executemany(
        "INSERT INTO renewal_revisions (account_id, renewal_date, arr_before, arr_after, "
        "discount_percent, outcome, source, recorded_at, recorded_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*row[:6], *row[11:]) for row in changed],
    )
    for record in records:
        before = existing.get((record.account_id, record.renewal_date.isoformat()))
        if record.outcome == "churned":
            churn_from_renewal(db, record.account_id, record.renewal_date)
        elif before is not None and before[3] == "churned":
            undo_churn_from_renewal(db, record.account_id, record.renewal_date)
    return RenewalCounts(created=created, updated=updated, unchanged=len(records) - len(changed))


@dataclass(frozen=True)
class PilotCalendar:
    """Which pilot covered a CSM group on a past day, and the account's cohort in it.

    A pilot covers its groups from its start day while it is enabled, and a pilot
    since disabled or ended still covers the days before it was: renewals are often
    recorded after a pilot ends, and they belong to the cohort they were in.
    """

    pilots: tuple[Pilot, ...]
    left_on: dict[str, date]
    """The day each pilot that is no longer enabled was last disabled or ended."""

    @classmethod
    def load(cls, db: Database) -> PilotCalendar:
        left = db.execute(
            "SELECT pilot_id, max(at) FROM pilot_events WHERE event IN ('disabled', 'ended') "
            "GROUP BY pilot_id"
        )
        return cls(
            pilots=tuple(load_pilots(db)),
            left_on={pilot_id: datetime.fromisoformat(at).date() for pilot_id, at in left},
        )

    def covering(self, csm_group: str, day: date) -> Pilot | None:
        """The pilot covering ``csm_group`` on ``day`` (the latest started, if several)."""
        found: Pilot | None = None
        for pilot in self.pilots:
            if csm_group not in pilot.csm_groups or day < pilot.starts_on:
                continue
            if pilot.state != "enabled":
                left = self.left_on.get(pilot.pilot_id)
                if left is None or day >= left:
                    continue
            if found is None or pilot.starts_on > found.starts_on:
                found = pilot
        return found

    def cohort_of(self, account_id: str, csm_group: str, day: date) -> tuple[Cohort, str | None]:
        pilot = self.covering(csm_group, day)
        return ("none", None) if pilot is None else (pilot.cohort_of(account_id), pilot.pilot_id)


_COLUMNS = (
    "account_id, renewal_date, arr_before, arr_after, discount_percent, outcome, owner, "
    "csm_group, segment, cohort, pilot_id, source, recorded_at, recorded_by"
)


def list_renewals(
    store: Store,
    *,
    csm_group: str | None = None,
    segment: str | None = None,
    account_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
    groups: frozenset[str] | None = None,
    after: tuple[str, str] | None = None,
    limit: int = 100,
) -> list[Renewal]:
    """Renewals due from ``start`` to ``end`` (both included) matching every filter given.

    Ordered by renewal date and account; ``after`` resumes after that (date, account)
    and ``groups`` keeps the renewals of those CSM groups only (None: every group).
    """
    clause, params = equality_filter(csm_group=csm_group, segment=segment, account_id=account_id)
    where = [clause.removeprefix("WHERE ")] if clause else []
    if start is not None:
        where.append("renewal_date >= ?")
        params.append(start.isoformat())
    if end is not None:
        where.append("renewal_date <= ?")
        params.append(end.isoformat())
    if groups is not None:
        where.append("csm_group IN (SELECT value FROM json_each(?))")
        params.append(msgspec.json.encode(sorted(groups)).decode())
    if after is not None:
        where.append("(renewal_date, account_id) > (?, ?)")
        params.extend(after)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM renewals {clause} ORDER BY renewal_date, account_id LIMIT ?",
        [*params, limit],
    )
    names = _COLUMNS.split(", ")
    return [
        msgspec.convert(dict(zip(names, row, strict=True)), Renewal, strict=False) for row in rows
    ]
