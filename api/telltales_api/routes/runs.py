"""``POST /v1/runs`` runs the engine as of a day (or a range); ``GET /v1/runs/{run_id}``.

A run computes signals and scores, evaluates the rules and starts playbooks, as
``telltales run`` does, with the configuration the server started with. A run
covers every CSM group and its counts are totals over all of them, so a key
limited to some groups may not read runs (403): it reads its own accounts' health,
signals and tasks instead. Only an admin key, which sees every group, starts one.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Annotated

import msgspec
from litestar import Router, get, post
from litestar.params import JSONBody, PathParameter
from telltales.engine import pipeline
from telltales.engine.days import run_day_problem
from telltales.errors import PluginError
from telltales.models import RunResult
from telltales.store import Store
from telltales.store.keys import ApiKey
from telltales.store.queries import get_run

from telltales_api.auth import SECURITY, Key, needs
from telltales_api.context import Context
from telltales_api.paging import LARGEST_ID
from telltales_api.problems import FieldError, ProblemError, problem_responses
from telltales_api.strict_body import strict_body

MAX_DAYS = 92
"""Days one request may compute: a run answers when it is done, so a longer replay is split."""

AccountId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class RunRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What to compute."""

    as_of: date
    """The day to compute: today (UTC) or earlier; tomorrow is allowed for time zones ahead."""
    through: date | None = None
    """Also compute every day after ``as_of`` up to this one, to replay history."""
    accounts: Annotated[list[AccountId], msgspec.Meta(min_length=1)] | None = None
    """Only these accounts; null for every account."""
    strict: bool = False
    """Store nothing for a day on which a source or scorer fails: that run is ``failed``
    and the days after it are not run. Without it the run is ``degraded`` and the
    failed component's output is missing (never read as healthy)."""


class RunsReport(msgspec.Struct, kw_only=True):
    """One result per day computed, in order."""

    runs: list[RunResult]


@post(
    "/runs",
    opt=needs("admin"),
    dto=strict_body(RunRequest),
    return_dto=None,
    sync_to_thread=True,
    status_code=201,
    responses=problem_responses(400, 401, 403, 422),
)
def start_run(data: JSONBody[RunRequest], context: Context) -> RunsReport:
    """Compute signals, scores, rules and playbooks for every account as of a day (or range)."""
    days = _days(data)
    store = context.store
    _refuse_unknown_accounts(store, data.accounts)
    registry = context.registry
    if data.strict and not registry.strict:
        registry = dataclasses.replace(registry, strict=True)
    results: list[RunResult] = []
    for day in days:
        try:
            result = pipeline.run(
                store,
                registry,
                day,
                settings=context.source_settings,
                scorer_settings=context.scorer_settings,
                account_ids=data.accounts,
                plan=context.plan,
            )
        except PluginError as error:
            failed = None if error.run_id is None else get_run(store, error.run_id)
            if failed is None:
                raise
            result = failed
        results.append(result)
        if result.status == "failed":
            break
    return RunsReport(runs=results)


@get(
    "/runs/{run_id:int}",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403, 404),
)
def read_run(
    run_id: Annotated[
        int, PathParameter(ge=1, le=LARGEST_ID, description="The id `POST /v1/runs` returned.")
    ],
    context: Context,
    key: Key,
) -> RunResult:
    """A stored run: its status, counts, failures and what its rules and playbooks did."""
    _refuse_limited(key)
    found = get_run(context.store, run_id)
    if found is None:
        raise ProblemError(404, f"no run {run_id}")
    return found


def _days(data: RunRequest) -> list[date]:
    last = data.through or data.as_of
    for field, day in (("as_of", data.as_of), ("through", last)):
        problem = run_day_problem(day)
        if problem is not None:
            raise _invalid(field, problem)
    if last < data.as_of:
        raise _invalid("through", f"{last} is before as_of {data.as_of}")
    count = (last - data.as_of).days + 1
    if count > MAX_DAYS:
        raise _invalid(
            "through",
            f"{count} days from {data.as_of} to {last}: at most {MAX_DAYS} per request; "
            "split a longer replay",
        )
    return [data.as_of + timedelta(days=n) for n in range(count)]


def _invalid(field: str, reason: str) -> ProblemError:
    return ProblemError(
        422,
        f"{field}: {reason}; nothing was run",
        errors=[FieldError(field=f"body.{field}", reason=reason)],
    )


def _refuse_unknown_accounts(store: Store, accounts: list[str] | None) -> None:
    if accounts is None:
        return
    known = {
        row[0]
        for row in store.db.execute(
            "SELECT a.account_id FROM accounts a "
            "WHERE a.account_id IN (SELECT value FROM json_each(?))",
            [msgspec.json.encode(accounts).decode()],
        )
    }
    unknown = [(i, account) for i, account in enumerate(accounts) if account not in known]
    if unknown:
        raise ProblemError(
            422,
            f"{len(unknown)} unknown account(s), first {unknown[0][1]!r}; nothing was run",
            errors=[
                FieldError(field=f"body.accounts[{i}]", reason=f"no account {account!r}")
                for i, account in unknown
            ],
        )


def _refuse_limited(key: ApiKey) -> None:
    if key.csm_groups is not None:
        raise ProblemError(
            403,
            "a run covers every CSM group and its counts are totals over all of them; "
            "this key is limited to "
            f"{', '.join(sorted(key.csm_groups))}: read its accounts' health instead",
        )


router = Router(path="/v1", tags=["runs"], security=SECURITY, route_handlers=[start_run, read_run])
