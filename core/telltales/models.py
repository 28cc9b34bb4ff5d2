"""The things telltales knows about, as msgspec structs.

Structs decode and validate in one step (``msgspec.convert`` / ``msgspec.json.decode``),
so a bad record is refused with the field that is wrong, and they are cheap enough to
build by the million on the engine's hot path.
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Literal

import msgspec
import msgspec.inspect

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

Lifecycle = Literal["active", "churned", "paused"]
"""Whether an account is a customer: ``active`` from its customer-since day; ``churned``
(it left) and ``paused`` (not live for now) from the day of the version that says so.
Only an active account is live: scored, listed at risk, counted among segment peers."""

ContactRole = Literal["champion", "executive_sponsor", "decision_maker", "admin", "user"]

Grade = Literal["green", "amber", "red", "insufficient_data"]

HealthStatus = Literal["healthy", "concern", "at_risk"]

AccountStatus = Literal["healthy", "concern", "at_risk", "inactive"]
"""A health status, or ``inactive``: the account is no longer live (churned or paused),
so whatever episode it was in ended; only a transition of cause ``lifecycle`` sets it."""

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
DAYS = f"{FIRST_DAY}..{LAST_DAY}"
DAY_PATTERN = r"^(19[0-9]{2}|2[0-9]{3})-"
"""A date or time written with a year in 1900..2999: how the OpenAPI schema states the
range (JSON Schema has no bound for a date)."""


NON_BLANK = r"[^\s\x1c-\x1f\x85\ufeff]"
"""A character that is not a space, to Python and to JSON Schema (ECMA-262) alike.

The two disagree on a few characters (Python counts 0x1C-0x1F and 0x85 as spaces,
ECMA-262 counts U+FEFF), which count as spaces here either way: a text the schema
calls non-blank (``pattern``) is one the server does (:func:`is_blank`).
"""


def is_blank(text: str) -> bool:
    """Whether ``text`` holds no character but spaces (see :data:`NON_BLANK`)."""
    return _NON_BLANK.search(text) is None


_NON_BLANK = re.compile(NON_BLANK)


def date_problem(value: date | datetime) -> str | None:
    """Why a date or time is outside :data:`FIRST_DAY`..:data:`LAST_DAY`, or None.

    A time is judged after conversion to UTC (a naive one is taken as UTC), since that
    is what is stored and compared: ``9999-12-31T23:59:59-23:59`` is in year 10000 in
    UTC, where Python's own conversion overflows.
    """
    if isinstance(value, datetime):
        try:
            day = (value if value.tzinfo is None else value.astimezone(UTC)).date()
        except OverflowError:
            return f"{value.isoformat()} is outside {DAYS} in UTC"
        if not FIRST_DAY <= day <= LAST_DAY:
            return f"{value.isoformat()} is outside {DAYS} in UTC"
        return None
    if not FIRST_DAY <= value <= LAST_DAY:
        return f"{value.isoformat()} is outside {DAYS}"
    return None


def to_utc(moment: datetime, field: str) -> datetime:
    """``moment`` in UTC (a naive time is taken as UTC), refused if out of range.

    For a record's ``__post_init__`` that converts a time: the ``ValueError`` names
    ``field``, and is reported at that field of the record, where the conversion
    itself would otherwise overflow (a 500 over the API).
    """
    problem = date_problem(moment)
    if problem is not None:
        raise ValueError(f"field {field!r}: {problem}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_dates(record: msgspec.Struct) -> None:
    """Refuse a record's date or time outside the days telltales reasons about.

    For a record's ``__post_init__`` that compares its dates (``due`` before
    ``planned_on``): called first, a year typed as 0001 is refused as out of range, at
    its own field, rather than as out of order. The ``ValueError`` names the field.
    (The core checks every decoded record the same way afterwards.)
    """
    found = find_date_problem(record)
    if found is not None:
        raise ValueError(f"field {found[0].lstrip('.')!r}: {found[1]}")


def find_date_problem(value: object) -> tuple[str, str] | None:
    """The first date or time in ``value`` outside the days telltales reasons about.

    ``value`` is a decoded body or record: structs (by the names their fields are
    encoded under), lists and dicts, at any depth. Returns its path (``.records[3].day``,
    ``[3].day`` for a list) and the reason, or None. The core checks every body and
    record it decodes with this, so no date reaches date arithmetic unchecked.
    """
    if isinstance(value, date):
        problem = date_problem(value)
        return None if problem is None else ("", problem)
    if isinstance(value, msgspec.Struct):
        for attribute, name in _dated_fields(type(value)):
            found = find_date_problem(getattr(value, attribute))
            if found is not None:
                return f".{name}{found[0]}", found[1]
        return None
    if isinstance(value, list | tuple):
        return _batch_date_problem(value)
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_date_problem(item)
            if found is not None:
                return f".{key}{found[0]}", found[1]
    return None


def _batch_date_problem(items: list[object] | tuple[object, ...]) -> tuple[str, str] | None:
    """A list, quickly when it is a batch of records of one type (100,000 usage rows).

    Each dated field's distinct values are checked once (a batch's days repeat), read
    in C through ``map``; a list is walked item by item only to find where a bad value
    is, or when it mixes types or its values cannot be told apart by hashing.
    """
    kinds = set(map(type, items))
    if len(kinds) == 1 and issubclass(kind := kinds.pop(), msgspec.Struct):
        for attribute, _ in _dated_fields(kind):
            try:
                distinct = set(map(operator.attrgetter(attribute), items))
            except TypeError:  # a list or a struct in the field: look at each item
                break
            if any(find_date_problem(day) for day in distinct if day is not None):
                break
        else:
            return None
    for index, item in enumerate(items):
        found = find_date_problem(item)
        if found is not None:
            return f"[{index}]{found[0]}", found[1]
    return None


@functools.cache
def _dated_fields(struct_type: type) -> tuple[tuple[str, str], ...]:
    """(attribute, encoded name) of each field of ``struct_type`` that can hold a date."""
    info = msgspec.inspect.type_info(struct_type)
    if not isinstance(info, msgspec.inspect.StructType):
        return ()
    return tuple((f.name, f.encode_name) for f in info.fields if _can_hold_dates(f.type))


def _can_hold_dates(kind: msgspec.inspect.Type) -> bool:
    if isinstance(kind, msgspec.inspect.DateType | msgspec.inspect.DateTimeType):
        return True
    if isinstance(kind, msgspec.inspect.UnionType):
        return any(_can_hold_dates(option) for option in kind.types)
    if isinstance(kind, msgspec.inspect.CollectionType):
        return _can_hold_dates(kind.item_type)
    if isinstance(kind, msgspec.inspect.TupleType):
        return any(_can_hold_dates(item) for item in kind.item_types)
    if isinstance(kind, msgspec.inspect.DictType):
        return _can_hold_dates(kind.value_type)
    if isinstance(kind, msgspec.inspect.StructType):
        return bool(_dated_fields(kind.cls))
    return False


class Account(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A customer company, what it bought and its contract, as of one day.

    Each record is one *version* of the account: the state that took effect on
    ``as_of`` (docs/time.md). The store keeps every version; a read as of a day sees
    the version in force that day, so a renewal date moved later never leaks into a
    replay of the days before the move.
    """

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
    """Annual recurring revenue; taken as 12 x ``mrr`` when only ``mrr`` is given."""
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
    as_of: date | None = None
    """The day this version became true. Left out: the day it is stored ("true from
    today", for live feeds); an account's first version left without it holds from its
    ``customer_since`` day, or from the start when that is unknown too."""
    customer_since: date | None = None
    """The first day the company was a customer; before it the account is not live
    and its usage windows do not reach back past it."""
    lifecycle: Lifecycle = "active"
    term_start: date | None = None
    """The first day of the contract term in force."""
    term_end: date | None = None
    """The last day of the contract term in force."""
    billing_period_months: Annotated[int, msgspec.Meta(ge=1, le=120)] | None = None
    mrr: NonNegative | None = None
    """Monthly recurring revenue, when the CRM speaks in months; must agree with ``arr``."""
    list_price: NonNegative | None = None
    """The term's annual price before discount, in the currency of ``arr``."""
    discount_percent: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    """The discount on the list price, 0 to 100."""
    plan: Annotated[str, msgspec.Meta(max_length=200)] = ""
    """The plan or tier bought (``enterprise``, ``team``)."""
    auto_renew: bool | None = None

    def __post_init__(self) -> None:
        # msgspec reports a ValueError raised here at the record: the message names the field.
        if self.mrr is not None:
            if not math.isfinite(self.mrr * 12):
                raise ValueError(f"field 'mrr': {self.mrr:g} a month is too large a number")
            if not self.arr:
                self.arr = round(self.mrr * 12, 2)
            elif abs(self.arr - self.mrr * 12) > 0.01 * max(1.0, self.arr):
                raise ValueError(
                    f"field 'mrr': {self.mrr:g} a month is {self.mrr * 12:g} a year, but arr "
                    f"is {self.arr:g}; send one of them, or two that agree"
                )
        if self.term_start and self.term_end and self.term_end < self.term_start:
            raise ValueError(
                f"field 'term_end' ({self.term_end}) is before term_start ({self.term_start})"
            )


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
    from_status: AccountStatus | None
    to_status: AccountStatus
    cause: Literal["rules", "override", "override_ended", "imported", "lifecycle"]
    """``lifecycle``: the account stopped being live (churned, paused) or became live
    again; the evidence says which version of the account said so."""
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
    """``source:<name>``, ``scorer:<name>``, ``action:<name>``, or ``plugin:<name>`` for
    an installed plugin that was left out (none of it ran)."""
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
    ended: int = 0
    """Accounts no longer live that day (churned, paused) whose status ended in this
    run: a transition to ``inactive``, their open tasks dismissed with the reason."""
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
    not_live: int = 0
    """Accounts asked for (or, for a run of every account, known) that were not live on
    the day: not computed. They churned or were paused, or are not customers yet."""
    stale: tuple[StaleSource, ...] = ()
    """Sources left out because their data was too old: their signals are missing."""
