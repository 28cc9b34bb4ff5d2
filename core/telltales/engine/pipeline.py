"""The signal engine: one run computes every source for every account as of one day.

Sources compute against a read-only snapshot; everything a run produces is written
in one transaction that replaces that day's signals and scores, so re-running a day
never doubles anything. A source or scorer that fails is recorded, its output is
left missing (never read as healthy), and the run is marked *degraded*; so is a run
while an installed plugin is left out.

Each source and scorer runs under a time limit (``[engine]``, see
:class:`~telltales.playbooks.plan.EngineSpec`), in a thread of its own: one that hangs is
abandoned when its limit passes, which fails it like an exception would. Python
cannot stop the thread, so it is left to finish; it holds a read-only connection,
so it cannot change the database, and what it returns is never read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import partial
from math import isfinite
from typing import Any, NamedTuple

import msgspec
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from sqlite_utils import Database

from telltales import clock
from telltales.contracts import (
    BATCH_TABLE,
    DaysBatch,
    ScoreBatch,
    SignalBatch,
    SignalSpec,
    spec_matches,
)
from telltales.errors import PluginError, UnknownAccountError
from telltales.models import (
    DIMENSIONS,
    MeasureResult,
    RunActions,
    RunFailure,
    RunResult,
    RunStatus,
    Score,
    Signal,
    SourceDays,
    StaleSource,
    score_problem,
    signal_problem,
    stale_among,
)
from telltales.observability import SIGNALS_COMPUTED, plugin_failed
from telltales.playbooks.endings import end_accounts
from telltales.playbooks.launch import LaunchSummary, start_playbooks
from telltales.playbooks.plan import EngineSpec, Plan
from telltales.playbooks.statuses import evaluate
from telltales.plugins import Registry, TimeLimitExceeded, call_with_time_limit
from telltales.signals.freshness import SourceLimit, default_limits, source_days
from telltales.store import Store, is_file_fault
from telltales.store.history import drop_shadow, live_ids, shadow_accounts
from telltales.store.processes import this_process
from telltales.store.queries import batch_accounts, get_run

tracer = trace.get_tracer("telltales")

Progress = Callable[[str], None]


class _ComponentFailed(Exception):
    """A source or scorer returned something the engine will not store."""


class Replaying(NamedTuple):
    """A run of a backtest's replay (:mod:`telltales.engine.replay`): what differs.

    The sources that computed the day in a batch of days (``compute_days``) hand in
    their checked signals (``precomputed``, by source) and their failures; ``keep``
    receives the day's signals by account and its scores. Rules, statuses and the
    end of accounts no longer live are evaluated and recorded as in any run (the
    next day's statuses grow from them), but no signal or score row is stored and
    no playbook starts: a replay judges scores and statuses, and nobody reads the
    rest of its scratch copy.
    """

    precomputed: Mapping[str, Sequence[Signal]]
    failures: Sequence[RunFailure]
    keep: Callable[[Mapping[str, Sequence[Signal]], Sequence[Score]], None]


def run(
    store: Store,
    registry: Registry,
    as_of: date,
    *,
    settings: dict[str, Any] | None = None,
    account_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
    scorer_settings: dict[str, Any] | None = None,
    plan: Plan | None = None,
    now: datetime | None = None,
    limits: EngineSpec | None = None,
    freshness: Mapping[str, SourceLimit] | None = None,
    replaying: Replaying | None = None,
) -> RunResult:
    """Compute and store every signal and score for ``account_ids`` (all by default).

    ``settings`` are the sources' and ``scorer_settings`` the scorers' (from
    ``config.source_settings`` and ``config.scorer_settings``), keyed by name. With a
    ``plan`` (``plan.load_plan``) the run also evaluates rules, records status
    transitions and starts playbooks, in the same transaction as the signals; ``now``
    is the clock for what it stamps (default: the current time). ``limits`` are the
    sources' and scorers' time limits (default: the plan's ``[engine]`` table, else
    the defaults). ``freshness`` are the sources' freshness limits (default: the
    plan's ``[freshness]``, else each source's own): a source whose latest data is
    older than its limit is left out, its signals missing, and the run is ``stale``.

    In strict mode a failing source or scorer raises :class:`PluginError` and the
    run is recorded as failed with nothing stored. ``replaying`` is a backtest's
    replay (:class:`Replaying`).
    """
    settings = settings or {}
    if limits is None:
        limits = plan.engine if plan is not None else EngineSpec()
    ids, ended = _resolve_accounts(store, account_ids, as_of)
    if freshness is None:
        freshness = plan.freshness if plan is not None else None
    known = source_days(store.reader, freshness or default_limits(registry), as_of)
    stale = stale_among(known, as_of)
    started = clock.now()
    with store.transaction() as db:
        run_id = (
            db.table("runs")
            .insert(
                {
                    "as_of": as_of.isoformat(),
                    "status": "running",
                    "started_at": started.isoformat(),
                    "process": this_process(),
                }
            )
            .last_pk
        )
    assert isinstance(run_id, int)
    failures = _left_out(registry)
    if replaying is not None:
        failures.extend(replaying.failures)
    with tracer.start_as_current_span(
        "telltales.run",
        attributes={"telltales.as_of": as_of.isoformat(), "telltales.accounts": len(ids)},
    ) as span:
        try:
            signals, by_account, scores = _compute(
                store,
                registry,
                as_of,
                ids,
                settings,
                failures,
                progress,
                scorer_settings or {},
                _Limits(limits, f"run {run_id} as of {as_of}"),
                frozenset(s.source for s in stale),
                replaying.precomputed if replaying is not None else {},
            )
            if failures and registry.strict:
                raise PluginError(
                    f"{failures[0].component} of plugin {failures[0].plugin!r} failed: "
                    f"{failures[0].error} [strict mode: nothing stored]",
                    run_id=run_id,
                )
            if replaying is not None:
                replaying.keep(by_account, scores)
            actions, finished = _store_results(
                store,
                registry,
                run_id,
                as_of,
                ids,
                signals,
                scores,
                failures,
                by_account,
                plan,
                clock.moment(as_of, now or clock.now()),
                known,
                stale,
                ended,
                replaying is None,
            )
            status = _status(failures, stale)
        except BaseException as error:
            _mark_failed(store, run_id, failures, error)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)))
            raise
        span.set_attribute("telltales.status", status)
        span.set_attribute("telltales.signals", len(signals))
    return RunResult(
        run_id=run_id,
        as_of=as_of,
        status=status,
        accounts=len(ids),
        signals=len(signals),
        scores=len(scores),
        started_at=started,
        finished_at=finished,
        failures=tuple(failures),
        actions=actions,
        not_live=len(ended),
        stale=tuple(stale),
    )


def _left_out(registry: Registry) -> list[RunFailure]:
    """A failure per plugin left out: a run without an installed plugin is degraded."""
    return [
        RunFailure(
            plugin=failure.plugin,
            component=f"plugin:{failure.plugin}",
            error=(
                f"left out ({failure.stage}): {failure.error}; nothing of it ran, and its "
                "configuration is not applied"
            ),
        )
        for failure in registry.failures
    ]


def _status(failures: Sequence[RunFailure], stale: Sequence[StaleSource]) -> RunStatus:
    """``degraded`` when a component failed, else ``stale`` when a source was left out."""
    return "degraded" if failures else "stale" if stale else "ok"


def recent_runs(store: Store, limit: int) -> list[RunResult]:
    """The newest ``limit`` runs, newest first: how an operator finds a degraded one."""
    ids = store.db.execute("SELECT run_id FROM runs ORDER BY run_id DESC LIMIT ?", [limit])
    return [found for (run_id,) in ids.fetchall() if (found := get_run(store, run_id))]


def steps(registry: Registry) -> int:
    """How many progress steps one run reports (one per source and scorer)."""
    return len(registry.sources) + len(registry.scorers)


def _resolve_accounts(
    store: Store, account_ids: Sequence[str] | None, as_of: date
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The accounts to compute (those asked for, or all, that are live on ``as_of``) and
    those asked for (or all) that are not: an open episode of theirs ends in this run."""
    known = [row[0] for row in store.db.execute("SELECT account_id FROM accounts ORDER BY 1")]
    live = frozenset(live_ids(store.db, as_of))
    if account_ids is None:
        wanted = known
    else:
        missing = sorted(set(account_ids) - set(known))
        if missing:
            raise UnknownAccountError(f"unknown account {missing[0]!r}")
        wanted = list(dict.fromkeys(account_ids))
    return (
        tuple(i for i in wanted if i in live),
        tuple(i for i in wanted if i not in live),
    )


class _Limits:
    """The run's time limits, and how its failures name it in the log."""

    def __init__(self, spec: EngineSpec, where: str) -> None:
        self.spec, self.where = spec, where


def _fill_batch_table(db: Database, ids: Iterable[str]) -> None:
    db.execute(f"CREATE TABLE IF NOT EXISTS {BATCH_TABLE} (account_id TEXT PRIMARY KEY)")
    db.execute(f"DELETE FROM {BATCH_TABLE}")
    db.conn.executemany(f"INSERT INTO {BATCH_TABLE} VALUES (?)", ((i,) for i in ids))


@contextmanager
def _snapshot(store: Store, as_of: date) -> Iterator[Database]:
    """One read transaction on which ``accounts`` means the versions live on ``as_of``.

    Every source sees the same snapshot of the database; the run's ``accounts``
    (store.history) is gone from the connection afterwards.
    """
    reader = store.reader
    reader.conn.execute("BEGIN")
    try:
        shadow_accounts(reader, as_of)
        yield reader
    finally:
        dropped = drop_shadow(reader)
        reader.conn.execute("COMMIT")
        if not dropped:
            # A source past its time limit still reads through it: no later read on
            # this thread may see the run's accounts in place of the real ones.
            store.discard_reader()


def _compute(
    store: Store,
    registry: Registry,
    as_of: date,
    ids: tuple[str, ...],
    settings: dict[str, Any],
    failures: list[RunFailure],
    progress: Progress | None,
    scorer_settings: dict[str, Any],
    limits: _Limits,
    stale: frozenset[str],
    precomputed: Mapping[str, Sequence[Signal]],
) -> tuple[list[Signal], dict[str, list[Signal]], list[Score]]:
    with _snapshot(store, as_of) as reader:
        wanted = frozenset(ids)
        signals: list[Signal] = []
        _fill_batch_table(reader, ids)
        for name, entry in registry.sources.items():
            if name in stale:  # its data stopped: its signals are missing, not silence
                if progress:
                    progress(f"source {name} (stale)")
                continue
            if name in precomputed:  # computed with other days, checked then
                signals.extend(precomputed[name])
                if progress:
                    progress(f"source {name}")
                continue
            batch = SignalBatch(
                as_of=as_of,
                account_ids=ids,
                db=reader,
                settings=settings_for(entry.obj, settings.get(name)),
            )
            with guard(entry.plugin, f"source:{name}", failures, limits.where):
                computed = call_with_time_limit(
                    partial(_source_output, entry.obj, name, batch, wanted),
                    *limits.spec.source_limit(name),
                )
                signals.extend(computed)
                SIGNALS_COMPUTED.add(len(computed), {"telltales.source": name})
            if progress:
                progress(f"source {name}")
        by_account: dict[str, list[Signal]] = {}
        for signal in signals:
            by_account.setdefault(signal.account_id, []).append(signal)
        scores: list[Score] = []
        for name, scorer_entry in registry.scorers.items():
            score_batch = ScoreBatch(
                as_of=as_of,
                account_ids=ids,
                signals=by_account,
                db=reader,
                settings=settings_for(scorer_entry.obj, scorer_settings.get(name)),
            )
            with guard(scorer_entry.plugin, f"scorer:{name}", failures, limits.where):
                scores.extend(
                    call_with_time_limit(
                        partial(_scorer_output, scorer_entry.obj, name, score_batch, wanted),
                        *limits.spec.scorer_limit(name),
                    )
                )
            if progress:
                progress(f"scorer {name}")
    return signals, by_account, scores


def _source_output(
    source: Any, name: str, batch: SignalBatch, wanted: frozenset[str]
) -> list[Signal]:
    """A source's whole output, checked: computed in the source's own thread, so that
    a source that hangs while its signals are read is abandoned too."""
    declared = getattr(source, "signals", None)
    return _checked_signals(name, source.compute(batch), wanted, batch.as_of, declared)


def days_output(source: Any, name: str, batch: DaysBatch) -> dict[date, list[Signal]]:
    """A source's ``compute_days`` output, each day checked as :func:`_source_output` checks
    one run's: a day outside the batch, or given twice, fails the source."""
    declared = getattr(source, "signals", None)
    found: dict[date, list[Signal]] = {}
    for day, signals in source.compute_days(batch):
        if day not in batch.account_ids:
            raise _ComponentFailed(f"compute_days returned {day!r}, not a day of the batch")
        if day in found:
            raise _ComponentFailed(f"compute_days returned {day} twice")
        wanted = frozenset(batch.account_ids[day])
        found[day] = _checked_signals(name, signals, wanted, day, declared)
    return found


def _scorer_output(
    scorer: Any, name: str, batch: ScoreBatch, wanted: frozenset[str]
) -> list[Score]:
    return _checked_scores(name, scorer.score(batch), wanted, batch.as_of)


def settings_for(component: object, given: Any) -> Any:
    """The component's settings, or its declared defaults when none were given.

    A caller that passes no settings (a script, a test) must not hand a source
    ``None`` where it declared a ``settings_type``: every field has a default.
    """
    settings_type = getattr(component, "settings_type", None)
    if given is None and settings_type is not None:
        return msgspec.convert({}, settings_type)
    return given


class guard:
    """Run one plugin component in its own span; record a failure instead of raising."""

    def __init__(self, plugin: str, component: str, failures: list[RunFailure], where: str) -> None:
        self.plugin, self.component, self.failures = plugin, component, failures
        self.where = where

    def __enter__(self) -> None:
        self.span = tracer.start_span(
            "telltales.plugin",
            attributes={"telltales.plugin": self.plugin, "telltales.component": self.component},
        )

    def __exit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: object
    ) -> bool:
        try:
            if error is None:
                return False
            if not isinstance(error, Exception) or is_file_fault(error):
                # A damaged or unwritable database is no plugin's fault: it stops the run.
                return False
            message = (
                str(error)
                if isinstance(error, _ComponentFailed | TimeLimitExceeded)
                else f"{type(error).__name__}: {error}"
            )
            self.failures.append(
                RunFailure(plugin=self.plugin, component=self.component, error=message)
            )
            plugin_failed(
                self.span,
                plugin=self.plugin,
                component=self.component,
                error=message,
                where=self.where,
                exception=error,
            )
            return True
        finally:
            self.span.end()


def _checked_signals(
    source: str,
    produced: Iterable[Signal],
    wanted: frozenset[str],
    as_of: date,
    declared: Sequence[SignalSpec] | None = None,
) -> list[Signal]:
    """Validate a source's whole output; one bad signal discards all of it.

    This runs once per signal, millions of times in a large run: the common case
    (a key already seen to be well-formed, a finite number, a known dimension) is
    checked inline, and only anything else takes the slow path that names the
    problem.
    """
    prefix = f"{source}."
    seen: set[tuple[str, str]] = set()
    good_keys: set[str] = set()
    checked = []
    replace = msgspec.structs.replace
    dimensions = DIMENSIONS
    for signal in produced:
        if type(signal) is Signal:
            key, value, evidence = signal.key, signal.value, signal.evidence
            pair = (signal.account_id, key)
            if (
                key in good_keys
                and (type(value) is float or type(value) is int)
                and isfinite(value)
                and signal.dimension in dimensions
                and type(evidence) is str
                and evidence
                and not evidence.isspace()
                and pair[0] in wanted
                and pair not in seen
            ):
                seen.add(pair)
                checked.append(replace(signal, as_of=as_of, source=source, value=float(value)))
                continue
        problem = _signal_problem_in_run(signal, prefix, wanted, seen, declared)
        if problem is not None:
            raise _ComponentFailed(problem)
        good_keys.add(signal.key)
        seen.add((signal.account_id, signal.key))
        checked.append(replace(signal, as_of=as_of, source=source, value=float(signal.value)))
    return checked


def _signal_problem_in_run(
    signal: object,
    prefix: str,
    wanted: frozenset[str],
    seen: set[tuple[str, str]],
    declared: Sequence[SignalSpec] | None,
) -> str | None:
    """Everything that can be wrong with one signal of a source's output, in words."""
    problem = signal_problem(signal)
    if problem is not None:
        return problem
    assert isinstance(signal, Signal)
    if not signal.key.startswith(prefix) or len(signal.key) == len(prefix):
        return f"signal key {signal.key!r} must start with {prefix!r}"
    if signal.account_id not in wanted:
        return f"signal {signal.key!r} for account {signal.account_id!r} outside the batch"
    if (signal.account_id, signal.key) in seen:
        return f"signal {signal.key!r} emitted twice for account {signal.account_id!r}"
    if declared is not None and not any(spec_matches(spec.key, signal.key) for spec in declared):
        return f"signal {signal.key!r} is not among the source's declared signals"
    return None


def _checked_scores(
    scorer: str, produced: Iterable[Score], wanted: frozenset[str], as_of: date
) -> list[Score]:
    seen: set[str] = set()
    checked = []
    for score in produced:
        problem = score_problem(score)
        if problem is None:
            if score.account_id not in wanted:
                problem = f"score for account {score.account_id!r} outside the batch"
            elif score.account_id in seen:
                problem = f"two scores for account {score.account_id!r}"
        if problem is not None:
            raise _ComponentFailed(problem)
        seen.add(score.account_id)
        checked.append(msgspec.structs.replace(score, as_of=as_of, scorer=scorer))
    return checked


def _store_results(
    store: Store,
    registry: Registry,
    run_id: int,
    as_of: date,
    ids: tuple[str, ...],
    signals: list[Signal],
    scores: list[Score],
    failures: list[RunFailure],
    by_account: dict[str, list[Signal]],
    plan: Plan | None,
    at: datetime,
    known: Sequence[SourceDays],
    stale: Sequence[StaleSource],
    ended: tuple[str, ...],
    whole: bool = True,
) -> tuple[RunActions | None, datetime]:
    """Store the run's results in one transaction; its actions and when it finished.

    Not ``whole`` (a replay's run): the rules' hits and transitions only.
    """
    day = as_of.isoformat()
    encode = msgspec.json.encode
    actions: RunActions | None = None
    with store.transaction() as db:
        _fill_batch_table(db, ids)
        if whole:
            _store_signals_and_scores(db, run_id, day, signals, scores, by_account)
        if plan is not None:
            left_out = frozenset(s.source for s in stale)
            actions = _act(
                db,
                registry,
                plan,
                run_id,
                as_of,
                by_account,
                scores,
                failures,
                at,
                left_out,
                ended,
                playbooks=whole,
            )
        finished = clock.now()
        db.execute(
            "UPDATE runs SET status = ?, accounts = ?, signals = ?, scores = ?, finished_at = ?, "
            "failures = ?, actions = ?, freshness = ? WHERE run_id = ?",
            [
                _status(failures, stale),
                len(ids),
                len(signals),
                len(scores),
                finished.isoformat(),
                encode(failures).decode(),
                encode(actions).decode() if actions is not None else None,
                encode(known).decode(),
                run_id,
            ],
        )
    return actions, finished


def _store_signals_and_scores(
    db: Database,
    run_id: int,
    day: str,
    signals: Sequence[Signal],
    scores: Sequence[Score],
    by_account: Mapping[str, Sequence[Signal]],
) -> None:
    """Replace the batch's signals and scores of ``day`` with the run's."""
    encode = msgspec.json.encode
    for table in ("signals", "scores"):
        db.execute(
            f"DELETE FROM {table} WHERE as_of = ? "
            f"AND account_id IN (SELECT account_id FROM {BATCH_TABLE})",
            [day],
        )
    db.conn.executemany(
        "INSERT INTO signals (account_id, key, as_of, value, dimension, source, evidence, "
        "run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (s.account_id, s.key, day, s.value, s.dimension, s.source, s.evidence, run_id)
            for s in signals
        ),
    )
    db.conn.executemany(
        "INSERT INTO scores (account_id, scorer, as_of, value, grade, label, coverage, "
        "breakdown, config_id, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                s.account_id,
                s.scorer,
                day,
                s.value,
                s.grade,
                s.label,
                s.coverage,
                encode(_without_signal_evidence(s, by_account.get(s.account_id, ()))).decode(),
                s.config_id,
                run_id,
            )
            for s in scores
        ),
    )


def _act(
    db: Database,
    registry: Registry,
    plan: Plan,
    run_id: int,
    as_of: date,
    by_account: dict[str, list[Signal]],
    scores: list[Score],
    failures: list[RunFailure],
    at: datetime,
    stale: frozenset[str],
    not_live: tuple[str, ...],
    *,
    playbooks: bool = True,
) -> RunActions:
    """Rules, transitions and playbooks for the batch, in the transaction of its signals;
    the end of the status of the accounts asked for that are not live that day. Without
    ``playbooks`` (a replay), no playbook starts.

    A rule reading a source that failed, or that was left out as stale, keeps what
    it said on the account's last evaluated day: missing data writes no recovery.
    """
    with tracer.start_as_current_span("telltales.rules") as span:
        accounts = batch_accounts(db, as_of)
        failed = stale | frozenset(f.component.split(":", 1)[1] for f in failures)
        statuses = evaluate(db, plan, as_of, accounts, by_account, scores, run_id, at, failed)
        launched = (
            start_playbooks(db, registry, plan, statuses.transitions, as_of)
            if playbooks
            else LaunchSummary()
        )
        failures.extend(launched.failures)
        ended = end_accounts(db, as_of, not_live, run_id=run_id, at=at)
        span.set_attribute("telltales.transitions", len(statuses.transitions))
        span.set_attribute("telltales.rules_fired", statuses.fired)
    return RunActions(
        evaluated=statuses.evaluated,
        skipped=statuses.skipped,
        ended=ended,
        rules_fired=statuses.fired,
        rules_fired_live=statuses.fired_live,
        transitions=len(statuses.transitions) + ended,
        overrides_ended=statuses.overrides_ended,
        playbooks_live=launched.live,
        playbooks_shadow=launched.shadow,
        playbooks_held_back=launched.held_back,
        playbooks_already_open=launched.already_open,
        tasks=launched.tasks,
        deliveries=launched.deliveries,
    )


def _without_signal_evidence(score: Score, signals: Sequence[Signal]) -> tuple[MeasureResult, ...]:
    """The breakdown to store: a line quoting its signal's evidence word for word drops it.

    The signal is stored beside the score, in the same transaction, so the evidence
    is read back from it (:func:`telltales.store.queries.scores_for`); storing it twice made
    every score a few kilobytes, about 200 MB a day for 50,000 accounts.
    """
    if not score.breakdown:
        return score.breakdown
    evidence = {signal.key: signal.evidence for signal in signals}
    return tuple(
        msgspec.structs.replace(line, evidence="")
        if line.value is not None and evidence.get(line.signal_key) == line.evidence
        else line
        for line in score.breakdown
    )


def _mark_failed(
    store: Store, run_id: int, failures: list[RunFailure], error: BaseException
) -> None:
    recorded = list(failures)
    if not isinstance(error, PluginError):
        recorded.append(
            RunFailure(
                plugin="telltales", component="engine", error=f"{type(error).__name__}: {error}"
            )
        )
    with store.transaction() as db:
        db.execute(
            "UPDATE runs SET status = 'failed', finished_at = ?, failures = ? WHERE run_id = ?",
            [clock.now().isoformat(), msgspec.json.encode(recorded).decode(), run_id],
        )
