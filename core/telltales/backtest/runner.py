"""A backtest from request to stored report: check, replay, observe, judge, store.

The CLI (``telltales backtest``) runs it in the foreground, the API
(``POST /v1/backtests``) in a thread of its own; both check the request first with
:func:`check`, so a mistake is refused before anything is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

from telltales import clock
from telltales.backtest import replay, stored
from telltales.backtest.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from telltales.backtest.observations import OutcomeKind, collect, last_known_day, measured_keys
from telltales.backtest.report import Report, Settings, build_report
from telltales.engine import replay as engine_replay
from telltales.engine.days import run_day_problem
from telltales.errors import InputError
from telltales.playbooks.plan import Plan
from telltales.plugins import Registry
from telltales.signals.scorecards import Scoring
from telltales.store import Store

DEFAULT_EVERY = 7
DEFAULT_HORIZON = 90
DEFAULT_MIN_CHURNS = 10
MAX_DAYS_REPLAYED = 1100
"""Replayed days one backtest may take (three years daily): each is run."""


class Bounds(NamedTuple):
    """The range a whole-number setting may take, both ends included: checked here,
    and declared from the same values by the CLI's options and the API's schema."""

    low: int
    high: int


EVERY = Bounds(1, 365)
HORIZON = Bounds(1, 730)
MIN_CHURNS = Bounds(1, 100_000)
RESAMPLES = Bounds(0, 100_000)


@dataclass(frozen=True)
class Request:
    """What to judge, as asked; checked into :class:`Settings` by :func:`check`."""

    first_day: date
    last_day: date
    every_days: int = DEFAULT_EVERY
    horizon_days: int = DEFAULT_HORIZON
    outcome: OutcomeKind = "churn"
    outcomes_through: date | None = None
    judge_from: date | None = None
    scorecards: tuple[str, ...] = ()
    min_churns: int = DEFAULT_MIN_CHURNS
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED


class RequestProblem(InputError):
    """A request that cannot be judged, with the field it names (``from``, ``horizon``...)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}; nothing was run", field=field)
        self.problem = problem


def check(store: Store, request: Request, scoring: Scoring) -> Settings:
    """The settings of a request that can be judged, or :class:`RequestProblem`."""
    for field, day in (("from", request.first_day), ("to", request.last_day)):
        problem = run_day_problem(day)
        if problem is not None:
            raise RequestProblem(field, problem)
    if request.last_day < request.first_day:
        raise RequestProblem("to", f"{request.last_day} is before from {request.first_day}")
    _in_range("every", request.every_days, EVERY)
    _in_range("horizon", request.horizon_days, HORIZON)
    _in_range("min_churns", request.min_churns, MIN_CHURNS)
    _in_range("resamples", request.resamples, RESAMPLES)
    days = replay.replay_days(request.first_day, request.last_day, request.every_days)
    if len(days) > MAX_DAYS_REPLAYED:
        raise RequestProblem(
            "every",
            f"{len(days)} days to replay from {request.first_day} to {request.last_day}; at most "
            f"{MAX_DAYS_REPLAYED}: replay every few days (every 7 is weekly)",
        )
    if request.judge_from is not None and not (
        request.first_day <= request.judge_from <= request.last_day
    ):
        raise RequestProblem(
            "judge_from",
            f"{request.judge_from} is outside {request.first_day} .. {request.last_day}",
        )
    unknown = [name for name in request.scorecards if name not in scoring.cards]
    if unknown:
        raise RequestProblem(
            "scorecard", f"no scorecard {unknown[0]!r} (known: {', '.join(sorted(scoring.cards))})"
        )
    known = request.outcomes_through or last_known_day(store.db, clock.today())
    if known is None:
        raise RequestProblem(
            "from", "no renewal outcome and no account is stored: there is nothing to judge"
        )
    first_judged = request.judge_from or request.first_day
    if first_judged + timedelta(days=request.horizon_days) > known:
        raise RequestProblem(
            "from" if request.judge_from is None else "judge_from",
            f"outcomes are known through {known}, so with a horizon of {request.horizon_days} "
            f"days no day after {known - timedelta(days=request.horizon_days)} can be judged; "
            f"start earlier or shorten the horizon",
        )
    shadow = scoring.shadow.name if scoring.shadow is not None else None
    return Settings(
        first_day=request.first_day,
        last_day=request.last_day,
        every_days=request.every_days,
        horizon_days=request.horizon_days,
        outcome=request.outcome,
        outcomes_through=known,
        judge_from=request.judge_from,
        scorecards=list(dict.fromkeys((*request.scorecards, *([shadow] if shadow else [])))),
        min_churns=request.min_churns,
        resamples=request.resamples,
        seed=request.seed,
        shadow=shadow,
        measured=sorted({m.key for card in scoring.cards.values() for m in card.measures}),
    )


def _in_range(field: str, value: int, bounds: Bounds) -> None:
    if not bounds.low <= value <= bounds.high:
        raise RequestProblem(field, f"{value} is outside {bounds.low} .. {bounds.high}")


@dataclass(frozen=True)
class Engine:
    """What the replay runs with: the plugins and the checked configuration."""

    registry: Registry
    plan: Plan
    source_settings: Mapping[str, Any]
    scorer_settings: Mapping[str, Any]
    scoring: Scoring


def execute(
    store: Store,
    backtest_id: int,
    settings: Settings,
    engine: Engine,
    progress: Callable[[date], None] | None = None,
) -> Report:
    """Replay, observe, judge and store the report of a started backtest.

    Anything that goes wrong marks the backtest ``failed`` with the reason, and is
    raised again for the caller to report.
    """
    try:
        days = replay.replay_days(settings.first_day, settings.last_day, settings.every_days)
        cards = {name: engine.scoring.cards[name] for name in settings.scorecards}
        with replay.scratch_copy(store) as scratch:
            readings = engine_replay.replay(
                scratch,
                engine.registry,
                days,
                plan=engine.plan,
                source_settings=engine.source_settings,
                scorer_settings=engine.scorer_settings,
                measured=measured_keys(cards, settings.measured),
                progress=progress,
            )
            observations = collect(
                scratch.db,
                readings,
                cards,
                horizon=settings.horizon_days,
                kind=settings.outcome,
                known_through=settings.outcomes_through,
            )
        report = build_report(observations, settings)
        stored.finish(store, backtest_id, observations, report)
    except BaseException as error:
        stored.fail(store, backtest_id, f"{type(error).__name__}: {error}")
        raise
    return report
