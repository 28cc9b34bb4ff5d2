"""Health statuses: rules evaluated in a run, and the transitions they record.

An account's status changes only through a transition (from, to, when, which rules
or which person, the evidence), and transitions are never updated or deleted (the
database refuses it). The status as of any past day is the last transition on or
before it, and history only goes forward: a run for a day before the last evaluated
one leaves every account as it was (counted as skipped). A person's override is a
transition too; it pins the status until it expires, and the first run after that
lets the rules speak again.

Everything here runs inside the engine's transaction for the day, with every
account of the run read in a handful of queries (never one per account).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import msgspec
from sqlite_utils import Database

from telltales.contracts import BATCH_TABLE, RuleFiring, RuleMatch
from telltales.errors import InputError
from telltales.models import Account, HealthStatus, Score, Signal, StatusTransition
from telltales.observability import RULES_FIRED
from telltales.playbooks.pilots import Cohort, Pilot, load_pilots, pilots_in_force
from telltales.playbooks.plan import Plan
from telltales.playbooks.rules import (
    STATUSES,
    Rule,
    describe_firing,
    grade_disagreement,
    worst_status,
)
from telltales.signals.scorecards import HEALTH_SCORER
from telltales.store import Store
from telltales.store.history import is_live, not_live_reason

RuleState = str
"""``pending`` (holding, not yet for hold_days), ``fired`` (became active today),
``active`` (still holding since it fired, by its clearing thresholds), ``held`` (no
longer holding, but kept active by its ``min_stay_days`` since it fired),
``cooldown`` (would fire, but fired too recently)."""

ACTIVE_STATES = ("fired", "active", "held")
MAX_OVERRIDE_DAYS = 365


@dataclass(frozen=True)
class NewTransition:
    """A transition recorded by this run, with what a playbook needs to start."""

    transition_id: int
    account: Account
    from_status: str | None
    to_status: HealthStatus
    rules: frozenset[str]
    firings: tuple[RuleFiring, ...]
    cohort: Cohort
    pilot: Pilot | None
    as_of: date
    at: datetime


@dataclass
class StatusSummary:
    evaluated: int = 0
    fired: int = 0
    fired_live: int = 0
    transitions: list[NewTransition] = field(default_factory=list)
    overrides_ended: int = 0
    skipped: int = 0
    """Accounts left as they were: a later day was already evaluated, or a person
    overrode the status after this day. History goes forward only."""


def evaluate(
    db: Database,
    plan: Plan,
    as_of: date,
    accounts: Mapping[str, Account],
    signals: Mapping[str, Sequence[Signal]],
    scores: Sequence[Score],
    run_id: int,
    at: datetime,
    failed: frozenset[str] = frozenset(),
) -> StatusSummary:
    """Evaluate every rule for the batch in ``BATCH_TABLE``; record hits and transitions.

    ``failed`` names the sources and scorers that failed in this run: a rule that
    reads one of them cannot be evaluated, so what it said on the account's last
    evaluated day is carried over rather than read as "no longer holds" (a day's
    outage must not write a recovery into the history).
    """
    summary = StatusSummary()
    day = as_of.isoformat()
    evaluated_days = _evaluated_days(db)
    previous = _previous_hits(db, day)
    last_fired = _last_fired(
        db,
        day,
        max((max(r.cooldown_days, r.min_stay_days) for r in plan.rules.values()), default=0),
    )
    current = current_statuses(db)
    overrides = _open_overrides(db)
    in_force = pilots_in_force(load_pilots(db), as_of)
    by_account: dict[str, dict[str, Score]] = {}
    for score in scores:
        by_account.setdefault(score.account_id, {})[score.scorer] = score
    carried = {name: _reads_failed(rule, failed) for name, rule in plan.rules.items()}
    hits: list[tuple[object, ...]] = []
    evaluated: list[str] = []
    skipped: list[str] = []
    encode = msgspec.json.encode
    for account_id in sorted(accounts):
        account = accounts[account_id]
        status_now = current.get(account_id)
        last_day = evaluated_days.get(account_id)
        if (last_day is not None and last_day > day) or (
            status_now is not None and status_now[1] > day
        ):
            # A later day was evaluated for it (or a person overrode the status after
            # this day): what this day would say is already history, and stays so.
            summary.skipped += 1
            skipped.append(account_id)
            continue
        summary.evaluated += 1
        evaluated.append(account_id)
        pilot = in_force.get(account.csm_group)
        cohort: Cohort = pilot.cohort_of(account_id) if pilot else "none"
        account_signals = {s.key: s for s in signals.get(account_id, ())}
        account_scores = by_account.get(account_id, {})
        active: list[RuleFiring] = []
        for rule in plan.rules.values():
            before = previous.get((account_id, rule.name))
            state: RuleState = ""
            if carried[rule.name]:
                if before is None:
                    continue
                state = "active" if before[0] in ACTIVE_STATES else before[0]
                held_since = date.fromisoformat(before[1])
                matches = msgspec.json.decode(before[2], type=tuple[RuleMatch, ...])
            else:
                was_active = before is not None and before[0] in ACTIVE_STATES
                found = rule.matches(account, account_signals, account_scores, active=was_active)
                if found is None:
                    if not (was_active and before and _stays(rule, last_fired, account_id, as_of)):
                        continue
                    # Kept by its minimum stay: the evidence it fired on stands.
                    state = "held"
                    found = msgspec.json.decode(before[2], type=tuple[RuleMatch, ...])
                matches = found
                held_since = date.fromisoformat(before[1]) if before else as_of
            if carried[rule.name] or state == "held":
                pass  # the state read above stands
            elif (as_of - held_since).days + 1 < rule.hold_days:
                state = "pending"
            elif before is not None and before[0] in ACTIVE_STATES:
                state = "active"
            else:
                fired_on = last_fired.get((account_id, rule.name))
                recent = fired_on is not None and (as_of - fired_on).days < rule.cooldown_days
                state = "cooldown" if recent else "fired"
            live = pilot is not None and cohort == "pilot" and rule.name in pilot.rules
            if state == "fired":
                summary.fired += 1
                summary.fired_live += live
                mode = "live" if live else "shadow"
                RULES_FIRED.add(1, {"telltales.rule": rule.name, "telltales.mode": mode})
            hits.append(
                (
                    day,
                    account_id,
                    rule.name,
                    state,
                    held_since.isoformat(),
                    rule.status,
                    rule.severity,
                    "live" if live else "shadow",
                    cohort,
                    pilot.pilot_id if pilot else None,
                    account.owner,
                    account.csm_group,
                    account.segment,
                    encode(matches).decode(),
                    run_id,
                )
            )
            if state in ACTIVE_STATES:
                active.append(
                    RuleFiring(
                        rule=rule.name,
                        description=rule.description,
                        status=rule.status,
                        severity=rule.severity,
                        held_since=held_since,
                        matches=matches,
                    )
                )
        derived = worst_status([firing.status for firing in active])
        cause = "rules"
        override = overrides.get(account_id)
        if override is not None:
            override_id, expires_at = override
            if expires_at > at:
                continue
            db.execute(
                "UPDATE overrides SET ended_at = ?, end_reason = 'expired' WHERE override_id = ?",
                [expires_at.isoformat(), override_id],
            )
            summary.overrides_ended += 1
            cause = "override_ended"
        from_status = status_now[0] if status_now else None
        if derived == from_status:
            continue
        causes = tuple(f for f in active if f.status == derived)
        evidence = (
            " | ".join(describe_firing(f) for f in causes)
            if causes
            else f"no rule that sets a status holds as of {day}"
        )
        disagreement = grade_disagreement(
            derived, account_scores.get(HEALTH_SCORER), causes, plan.labels
        )
        if disagreement:
            evidence = f"{disagreement}: {evidence}"
        if cause == "override_ended":
            evidence = f"override expired; {evidence}"
        rules = frozenset(f.rule for f in causes)
        transition_id = insert_transition(
            db,
            account=account,
            as_of=as_of,
            at=at,
            from_status=from_status,
            to_status=derived,
            cause=cause,
            rules=sorted(rules),
            evidence=evidence,
            run_id=run_id,
            cohort=cohort,
            pilot_id=pilot.pilot_id if pilot else None,
        )
        summary.transitions.append(
            NewTransition(
                transition_id=transition_id,
                account=account,
                from_status=from_status,
                to_status=derived,
                rules=rules,
                firings=causes,
                cohort=cohort,
                pilot=pilot,
                as_of=as_of,
                at=at,
            )
        )
    if not evaluated:
        return summary
    # The day's earlier hits are replaced for the accounts evaluated, and only for them:
    # a skipped account keeps what its own run of the day recorded.
    db.execute(
        f"DELETE FROM rule_hits WHERE as_of = ? AND account_id IN (SELECT account_id FROM "
        f"{BATCH_TABLE}) AND account_id NOT IN (SELECT value FROM json_each(?))",
        [day, encode(skipped).decode()],
    )
    db.conn.executemany(
        "INSERT INTO rule_hits (as_of, account_id, rule, state, held_since, status, severity, "
        "mode, cohort, pilot_id, owner, csm_group, segment, matches, run_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        hits,
    )
    # Each account's last evaluated day, and the one before it (what a re-run of the
    # last day compares with).
    db.conn.executemany(
        "INSERT INTO rule_accounts (account_id, last_day) VALUES (?, ?) "
        "ON CONFLICT (account_id) DO UPDATE SET "
        "previous_day = CASE WHEN last_day < excluded.last_day THEN last_day "
        "ELSE previous_day END, last_day = max(last_day, excluded.last_day)",
        [(account_id, day) for account_id in evaluated],
    )
    return summary


def _stays(
    rule: Rule, last_fired: Mapping[tuple[str, str], date], account_id: str, as_of: date
) -> bool:
    """Whether the rule's last firing is within its minimum stay of ``as_of``."""
    fired_on = last_fired.get((account_id, rule.name))
    return fired_on is not None and (as_of - fired_on).days < rule.min_stay_days


def _reads_failed(rule: Rule, failed: frozenset[str]) -> bool:
    """Whether one of the rule's conditions reads a source or scorer that failed."""
    return any(
        (c.name.split(".", 1)[0] if c.kind == "signal" else c.name) in failed
        for c in rule.conditions
        if c.kind != "account"
    )


def _evaluated_days(db: Database) -> dict[str, str]:
    rows = db.execute(
        f"SELECT s.account_id, s.last_day FROM rule_accounts s "
        f"JOIN {BATCH_TABLE} b ON b.account_id = s.account_id"
    )
    return dict(rows.fetchall())


def _previous_hits(db: Database, day: str) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(state, held_since, matches) of each rule that held on the account's own last
    evaluated day before ``day``.

    CROSS JOIN fixes the join order (batch, then each account's days, then the hits by
    primary key): left to itself SQLite scanned every hit ever recorded, a cost that
    grew with each day of history.
    """
    rows = db.execute(
        f"""
        SELECT h.account_id, h.rule, h.state, h.held_since, h.matches
        FROM {BATCH_TABLE} b
        CROSS JOIN rule_accounts s ON s.account_id = b.account_id
        CROSS JOIN rule_hits h ON h.account_id = b.account_id AND h.as_of =
            CASE WHEN s.last_day < ? THEN s.last_day ELSE s.previous_day END
        """,
        [day],
    )
    return {
        (account_id, rule): (state, since, matches)
        for account_id, rule, state, since, matches in rows
    }


def _last_fired(db: Database, day: str, days: int) -> dict[tuple[str, str], date]:
    if days <= 0:
        return {}
    since = (date.fromisoformat(day) - timedelta(days=days)).isoformat()
    rows = db.execute(
        f"SELECT h.account_id, h.rule, max(h.as_of) FROM rule_hits h "
        f"JOIN {BATCH_TABLE} b ON b.account_id = h.account_id "
        "WHERE h.state = 'fired' AND h.as_of < ? AND h.as_of >= ? GROUP BY h.account_id, h.rule",
        [day, since],
    )
    return {(account_id, rule): date.fromisoformat(last) for account_id, rule, last in rows}


def current_statuses(db: Database, *, batch: bool = True) -> dict[str, tuple[str, str]]:
    """(status, as_of) of each account's latest transition (of the batch, by default)."""
    join = f"JOIN {BATCH_TABLE} b ON b.account_id = t.account_id" if batch else ""
    rows = db.execute(
        f"""
        SELECT account_id, to_status, as_of FROM (
            SELECT t.account_id, t.to_status, t.as_of, row_number() OVER (
                PARTITION BY t.account_id ORDER BY t.as_of DESC, t.at DESC, t.transition_id DESC
            ) AS position
            FROM transitions t {join}
        ) WHERE position = 1
        """
    )
    return {account_id: (status, as_of) for account_id, status, as_of in rows}


def _open_overrides(db: Database) -> dict[str, tuple[int, datetime]]:
    rows = db.execute(
        f"SELECT o.account_id, o.override_id, o.expires_at FROM overrides o "
        f"JOIN {BATCH_TABLE} b ON b.account_id = o.account_id WHERE o.ended_at IS NULL"
    )
    return {
        account_id: (override_id, datetime.fromisoformat(expires))
        for account_id, override_id, expires in rows
    }


def insert_transition(
    db: Database,
    *,
    account: Account,
    as_of: date,
    at: datetime,
    from_status: str | None,
    to_status: str,
    cause: str,
    rules: Sequence[str],
    evidence: str,
    run_id: int | None,
    cohort: str,
    pilot_id: str | None,
    override_id: int | None = None,
) -> int:
    cursor = db.execute(
        "INSERT INTO transitions (account_id, as_of, at, from_status, to_status, cause, rules, "
        "evidence, override_id, run_id, cohort, pilot_id, owner, csm_group, segment, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            account.account_id,
            as_of.isoformat(),
            at.isoformat(),
            from_status,
            to_status,
            cause,
            msgspec.json.encode(list(rules)).decode(),
            evidence,
            override_id,
            run_id,
            cohort,
            pilot_id,
            account.owner,
            account.csm_group,
            account.segment,
            datetime.now(UTC).isoformat(),
        ],
    )
    transition_id = cursor.lastrowid
    assert transition_id is not None
    return transition_id


# Reading back and overriding, for the CLI and the API.


_TRANSITION_COLUMNS = (
    "transition_id, account_id, as_of, at, from_status, to_status, cause, rules, evidence, "
    "cohort, pilot_id, override_id"
)


def transitions_of(store: Store, account_id: str) -> list[StatusTransition]:
    """Every transition of the account, oldest first."""
    rows = store.db.execute(
        f"SELECT {_TRANSITION_COLUMNS} FROM transitions WHERE account_id = ? "
        "ORDER BY as_of, at, transition_id",
        [account_id],
    )
    return [_transition(row) for row in rows]


def _transition(row: Sequence[object]) -> StatusTransition:
    record = dict(zip(_TRANSITION_COLUMNS.split(", "), row, strict=True))
    record["rules"] = msgspec.json.decode(str(record["rules"]))
    return msgspec.convert(record, StatusTransition, strict=False)


def status_as_of(store: Store, account_id: str, day: date) -> StatusTransition | None:
    """The transition that set the account's status as of ``day``, or None before any."""
    row = store.db.execute(
        f"SELECT {_TRANSITION_COLUMNS} FROM transitions WHERE account_id = ? AND as_of <= ? "
        "ORDER BY as_of DESC, at DESC, transition_id DESC LIMIT 1",
        [account_id, day.isoformat()],
    ).fetchone()
    return None if row is None else _transition(row)


def override_status(
    store: Store,
    account: Account,
    status: str,
    *,
    reason: str,
    until: datetime,
    by: str,
    now: datetime | None = None,
) -> StatusTransition:
    """Pin the account's status until ``until``; recorded as a transition."""
    now = now or datetime.now(UTC)
    if status not in STATUSES:
        raise InputError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
    if not reason.strip():
        raise InputError("reason: say why the status is overridden")
    if not by.strip():
        raise InputError("by: say who overrides the status")
    if until.utcoffset() is None:
        raise InputError("until: give a time with its time zone (UTC)")
    until = until.astimezone(UTC)
    if until <= now:
        raise InputError(f"until: {until:%Y-%m-%d %H:%M}Z is not in the future")
    if until - now > timedelta(days=MAX_OVERRIDE_DAYS):
        raise InputError(f"until: an override lasts at most {MAX_OVERRIDE_DAYS} days")
    if not is_live(account, now.date()):
        raise InputError(
            f"account {account.account_id!r} is not live on {now.date()} "
            f"({not_live_reason(account, now.date())}): it has no health status to override"
        )
    with store.transaction() as db:
        db.execute(
            "UPDATE overrides SET ended_at = ?, end_reason = 'replaced' "
            "WHERE account_id = ? AND ended_at IS NULL",
            [now.isoformat(), account.account_id],
        )
        override_id = db.execute(
            "INSERT INTO overrides (account_id, status, reason, created_by, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            [account.account_id, status, reason, by, now.isoformat(), until.isoformat()],
        ).lastrowid
        current = status_as_of(store, account.account_id, now.date())
        transition_id = insert_transition(
            db,
            account=account,
            as_of=now.date(),
            at=now,
            from_status=current.to_status if current else None,
            to_status=status,
            cause="override",
            rules=(),
            evidence=f"overridden by {by} until {until:%Y-%m-%d %H:%M}Z: {reason}",
            run_id=None,
            cohort=current.cohort if current else "none",
            pilot_id=current.pilot_id if current else None,
            override_id=override_id,
        )
        row = db.execute(
            f"SELECT {_TRANSITION_COLUMNS} FROM transitions WHERE transition_id = ?",
            [transition_id],
        ).fetchone()
    return _transition(row)
