"""What plugins register: the objects behind each hook, and the batches they are handed.

Hooks only register; the work happens in these objects. Each receives a narrow,
typed batch rather than the application, so the core can change its insides without
breaking a vendor's plugin. Batches only ever gain fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

import msgspec
import sqlite_utils

from telltales.models import Account, Dimension, Score, Signal, SignalKey

BATCH_TABLE = "temp.batch_accounts"
"""A one-column table (``account_id``) holding the accounts of the current batch.

Join it in a signal source's SQL to compute every account of the batch in one
set-based query."""

DAYS_TABLE = "temp.batch_days"
"""The accounts of each day of a :class:`DaysBatch` (plugin API 1.5): one row per day and
account live that day, ``day`` (ISO text) then every column of ``accounts`` as the
version in force that day. Join it to compute many days in one set-based query."""


class SignalSpec(msgspec.Struct, kw_only=True, frozen=True):
    """One signal a source can emit, declared up front.

    Declarations let a scorecard or a rule refuse a misspelt key at load time, and
    let the engine refuse a key the source never declared. A key whose last part is
    ``*`` stands for a family of keys, one per item of the account's data
    (``telemetry.feature_adoption_14d.*`` is one key per core feature); a family
    cannot be a scorecard measure, because its keys differ between accounts.
    """

    key: SignalKey
    dimension: Dimension
    description: str
    """What the value is, in one line, with its unit ("share of seats, 0..1")."""
    higher_is_better: bool | None = True
    """The direction of the value, for the people who read the declaration (the core does
    not read it: a scorecard measure sets its own direction); None if neither."""


def spec_matches(spec_key: str, key: str) -> bool:
    """Whether ``key`` is ``spec_key`` or, for a family (``prefix.*``), one of its keys."""
    if spec_key.endswith(".*"):
        stem = spec_key[:-1]
        return key.startswith(stem) and len(key) > len(stem) and "." not in key[len(stem) :]
    return key == spec_key


class DataDays(msgspec.Struct, kw_only=True, frozen=True):
    """A table of a source's raw records and the column holding each record's day
    (plugin API 1.4): where the core reads how fresh the source's data is.

    ``day_format`` is ``iso`` for ISO 8601 text (a date, or a timestamp whose first
    ten characters are its UTC day) or ``epoch_days`` for whole days since
    1970-01-01. The core reads, per account, the latest day on or before the run's
    day, so an index on ``(account_column, day_column)`` keeps it to one seek each.
    """

    table: str
    day_column: str = "day"
    account_column: str = "account_id"
    day_format: Literal["iso", "epoch_days"] = "iso"


class Freshness(msgspec.Struct, kw_only=True, frozen=True):
    """Where a source's data lives by day, and how old it may get (plugin API 1.4).

    A source that declares ``freshness`` knows the last day it has data for, over
    all accounts and per account. A run more than ``stale_after_days`` after the
    source's last day (``[freshness]`` in telltales.toml overrides it; None: never
    by default) treats the source's signals as missing and is reported ``stale``:
    silence after an export stopped is not a collapse of use.
    """

    tables: tuple[DataDays, ...]
    stale_after_days: Annotated[int, msgspec.Meta(ge=1)] | None = None


class SignalBatch(msgspec.Struct, kw_only=True, frozen=True):
    """The accounts a signal source computes, as of one day.

    ``db`` is a read-only connection: a source reads its own tables (and
    ``accounts``), it never writes. On it, ``accounts`` holds the version in force on
    ``as_of`` of each account live that day (docs/time.md): a replay of a past day
    reads that day's contracts, and ended accounts are nobody's peer. ``settings`` is the source's
    ``[plugins.<name>]`` table from the configuration, decoded into its
    ``settings_type`` when it declares one.
    """

    as_of: date
    account_ids: tuple[str, ...]
    db: sqlite_utils.Database
    settings: Any = None


class ScoreBatch(msgspec.Struct, kw_only=True, frozen=True):
    """The signals computed by a run, grouped by account, for scorers to roll up.

    ``db`` is read-only, the snapshot the sources saw, with ``BATCH_TABLE`` filled;
    earlier days' scores are there for a trend. ``settings`` (plugin API 1.2) is the
    scorer's ``[scorers.<name>]`` table, decoded into its ``settings_type`` when it
    declares one; the core's health scorer gets its checked scorecards.
    """

    as_of: date
    account_ids: tuple[str, ...]
    signals: Mapping[str, Sequence[Signal]]
    db: sqlite_utils.Database
    settings: Any = None


class DaysBatch(msgspec.Struct, kw_only=True, frozen=True):
    """Many as-of days at once, for a source's optional ``compute_days`` (plugin API 1.5).

    A backtest replays dozens of past days; a source that can compute them in one
    pass (a days table joined to its windows) saves a run per day. ``days`` are in
    order; ``account_ids[day]`` are the accounts of that day, every account live on
    it, exactly the batch a run as of that day would get. ``db`` is read-only, as
    for :class:`SignalBatch`; on it, ``DAYS_TABLE`` holds each day's accounts with
    their versions in force that day. ``accounts`` is the latest version of every
    account: a source reads the day's versions from ``DAYS_TABLE`` instead, or its
    signals for a past day would read a contract learned later.
    """

    days: tuple[date, ...]
    account_ids: Mapping[date, tuple[str, ...]]
    db: sqlite_utils.Database
    settings: Any = None


@runtime_checkable
class SignalSource(Protocol):
    """Turns raw records into signals for a whole batch of accounts at once.

    ``name`` is the prefix of every key the source emits (``telemetry`` emits
    ``telemetry.seat_utilization_30d``). An optional ``settings_type`` (a msgspec
    struct) validates the source's configuration table. An optional ``signals``
    (a tuple of :class:`SignalSpec`, plugin API 1.1) declares every key the source
    emits: the engine then refuses any other key, and configurations can name
    them. An optional ``freshness`` (a :class:`Freshness`, plugin API 1.4) names the
    tables holding its records' days, so that a run long after its last data treats
    its signals as missing instead of reading the silence.

    An optional ``compute_days(batch: DaysBatch)`` (plugin API 1.5) returns
    ``(day, signals)`` pairs, one per day of the batch, each day's signals exactly
    those ``compute`` gives as of that day (nothing learned after the day is read
    for it). A backtest's replay calls it for many days at once; a source without it
    is computed day by day.
    """

    name: str

    def compute(self, batch: SignalBatch) -> Iterable[Signal]:
        """Return the signals of every account in ``batch`` that has data."""
        ...


@runtime_checkable
class Scorer(Protocol):
    """Rolls the signals of a run up into one score per account.

    An optional ``settings_type`` (a msgspec struct, plugin API 1.2) validates the
    scorer's ``[scorers.<name>]`` table; the decoded settings arrive as
    ``batch.settings``.
    """

    name: str

    def score(self, batch: ScoreBatch) -> Iterable[Score]:
        """Return one score per account of the batch."""
        ...


class RuleMatch(msgspec.Struct, kw_only=True, frozen=True):
    """One condition of a rule as it held for one account: the metric, its value, the test."""

    subject: str
    """What was compared: a signal key, ``score.health``, ``grade.health`` or
    ``account.lifecycle_stage``."""
    value: float | str
    comparison: str
    """The test it passed, in words: ``below -0.3``, ``equals 'adoption'``."""
    evidence: str
    """The signal's own evidence sentence, or the score's or account's facts."""


class RuleFiring(msgspec.Struct, kw_only=True, frozen=True):
    """A rule that fired for an account: why it holds, and since when."""

    rule: str
    description: str
    status: str
    severity: str
    held_since: date
    matches: tuple[RuleMatch, ...]


class ActionRequest(msgspec.Struct, kw_only=True, frozen=True):
    """One step of a playbook run, handed to its action.

    ``idempotency_key`` is the same on every attempt to deliver this step: a
    destination that has seen it must not act again. ``params`` are the step's
    parameters from the playbook, decoded into the action's ``params_type`` when it
    declares one; ``settings`` are its ``[actions.<name>]`` table, decoded into its
    ``settings_type``. The fields after ``evidence`` were added in plugin API 1.3.
    """

    idempotency_key: str
    account: Account
    params: Any
    reason: str
    """The rule(s) whose firing started the playbook, by name."""
    evidence: str
    """Every firing's conditions and evidence, in plain words."""
    playbook: str = ""
    playbook_run_id: int = 0
    step: int = 0
    """The step's position in the playbook, from 1."""
    status: str = ""
    """The status the account entered (``at_risk``), and its label below."""
    status_label: str = ""
    as_of: date | None = None
    started_at: datetime | None = None
    """When the playbook run started (for a replayed day, within that day)."""
    firings: tuple[RuleFiring, ...] = ()
    account_url: str = ""
    """A link to the account, from ``[links] account_url``."""
    manager: str = ""
    """The manager of the account's CSM group, from ``[csm_groups.<group>] manager``."""
    settings: Any = None
    db: sqlite_utils.Database | None = None
    """A read-write connection, given to ``record`` only: inside the transaction that
    records the playbook run, so what the action writes commits with it or not at all."""


class ActionOutcome(msgspec.Struct, kw_only=True, frozen=True):
    """What an action reports back after one delivery attempt.

    ``delivered=False`` is retried with backoff unless ``retryable`` is False (a
    destination that refused the request for good, e.g. HTTP 400): then the delivery
    is failed at once, and listed.
    """

    delivered: bool
    detail: str = ""
    retryable: bool = True


@runtime_checkable
class PlaybookAction(Protocol):
    """Something a playbook does: create a task, send an email, call a webhook.

    An action defines one or both of two optional methods:

    - ``record(request) -> str``: its effect inside telltales' own database (a task,
      a local renewal flag), written through ``request.db`` in the transaction that
      records the playbook run; returns a one-line detail.
    - ``execute(request) -> ActionOutcome``: its delivery outside (email, HTTP).
      The outbox worker calls it after the run has committed, retrying with backoff;
      it may be called again with the same ``idempotency_key`` after a crash, so the
      key must travel with the delivery.

    ``reaches_customer`` marks actions whose delivery waits for a CSM's approval.
    Optional ``params_type`` and ``settings_type`` (msgspec structs) validate a
    playbook step's parameters and the ``[actions.<name>]`` table when the
    configuration is loaded.
    """

    name: str
    reaches_customer: bool


class RenewalFlag(msgspec.Struct, kw_only=True, frozen=True):
    """Mark an account's open renewal opportunity (plugin API 1.3)."""

    idempotency_key: str
    account_id: str
    account_name: str
    renewal_date: date | None
    flag: str
    """What the opportunity is marked, ``Renewal At Risk`` by default."""
    reason: str
    evidence: str
    flagged_at: datetime
    account_url: str = ""
    settings: Any = None
    """The adapter's ``[crm.settings]`` table, decoded into its ``settings_type``."""


@runtime_checkable
class CrmAdapter(Protocol):
    """Pushes a renewal flag to a CRM (plugin API 1.3).

    ``push`` must be safe to repeat with the same ``idempotency_key``. An optional
    ``settings_type`` validates ``[crm.settings]``.
    """

    name: str

    def push(self, flag: RenewalFlag) -> ActionOutcome:
        """Mark the opportunity once; return ``delivered=False`` (or raise) to be retried."""
        ...


INGEST_KEYS_TABLE = "temp.ingest_keys"
"""The natural keys the current ingest batch has stored (see :func:`new_in_batch`);
the core empties it when a batch begins."""


def new_in_batch(db: sqlite_utils.Database, keys: Iterable[Sequence[Any]]) -> int:
    """How many of ``keys`` name a row the current batch has not stored yet (plugin API 1.4).

    What an upserting ingester's ``store`` returns: ``keys`` are the natural keys of
    the records it was given (``(r.ticket_id,) for r in records``). A record repeating
    another of the batch, in this chunk or an earlier one, is folded into it (its
    upsert replaces the same row, the last one winning) and is not counted again, so
    the batch's answer says how many rows were stored and how many repeats were folded.
    """
    conn = db.conn
    before = conn.total_changes
    conn.executemany(
        f"INSERT OR IGNORE INTO {INGEST_KEYS_TABLE} VALUES (?)",
        ((msgspec.json.encode(key),) for key in dict.fromkeys(map(tuple, keys))),
    )
    return conn.total_changes - before


@runtime_checkable
class Ingester(Protocol):
    """Accepts a plugin's raw records (usage rows, tickets, news items) in bulk.

    ``record_type`` is a msgspec struct; the core decodes and validates a whole
    batch against it before ``store`` is called, inside one transaction, so a batch
    is stored whole or not at all. ``store`` must be idempotent: re-sending the same
    records changes nothing.

    When ``record_type`` has an ``account_id`` field, the core refuses a batch that
    names an account it does not hold, unless the ingester sets
    ``checks_account_ids = False`` (the accounts ingester itself does).

    A large file is handed over in chunks: ``store`` is then called once per chunk,
    all inside the same transaction. An ingester whose ``store`` replaces data (a
    day of usage) rather than upserting rows can define ``begin(db)`` (plugin API
    1.1): it is called once per batch, before the first chunk, to reset whatever
    per-batch bookkeeping ``store`` keeps in the database.

    ``store`` returns how many rows the records stored that the batch had not stored
    before: a record repeating another of the batch (the same row by the ingester's
    key; the last one wins) is folded into it and not counted, and the answer to the
    batch reports ``received``, ``stored`` and the difference, ``folded``. An upsert
    returns :func:`new_in_batch` of its records' keys (plugin API 1.4); returning
    ``len(records)`` reports every record as stored.
    """

    name: str

    @property
    def record_type(self) -> type[msgspec.Struct]:
        """The msgspec struct each record is decoded into (a plain class attribute)."""
        ...

    def store(self, db: sqlite_utils.Database, records: Sequence[Any]) -> int:
        """Write ``records`` (already validated); return how many rows they stored that
        the batch had not (repeats of the batch folded: :func:`new_in_batch`)."""
        ...
