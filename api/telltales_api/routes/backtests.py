"""``POST /v1/backtests`` judges scores and rules on past days; ``GET /v1/backtests/{id}``.

A backtest replays many days, one engine run each, in a scratch copy of the
database (docs/backtest.md): it takes minutes, so it runs in a thread of its own
and the request answers 202 with the backtest's id at once. Read it back until its
``state`` is ``done`` (with the report) or ``failed`` (with the reason). Its figures
are totals over every CSM group, so, as with runs, a key limited to some groups may
not read backtests (403), and only an admin key starts one.
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Annotated

import msgspec
from litestar import Router, get, post
from litestar.params import JSONBody, PathParameter
from telltales.backtest import runner, stored
from telltales.backtest.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from telltales.backtest.observations import OutcomeKind
from telltales.backtest.report import Settings
from telltales.backtest.stored import Backtest
from telltales.store.keys import ApiKey

from telltales_api.auth import SECURITY, Key, needs
from telltales_api.context import ApiContext, Context
from telltales_api.paging import LARGEST_ID
from telltales_api.problems import FieldError, ProblemError, problem_responses
from telltales_api.strict_body import strict_body

log = logging.getLogger(__name__)

_ONE_AT_A_TIME = threading.Lock()
"""Held while this server runs a backtest: each replays up to hundreds of days, so a
second one waits its turn (409) instead of sharing the cores with the first."""

CardName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]


def _within(bounds: runner.Bounds) -> msgspec.Meta:
    """The schema's range for a setting: the same bounds the runner checks."""
    return msgspec.Meta(ge=bounds.low, le=bounds.high)


class BacktestRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What to judge. Days are replayed from ``from_day`` to ``to_day``, every ``every`` days."""

    from_day: date
    """The first day to replay."""
    to_day: date
    """The last day to replay (not before ``from_day``)."""
    every: Annotated[int, _within(runner.EVERY)] = runner.DEFAULT_EVERY
    """Replay every N days (7: weekly)."""
    horizon: Annotated[int, _within(runner.HORIZON)] = runner.DEFAULT_HORIZON
    """Days after each day in which a churn counts."""
    scorecards: Annotated[list[CardName], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    """Cards to judge besides the configured scoring, each applied to every account."""
    outcome: OutcomeKind = "churn"
    """``churn``, or ``contraction`` (a renewal at lower ARR, or a churn)."""
    outcomes_through: date | None = None
    """The last day outcomes are known; null: the latest renewal or account version."""
    judge_from: date | None = None
    """Out-of-time split: judge only days from this one on (between from_day and to_day)."""
    min_churns: Annotated[int, _within(runner.MIN_CHURNS)] = runner.DEFAULT_MIN_CHURNS
    """Fewer churns in a cut and its figures are not given, the reason is."""
    resamples: Annotated[int, _within(runner.RESAMPLES)] = DEFAULT_RESAMPLES
    """Bootstrap resamples of accounts for the intervals; 0 for none."""
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = DEFAULT_SEED


class BacktestStarted(msgspec.Struct, kw_only=True):
    backtest_id: int
    state: str
    """``running``: read ``GET /v1/backtests/{backtest_id}`` until done or failed."""


_FIELDS = {"from": "from_day", "to": "to_day", "scorecard": "scorecards"}
"""The request's fields by the names the checks give them (the CLI's options)."""


@post(
    "/backtests",
    opt=needs("admin"),
    dto=strict_body(BacktestRequest),
    return_dto=None,
    sync_to_thread=True,
    status_code=202,
    responses=problem_responses(400, 401, 403, 409, 422),
)
def start_backtest(data: JSONBody[BacktestRequest], context: Context, key: Key) -> BacktestStarted:
    """Start a backtest in the background: its id at once, its report when it is done."""
    request = runner.Request(
        first_day=data.from_day,
        last_day=data.to_day,
        every_days=data.every,
        horizon_days=data.horizon,
        outcome=data.outcome,
        outcomes_through=data.outcomes_through,
        judge_from=data.judge_from,
        scorecards=tuple(data.scorecards),
        min_churns=data.min_churns,
        resamples=data.resamples,
        seed=data.seed,
    )
    try:
        settings = runner.check(context.store, request, context.scoring)
    except runner.RequestProblem as problem:
        field = _FIELDS.get(problem.field or "", problem.field or "")
        raise ProblemError(
            422,
            f"{field}: {problem.problem}; nothing was run",
            errors=[FieldError(field=f"body.{field}", reason=problem.problem)],
        ) from problem
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise ProblemError(
            409,
            "a backtest is running on this server; start another once it is done "
            "(GET /v1/backtests/{backtest_id} says when)",
        )
    try:
        backtest_id = stored.start(context.store, settings, by=f"API key {key.key_id} ({key.name})")
    except BaseException:
        _ONE_AT_A_TIME.release()
        raise
    threading.Thread(
        target=_run,
        args=(context, backtest_id, settings),
        name=f"telltales backtest {backtest_id}",
        daemon=True,
    ).start()
    return BacktestStarted(backtest_id=backtest_id, state="running")


def _run(context: ApiContext, backtest_id: int, settings: Settings) -> None:
    engine = runner.Engine(
        context.registry,
        context.plan,
        context.source_settings,
        context.scorer_settings,
        context.scoring,
    )
    try:
        runner.execute(context.store, backtest_id, settings, engine)
    except Exception:
        # Recorded on the backtest as failed, with the reason; the log has the rest.
        log.exception("backtest %s failed", backtest_id)
    finally:
        _ONE_AT_A_TIME.release()


@get(
    "/backtests/{backtest_id:int}",
    opt=needs("read"),
    sync_to_thread=True,
    responses=problem_responses(400, 401, 403, 404),
)
def read_backtest(
    backtest_id: Annotated[
        int,
        PathParameter(ge=1, le=LARGEST_ID, description="The id `POST /v1/backtests` returned."),
    ],
    context: Context,
    key: Key,
) -> Backtest:
    """A backtest: ``running``, ``done`` with its report card, or ``failed`` with the reason."""
    _refuse_limited(key)
    found = stored.get(context.store, backtest_id)
    if found is None:
        raise ProblemError(404, f"no backtest {backtest_id}")
    return found


def _refuse_limited(key: ApiKey) -> None:
    if key.csm_groups is not None:
        raise ProblemError(
            403,
            "a backtest covers every CSM group and its figures are totals over all of them; "
            f"this key is limited to {', '.join(sorted(key.csm_groups))}",
        )


router = Router(
    path="/v1",
    tags=["backtests"],
    security=SECURITY,
    route_handlers=[start_backtest, read_backtest],
)
