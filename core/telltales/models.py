"""The things telltales knows about, as msgspec structs.

Structs decode and validate in one step (``msgspec.convert`` / ``msgspec.json.decode``),
so a bad record is refused with the field that is wrong, and they are cheap enough to
build by the million on the engine's hot path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
"""An id supplied by the customer's own systems (CRM id, email, ...)."""

SignalKey = Annotated[
    str,
    msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$", max_length=200),
]
"""``source.name``: the part before the first dot is the source that owns the key."""

Dimension = Literal[
    "fit",
    "current_state",
    "interest",
    "deployment",
    "engagement",
    "adoption",
    "roi",
]
"""What a signal speaks to. The first three are the fit / current state / interest
framing, the last four are DEAR (deployment, engagement, adoption, ROI)."""

DIMENSIONS: frozenset[str] = frozenset(Dimension.__args__)  # type: ignore[attr-defined]

LifecycleStage = Literal["onboarding", "adoption", "expansion", "renewal"]

ContactRole = Literal["champion", "executive_sponsor", "decision_maker", "admin", "user"]

Grade = Literal["green", "amber", "red", "insufficient_data"]

HealthStatus = Literal["healthy", "concern", "at_risk"]

RunStatus = Literal["running", "ok", "stale", "degraded", "failed", "interrupted", "undone"]
"""``interrupted``: left ``running`` by a process that is gone (killed, or its machine
stopped); nothing of it was stored. ``stale``: every component took part, but at
least one source's data was older than its freshness limit, so its signals are
missing (``RunResult.stale`` says which). ``undone``: its derived history was
removed by a correction (``telltales undo``), to run the days again."""

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
COUNT_MAX = 2**53 - 1
"""The largest count: beyond it a JSON number is no longer exact (and SQLite's own
limit, 2**63 - 1, is near; a larger integer could not be stored at all)."""
Count = Annotated[int, msgspec.Meta(ge=0, le=COUNT_MAX)]

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
"""The days telltales reasons about: a date outside them is a mistake (a year typed
as 0001 or 9999), and date arithmetic near the ends of the calendar would overflow."""


class Account(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A customer company and what it bought."""

    account_id: Identifier
    name: Annotated[str, msgspec.Meta(min_length=1)]
    owner: str = ""
    """The CSM who owns the account (email or name)."""
    csm_group: str = ""
    """The CSM team, e.g. ``emea-midmarket``; pilots are enabled per group."""
    segment: str = ""
    industry: str = ""
    employee_count: Count | None = None
    arr: NonNegative = 0.0
    seats_purchased: Count = 0
    seats_assigned: Count | None = None
    """Seats activated; None when not reported, which is unknown, not 0 (no deployment
    share is computed over it)."""
    products: list[str] = msgspec.field(default_factory=list)
    lifecycle_stage: LifecycleStage = "adoption"
    renewal_date: date | None = None
    core_features: Annotated[list[str], msgspec.Meta(max_length=5)] = msgspec.field(
        default_factory=list
    )
    """The three to five features the customer's use case depends on."""


class Contact(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A person at an account and the roles they hold there."""

    contact_id: Identifier
    account_id: Identifier
    name: str = ""
    email: str = ""
    roles: list[ContactRole] = msgspec.field(default_factory=list)


class Signal(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """One observation about one account as of one day, produced by one source.

    A source builds signals with ``account_id``, ``key``, ``value``, ``dimension``
    and ``evidence``; the engine stamps ``as_of`` and ``source``.
    """

    account_id: str
    key: str
    value: float
    dimension: Dimension
    evidence: str
    """The observation in plain words, with the numbers and what they were compared with."""
    as_of: date | None = None
    source: str = ""


def signal_problem(signal: object) -> str | None:
    """Say what is wrong with something a source returned as a signal, or None.

    Structs are not validated when constructed, so the engine checks what plugins
    hand back before it is stored: garbage from one source must not reach the store.
    """
    if not isinstance(signal, Signal):
        return f"expected a Signal, got {type(signal).__name__}"
    value = signal.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"signal {signal.key!r}: value must be a number, got {type(value).__name__}"
    if not math.isfinite(value):
        return f"signal {signal.key!r}: value must be finite, got {value}"
    if signal.dimension not in DIMENSIONS:
        return f"signal {signal.key!r}: unknown dimension {signal.dimension!r}"
    if not isinstance(signal.evidence, str) or not signal.evidence.strip():
        return f"signal {signal.key!r}: evidence must be a non-empty sentence"
    return None


class MeasureResult(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """One line of a score's breakdown: what was measured and what it earned."""

    measure: str
    component: str
    signal_key: str
    value: float | None
    """The signal's value, or None when the signal was missing."""
    points: float | None
    """0..100, or None when the signal was missing (its weight went to the others)."""
    weight: float
    """The measure's share of the score as computed: the points times these weights
    add up to the score. A missing measure has 0; its configured weight went to the
    measures that had data."""
    evidence: str
    configured_weight: float | None = None
    """The measure's share of the score as configured, before missing measures' weight
    was spread over the others; None when the scorer has no such notion."""


class ScoreTrend(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """How a score compares with the stored score of the same scorer some days before."""

    days: int
    """How many days before (7 or 30)."""
    as_of: date
    value: float | None
    """The earlier score's value (None when it had too little data)."""
    grade: Grade
    change: float | None
    """This score minus the earlier one; None when either had too little data."""
    config_id: str
    same_config: bool
    """False when the earlier score came from another configuration, so the change may
    be the configuration's rather than the account's."""


class Score(msgspec.Struct, kw_only=True, frozen=True):
    """A scorer's verdict on one account as of one day, with its full breakdown."""

    account_id: str
    scorer: str
    value: float | None
    """0..100, or None when coverage was too low to say."""
    grade: Grade
    label: str
    coverage: float
    """Share of the measures' weight that had data (0..1)."""
    breakdown: tuple[MeasureResult, ...] = ()
    config_id: str = ""
    """Identifies the configuration that produced the score, so it can be reproduced."""
    as_of: date | None = None
    trend_7d: ScoreTrend | None = None
    """Against the stored score of 7 days before; None when there is none."""
    trend_30d: ScoreTrend | None = None
    """Against the stored score of 30 days before; None when there is none."""


def score_problem(score: object) -> str | None:
    """Say what is wrong with something a scorer returned as a score, or None."""
    if not isinstance(score, Score):
        return f"expected a Score, got {type(score).__name__}"
    if score.value is not None and not (
        isinstance(score.value, int | float) and 0 <= score.value <= 100
    ):
        return f"score for {score.account_id!r}: value must be within 0..100, got {score.value!r}"
    if not 0 <= score.coverage <= 1:
        return f"score for {score.account_id!r}: coverage must be within 0..1"
    if score.grade not in Grade.__args__:  # type: ignore[attr-defined]
        return f"score for {score.account_id!r}: unknown grade {score.grade!r}"
    return None


class StatusTransition(msgspec.Struct, kw_only=True, frozen=True):
    """A change of an account's health status; history is made only of these."""

    transition_id: int
    account_id: str
    as_of: date
    """The day whose data caused it."""
    at: datetime
    from_status: HealthStatus | None
    to_status: HealthStatus
    cause: Literal["rules", "override", "override_ended", "imported"]
    rules: tuple[str, ...]
    """The rules behind it (for ``rules``): every active rule that sets the new status."""
    evidence: str
    cohort: Literal["pilot", "control", "none"] = "none"
    pilot_id: str | None = None
    override_id: int | None = None


class RunFailure(msgspec.Struct, kw_only=True, frozen=True):
    """A plugin object that failed during a run; its output is missing from the run."""

    plugin: str
    component: str
    """``source:<name>`` or ``scorer:<name>``."""
    error: str


class StaleSource(msgspec.Struct, kw_only=True, frozen=True):
    """A source whose latest data was older than its limit on a run's day (or now)."""

    source: str
    last_day: date
    """The latest day of its data, over all accounts, on or before the day."""
    days_old: int
    """Days from ``last_day`` to the day."""
    limit_days: int
    """Its freshness limit: ``[freshness]``, else the source's own default."""


class SourceDays(msgspec.Struct, kw_only=True, frozen=True):
    """A source's latest day over all accounts as of a run's day, as the run records it."""

    source: str
    last_day: date | None
    limit_days: int | None


def stale_among(days: Sequence[SourceDays], as_of: date) -> list[StaleSource]:
    """The sources whose latest data is older than their limit on ``as_of``.

    A source with no data at all on or before the day is not stale: it is not
    connected, and gives no signal anyway.
    """
    return [
        StaleSource(
            source=found.source,
            last_day=found.last_day,
            days_old=(as_of - found.last_day).days,
            limit_days=found.limit_days,
        )
        for found in days
        if found.last_day is not None
        and found.limit_days is not None
        and (as_of - found.last_day).days > found.limit_days
    ]


class RunActions(msgspec.Struct, kw_only=True, frozen=True):
    """What a run's rules and playbooks did (none of it when the run had no plan)."""

    evaluated: int = 0
    """Accounts whose rules were evaluated."""
    skipped: int = 0
    """Accounts left alone because their status history already goes past the day."""
    rules_fired: int = 0
    rules_fired_live: int = 0
    transitions: int = 0
    overrides_ended: int = 0
    playbooks_live: int = 0
    playbooks_shadow: int = 0
    playbooks_held_back: int = 0
    playbooks_already_open: int = 0
    tasks: int = 0
    deliveries: int = 0


class RunResult(msgspec.Struct, kw_only=True, frozen=True):
    """What one engine run did, and whether every source took part."""

    run_id: int
    as_of: date
    status: RunStatus
    accounts: int
    signals: int
    scores: int
    started_at: datetime
    finished_at: datetime | None = None
    failures: tuple[RunFailure, ...] = ()
    actions: RunActions | None = None
    stale: tuple[StaleSource, ...] = ()
    """Sources left out because their data was too old: their signals are missing."""
