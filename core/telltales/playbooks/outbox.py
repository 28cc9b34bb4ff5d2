"""The outbox: every delivery a playbook makes, recorded first and delivered after.

A playbook run's deliveries are written in the transaction that records the
transition which started it, so a crash can lose neither. A worker then claims one
due delivery at a time (committing the claim before it acts), calls the action, and
records the attempt. Each delivery carries one idempotency key for all its attempts:
if the worker dies after the destination acted but before the attempt was recorded,
the claim's lease runs out, the delivery is attempted again with the same key, and
the destination, which has seen the key, does not act twice. Failed attempts are
retried with exponential backoff; past ``max_attempts``, or when the destination
refuses for good, the delivery is *failed* and listed, never dropped.

Every claim is an attempt in ``delivery_attempts``: one whose worker stopped before
recording it is logged, as having left no result, by the worker that claims the
delivery next. A worker that overran its lease still logs what happened, but only
changes the delivery if it delivered: the worker that took over decides the rest.
Times are stored in UTC, so comparing their text compares the instants.

An attempt runs under ``[outbox] attempt_time_limit_seconds``, in a thread of its
own: one that overruns (a receiver that trickles its answer, a hung connection) is a
failed, retryable attempt, and the worker moves on. The abandoned call may still
reach its destination later; the next attempt carries the same idempotency key, so
the destination acts once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import msgspec
from opentelemetry import trace
from sqlite_utils import Database

from telltales.clock import now as utc_now
from telltales.clock import stamp as utc_stamp
from telltales.contracts import ActionOutcome, ActionRequest, PlaybookAction, RuleFiring
from telltales.errors import InputError
from telltales.models import Account
from telltales.observability import ACTIONS_DELIVERED, ACTIONS_FAILED, plugin_failed
from telltales.playbooks.plan import Plan
from telltales.plugins import Entry, Registry, TimeLimitExceeded, call_with_time_limit
from telltales.store import Store
from telltales.store.queries import equality_filter

DeliveryStatus = Literal["awaiting_approval", "pending", "delivered", "failed", "cancelled"]

tracer = trace.get_tracer("telltales")


class DeliveryPayload(msgspec.Struct, kw_only=True, frozen=True):
    """What a delivery needs, stored with it so every attempt sends the same thing.

    Settings (which hold secrets) are not stored: each attempt reads them from the
    configuration of the worker.
    """

    idempotency_key: str
    account: Account
    reason: str
    evidence: str
    playbook: str
    playbook_run_id: int
    step: int
    status: str
    status_label: str
    as_of: date
    started_at: datetime
    firings: tuple[RuleFiring, ...]
    account_url: str
    manager: str

    def request(self, params: Any, settings: Any) -> ActionRequest:
        return ActionRequest(
            idempotency_key=self.idempotency_key,
            account=self.account,
            params=params,
            reason=self.reason,
            evidence=self.evidence,
            playbook=self.playbook,
            playbook_run_id=self.playbook_run_id,
            step=self.step,
            status=self.status,
            status_label=self.status_label,
            as_of=self.as_of,
            started_at=self.started_at,
            firings=self.firings,
            account_url=self.account_url,
            manager=self.manager,
            settings=settings,
        )


class Delivery(msgspec.Struct, kw_only=True, frozen=True):
    """A delivery as listed by ``telltales outbox`` and the API."""

    delivery_id: int
    playbook_run_id: int
    account_id: str
    playbook: str
    step: int
    action: str
    idempotency_key: str
    status: DeliveryStatus
    needs_approval: bool
    attempts: int
    next_attempt_at: datetime | None
    detail: str
    created_at: datetime
    finished_at: datetime | None


class Attempt(msgspec.Struct, kw_only=True, frozen=True):
    delivery_id: int
    attempt: int
    at: datetime
    delivered: bool
    detail: str


@dataclass
class WorkSummary:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempts(self) -> int:
        return self.delivered + self.retrying + self.failed


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    action: str
    payload: bytes
    params: bytes
    attempt: int
    """Counted since the delivery was queued (or last requeued): against ``max_attempts``."""
    number: int
    """Its number in the delivery's attempt log, which runs over the delivery's whole life."""
    lease: str
    """Until when this worker holds the delivery; also tells the claim from any later one."""


Clock = Callable[[], datetime]


LOST_ATTEMPT = "no result recorded: the lease ran out at {lease} (the worker stopped or overran it)"


def backoff(plan: Plan, attempts: int) -> timedelta:
    """Wait after ``attempts`` failed attempts: doubling from the base, up to the cap."""
    seconds = plan.outbox.backoff_seconds * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, plan.outbox.backoff_max_seconds))


def deliver_due(
    store: Store,
    registry: Registry,
    plan: Plan,
    *,
    clock: Clock = utc_now,
    limit: int | None = None,
    stop: threading.Event | None = None,
) -> WorkSummary:
    """Attempt every delivery that is due now, one at a time; return what happened."""
    summary = WorkSummary()
    while limit is None or summary.attempts < limit:
        if stop is not None and stop.is_set():
            break
        claim = _claim(store, plan, clock())
        if claim is None:
            break
        outcome = _attempt(registry, plan, claim)
        _settle(store, plan, claim, outcome, clock(), summary)
    return summary


def _claim(store: Store, plan: Plan, now: datetime) -> _Claim | None:
    stamp = utc_stamp(now)
    lease = utc_stamp(now + timedelta(seconds=plan.outbox.lease_seconds))
    with store.transaction() as db:
        row = db.execute(
            "SELECT delivery_id, action, payload, params, attempts, claimed_until FROM deliveries "
            "WHERE status = 'pending' AND next_attempt_at <= ? "
            "AND (claimed_until IS NULL OR claimed_until <= ?) "
            "ORDER BY next_attempt_at, delivery_id LIMIT 1",
            [stamp, stamp],
        ).fetchone()
        if row is None:
            return None
        delivery_id, action, payload, params, attempts, expired = row
        if expired is not None:
            # A claim that was never settled: its worker died (or is still at it, late).
            _log_attempt(db, delivery_id, stamp, False, LOST_ATTEMPT.format(lease=expired))
        (number,) = db.execute(
            "SELECT coalesce(max(attempt), 0) + 1 FROM delivery_attempts WHERE delivery_id = ?",
            [delivery_id],
        ).fetchone()
        db.execute(
            "UPDATE deliveries SET attempts = ?, claimed_until = ? WHERE delivery_id = ?",
            [attempts + 1, lease, delivery_id],
        )
    return _Claim(
        delivery_id=delivery_id,
        action=action,
        payload=payload.encode(),
        params=params.encode(),
        attempt=attempts + 1,
        number=number,
        lease=lease,
    )


def _log_attempt(db: Database, delivery_id: int, stamp: str, delivered: bool, detail: str) -> None:
    # Numbered over the delivery's whole life: a retried failure continues the count.
    db.execute(
        "INSERT INTO delivery_attempts (delivery_id, attempt, at, delivered, detail) "
        "SELECT ?, coalesce(max(attempt), 0) + 1, ?, ?, ? FROM delivery_attempts "
        "WHERE delivery_id = ?",
        [delivery_id, stamp, delivered, detail, delivery_id],
    )


ATTEMPT_TIME_LIMIT = "[outbox] attempt_time_limit_seconds"


def _attempt(registry: Registry, plan: Plan, claim: _Claim) -> ActionOutcome:
    entry = registry.actions.get(claim.action)
    error: Exception | None = None
    with tracer.start_as_current_span(
        "telltales.action",
        attributes={
            "telltales.plugin": entry.plugin if entry else "",
            "telltales.action": claim.action,
            "telltales.delivery_id": claim.delivery_id,
            "telltales.attempt": claim.number,
        },
    ) as span:
        try:
            outcome = call_with_time_limit(
                lambda: _execute(entry, plan, claim),
                plan.outbox.attempt_time_limit_seconds,
                ATTEMPT_TIME_LIMIT,
            )
            if not isinstance(outcome, ActionOutcome):
                raise TypeError(f"execute returned {type(outcome).__name__}, not ActionOutcome")
        except TimeLimitExceeded as overrun:
            error = overrun
            outcome = ActionOutcome(delivered=False, retryable=True, detail=str(overrun))
        except Exception as raised:
            error = raised
            outcome = ActionOutcome(delivered=False, detail=f"{type(raised).__name__}: {raised}")
        counter = ACTIONS_DELIVERED if outcome.delivered else ACTIONS_FAILED
        counter.add(1, {"telltales.action": claim.action})
        if not outcome.delivered:
            plugin_failed(
                span,
                plugin=entry.plugin if entry else "",
                component=f"action:{claim.action}",
                error=outcome.detail,
                where=f"delivery {claim.delivery_id} attempt {claim.number}",
                exception=error,
            )
    return outcome


def _execute(entry: Entry[PlaybookAction] | None, plan: Plan, claim: _Claim) -> Any:
    execute = getattr(entry.obj, "execute", None) if entry else None
    if entry is None or execute is None:
        return ActionOutcome(
            delivered=False, detail=f"action {claim.action!r} is not installed (or cannot execute)"
        )
    try:
        payload = msgspec.json.decode(claim.payload, type=DeliveryPayload)
    except msgspec.DecodeError as error:  # written by a version whose payload differed
        return ActionOutcome(
            delivered=False, retryable=False, detail=f"stored payload no longer valid: {error}"
        )
    params_type = getattr(entry.obj, "params_type", None)
    try:
        raw = msgspec.json.decode(claim.params)
        params = raw if params_type is None else msgspec.convert(raw, params_type)
    except msgspec.DecodeError as error:  # ValidationError included
        return ActionOutcome(
            delivered=False, retryable=False, detail=f"stored parameters no longer valid: {error}"
        )
    return execute(payload.request(params, plan.action_settings.get(claim.action)))


def _settle(
    store: Store,
    plan: Plan,
    claim: _Claim,
    outcome: ActionOutcome,
    now: datetime,
    summary: WorkSummary,
) -> None:
    stamp = utc_stamp(now)
    detail = " ".join(outcome.detail.split())[:1000]
    with store.transaction() as db:
        (holder,) = db.execute(
            "SELECT claimed_until FROM deliveries WHERE delivery_id = ?", [claim.delivery_id]
        ).fetchone()
        if holder != claim.lease:
            # Our lease ran out and another worker claimed the delivery: it decides what
            # happens next, unless we delivered, which is a fact whatever it finds.
            detail = f"after the lease ran out at {claim.lease}: {detail}"
            _log_attempt(db, claim.delivery_id, stamp, outcome.delivered, detail)
            if outcome.delivered:
                summary.delivered += 1
                db.execute(
                    "UPDATE deliveries SET status = 'delivered', next_attempt_at = NULL, "
                    "finished_at = ?, detail = ? WHERE delivery_id = ? "
                    "AND status IN ('pending', 'failed')",
                    [stamp, detail, claim.delivery_id],
                )
            else:
                summary.retrying += 1  # still pending, in the other worker's hands
            return
        _log_attempt(db, claim.delivery_id, stamp, outcome.delivered, detail)
        if outcome.delivered:
            status, next_at, finished = "delivered", None, stamp
            summary.delivered += 1
        elif not outcome.retryable or claim.attempt >= plan.outbox.max_attempts:
            status, next_at, finished = "failed", None, stamp
            why = "refused for good" if not outcome.retryable else "out of attempts"
            detail = f"{why} after {claim.attempt} attempt(s): {detail}"
            summary.failed += 1
        else:
            status, finished = "pending", None
            next_at = utc_stamp(now + backoff(plan, claim.attempt))
            summary.retrying += 1
        db.execute(
            "UPDATE deliveries SET status = ?, next_attempt_at = ?, finished_at = ?, detail = ?, "
            "claimed_until = NULL WHERE delivery_id = ? AND status = 'pending'",
            [status, next_at, finished, detail, claim.delivery_id],
        )


_DELIVERY_COLUMNS = (
    "d.delivery_id, d.playbook_run_id, r.account_id, r.playbook, d.step, d.action, "
    "d.idempotency_key, d.status, d.needs_approval, d.attempts, d.next_attempt_at, d.detail, "
    "d.created_at, d.finished_at"
)


def list_deliveries(
    store: Store,
    *,
    status: str | None = None,
    account_id: str | None = None,
    delivery_id: int | None = None,
    csm_groups: frozenset[str] | None = None,
    before: int | None = None,
    limit: int = 500,
) -> list[Delivery]:
    """The newest ``limit`` deliveries matching the filters, oldest of them first (a new
    failure is never cut off).

    ``csm_groups`` keeps the deliveries of those groups' accounts (None: every group);
    ``before`` keeps those with a smaller id, to page back through older ones.
    """
    clause, params = equality_filter(
        **{"d.status": status, "r.account_id": account_id, "d.delivery_id": delivery_id}
    )
    conditions = [clause.removeprefix("WHERE ")] if clause else []
    if csm_groups is not None:
        groups = sorted(csm_groups)
        conditions.append(
            "r.account_id IN (SELECT account_id FROM accounts "
            f"WHERE csm_group IN ({', '.join('?' for _ in groups)}))"
        )
        params += groups
    if before is not None:
        conditions.append("d.delivery_id < ?")
        params.append(before)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = store.db.execute(
        f"SELECT * FROM (SELECT {_DELIVERY_COLUMNS} FROM deliveries d "
        f"JOIN playbook_runs r ON r.playbook_run_id = d.playbook_run_id {where} "
        "ORDER BY d.delivery_id DESC LIMIT ?) ORDER BY delivery_id",
        [*params, limit],
    )
    names = [column.split(".", 1)[1] for column in _DELIVERY_COLUMNS.split(", ")]
    return [
        msgspec.convert(dict(zip(names, row, strict=True)), Delivery, strict=False) for row in rows
    ]


def find_delivery(
    store: Store, delivery_id: int, *, csm_groups: frozenset[str] | None = None
) -> Delivery | None:
    """One delivery, or None when there is none (or it is outside ``csm_groups``)."""
    found = list_deliveries(store, delivery_id=delivery_id, csm_groups=csm_groups, limit=1)
    return found[0] if found else None


def attempts_of(store: Store, delivery_id: int) -> list[Attempt]:
    rows = store.db.execute(
        "SELECT delivery_id, attempt, at, delivered, detail FROM delivery_attempts "
        "WHERE delivery_id = ? ORDER BY attempt",
        [delivery_id],
    )
    return [
        Attempt(
            delivery_id=d, attempt=n, at=datetime.fromisoformat(a), delivered=bool(ok), detail=t
        )
        for d, n, a, ok, t in rows
    ]


def retry_failed(store: Store, delivery_id: int, *, now: datetime | None = None) -> None:
    """Give a failed delivery another full set of attempts (after fixing its destination)."""
    stamp = utc_stamp(now or utc_now())
    with store.transaction() as db:
        row = db.execute(
            "SELECT status, attempts, detail FROM deliveries WHERE delivery_id = ?", [delivery_id]
        ).fetchone()
        if row is None:
            raise InputError(f"unknown delivery {delivery_id}")
        status, attempts, detail = row
        if status != "failed":
            raise InputError(f"delivery {delivery_id} is {status}; only a failed one is retried")
        if attempts == 0:
            # It failed while the run recorded it (its record step): nothing for the worker.
            raise InputError(
                f"delivery {delivery_id} failed when its run was recorded ({detail}); "
                "the worker cannot redo that: fix the cause, the next entry starts a new run"
            )
        db.execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
            "finished_at = NULL, detail = 'retry requested' WHERE delivery_id = ?",
            [stamp, delivery_id],
        )
