"""The account page: one account's story, and a person's override of its status.

Everything on it is read, not recomputed: the health document the API answers
(:func:`telltales_api.routes.health.health_document`: status, grade, score with every
measure's evidence, rules, next action and why), the stored scores and signals of the
past year for its charts, the transitions, tasks, playbook runs and overrides, and
the account's version in force (its contract and renewal). A key limited to CSM
groups gets, for another group's account, the very 404 an unknown account gets, as
``GET /v1/accounts/{id}`` does.

An override is set with the same core operation as ``telltales override``
(:func:`telltales.playbooks.overrides.override_through`), by a key with the ``act``
scope (the scope of a CSM's actions on tasks); a key without it sees no form, and its
post is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Redirect, Template
from markupsafe import Markup
from telltales import clock
from telltales.engine.health import AccountHealth
from telltales.errors import InputError, UnknownAccountError
from telltales.models import MeasureResult, Score, Signal, StatusTransition
from telltales.playbooks.overrides import Override, override_through, overrides_of
from telltales.playbooks.rules import STATUSES
from telltales.playbooks.runs import PlaybookRun, list_runs
from telltales.playbooks.statuses import transitions_of
from telltales.playbooks.tasks import Task, list_tasks
from telltales.signals.scorecards import HEALTH_SCORER
from telltales.signals.scorecards.reading import dimensions
from telltales.store import history, queries
from telltales.store.keys import Scope
from telltales.store.series import SignalPoint, score_series, signal_series
from telltales.store.sessions import PageSession

from telltales_api.account_access import check_visible, unknown_account
from telltales_api.auth import actor
from telltales_api.context import ApiContext
from telltales_api.freshness import change_stamp
from telltales_api.pages.access import check_csrf, context_of, signed_in
from telltales_api.pages.charts import Mark, Series, line_chart, sparkline
from telltales_api.routes.accounts import AccountId
from telltales_api.routes.health import health_document

HISTORY_DAYS = 365
"""How far back the charts reach from the day shown."""
LISTED = 100
"""Past tasks and playbook runs shown, newest first."""
MAX_REASON = 1000
OVERRIDE_SCOPE: Scope = "act"
DIMENSION_CLASSES = 6
"""Colours for dimensions in pages.css (``dim-1`` to ``dim-6``), reused in turn."""


def account_path(account_id: str) -> str:
    """The page's address for an account: the id quoted whole, a ``/`` in it too."""
    return f"/accounts/{quote(account_id, safe='')}"


class OverrideForm(msgspec.Struct, kw_only=True):
    """The override form as posted; every field is checked by name, never by the decoder."""

    csrf_token: str = ""
    status: str = ""
    reason: str = ""
    until: str = ""


@dataclass(frozen=True)
class DimensionEvidence:
    """A scorecard component: its points (None without data) and its measures' lines."""

    name: str
    points: float | None
    measures: list[MeasureResult]


@dataclass(frozen=True)
class SignalLine:
    signal: Signal
    trend: Markup


@dataclass(frozen=True)
class Chart:
    svg: Markup
    legend: list[tuple[str, str]]
    """(name, class) of each line, in the order drawn."""


@get("/accounts/{account_id:str}", sync_to_thread=True, include_in_schema=False)
def account_page(request: Request[Any, Any, Any], account_id: AccountId) -> Template:
    """The account's status and grade with why, its charts, history, work and contract."""
    session = signed_in(request)
    context = context_of(request)
    _check_visible(context, session, account_id)
    return _page(context, session, account_id)


@post(
    "/accounts/{account_id:str}/override",
    sync_to_thread=True,
    include_in_schema=False,
    status_code=303,
)
def set_override(
    request: Request[Any, Any, Any],
    account_id: AccountId,
    data: Annotated[OverrideForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect | Template:
    """Override the account's status through a day; back to the page, which shows it.

    A field missing or wrong answers the page again, 422, naming the field, with what
    was typed kept; nothing is recorded.
    """
    session = signed_in(request, OVERRIDE_SCOPE)
    check_csrf(session, data.csrf_token)
    context = context_of(request)
    _check_visible(context, session, account_id)
    try:
        last_day = _last_day(data.until)
        reason = data.reason.strip()
        if len(reason) > MAX_REASON:
            raise InputError(f"reason: at most {MAX_REASON} characters")
        account = queries.get_account(context.store, account_id)
        override_through(
            context.store,
            account,
            data.status,
            reason=reason,
            last_day=last_day,
            by=actor(session.key),
        )
    except UnknownAccountError as error:
        raise NotFoundException(detail=str(error)) from error
    except InputError as error:
        return _page(context, session, account_id, form=data, problem=str(error), status=422)
    return Redirect(account_path(account_id), status_code=303)


def _last_day(text: str) -> date:
    text = text.strip()
    if not text:
        raise InputError("until: give the last day the override holds (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"until: {text[:40]!r} is not a day (YYYY-MM-DD)") from None


_HEALTH = msgspec.json.Decoder(AccountHealth)


def read_health(context: ApiContext, account_id: str) -> AccountHealth:
    """The account's health exactly as ``GET /v1/accounts/{id}/health`` answers it: the
    same document, from the same cache while the database has not changed."""
    stamp = change_stamp(context.store.db.conn)
    return _HEALTH.decode(health_document(context, account_id, None, stamp).body)


def _check_visible(context: ApiContext, session: PageSession, account_id: str) -> None:
    """404 for an unknown account and for another group's, in the same words."""
    try:
        check_visible(context.store, session.key, account_id)
    except UnknownAccountError as error:
        raise NotFoundException(detail=str(error)) from error


def _page(
    context: ApiContext,
    session: PageSession,
    account_id: str,
    *,
    form: OverrideForm | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Template:
    store = context.store
    labels = context.plan.labels
    health = read_health(context, account_id)
    if not session.key.sees(health.account.csm_group):  # moved to another group since
        raise NotFoundException(detail=str(unknown_account(account_id)))
    until = health.as_of or clock.today()
    since = until - timedelta(days=HISTORY_DAYS)
    transitions = transitions_of(store, account_id)
    open_tasks = {task.task_id for task in health.tasks}
    open_runs = {run.playbook_run_id for run in health.playbook_runs}
    return Template(
        "account.html",
        context={
            "session": session,
            "health": health,
            "labels": labels,
            "evidence": _evidence(health.score),
            "chart": _chart(
                score_series(store, account_id, HEALTH_SCORER, since=since, until=until),
                transitions,
                labels,
                since,
                until,
            ),
            "signals": _signals(context, account_id, health, since),
            "transitions": list(reversed(transitions)),
            "past_tasks": _past_tasks(list_tasks(store, account_id=account_id), open_tasks),
            "past_runs": _past_runs(
                list_runs(store, account_id=account_id, limit=LISTED), open_runs
            ),
            "overrides": overrides_of(store, account_id),
            "override_state": _override_state,
            "versions": list(reversed(history.versions_of(store.db, account_id)))[:LISTED],
            "can_override": session.key.allows(OVERRIDE_SCOPE),
            "override_statuses": STATUSES,
            "form": form or OverrideForm(),
            "problem": problem,
            "action": account_path(account_id) + "/override",
        },
        status_code=status,
    )


def _evidence(score: Score | None) -> list[DimensionEvidence]:
    """Every measure of the score by dimension (component), in the card's order."""
    if score is None:
        return []
    points = {dimension.name: dimension.points for dimension in dimensions(score)}
    grouped: dict[str, list[MeasureResult]] = {}
    for line in score.breakdown:
        grouped.setdefault(line.component, []).append(line)
    return [
        DimensionEvidence(name=name, points=points.get(name), measures=lines)
        for name, lines in grouped.items()
    ]


def _chart(
    scores: Sequence[Score],
    transitions: Sequence[StatusTransition],
    labels: Mapping[str, str],
    since: date,
    until: date,
) -> Chart | None:
    """The health score and each dimension's points, day by day, with the status changes."""
    if not scores:
        return None
    first = scores[0].as_of or since
    last = scores[-1].as_of or until
    by_day = [
        (score.as_of or until, {d.name: d.points for d in dimensions(score)}) for score in scores
    ]
    names = list(dict.fromkeys(name for _, points in by_day for name in points))
    series = [
        Series(
            name=name,
            css=f"dim-{i % DIMENSION_CLASSES + 1}",
            points=[(day, points.get(name)) for day, points in by_day],
        )
        for i, name in enumerate(names)
    ]
    series.append(
        Series(
            name="health score",
            css="score",
            points=[(score.as_of or until, score.value) for score in scores],
        )
    )
    marks = [
        Mark(
            day=t.as_of,
            css=f"to-{t.to_status}",
            label=f"{t.as_of}: {labels.get(t.from_status or '', 'none')} to "
            f"{labels.get(t.to_status, t.to_status)} ({t.cause})",
        )
        for t in transitions
        if first <= t.as_of <= last
    ]
    title = f"Health score and its dimensions, {first} to {last}"
    return Chart(
        svg=line_chart(series, marks, first=first, last=last, title=title),
        legend=[(one.name, one.css) for one in series],
    )


def _signals(
    context: ApiContext, account_id: str, health: AccountHealth, since: date
) -> dict[str, list[SignalLine]]:
    """The signals of the day shown, by dimension, each with its trend over the charts'
    period."""
    store = context.store
    day = queries.latest_signal_day(store, account_id, health.as_of)
    if day is None:
        return {}
    trends: dict[str, list[SignalPoint]] = {}
    for point in signal_series(store, account_id, since=since, until=day):
        trends.setdefault(point.key, []).append(point)
    grouped: dict[str, list[SignalLine]] = {}
    for signal in queries.signals_for(store, account_id, day):
        points = trends.get(signal.key, [])
        title = (
            f"{signal.key}: {points[0].value:.4g} on {points[0].as_of}, "
            f"{points[-1].value:.4g} on {points[-1].as_of}"
            if points
            else signal.key
        )
        trend = sparkline([(p.as_of, p.value) for p in points], title=title)
        grouped.setdefault(signal.dimension, []).append(SignalLine(signal=signal, trend=trend))
    return dict(sorted(grouped.items()))


def _past_tasks(found: Sequence[Task], open_ids: set[int]) -> list[Task]:
    past = [task for task in found if task.task_id not in open_ids and task.state != "open"]
    return sorted(past, key=lambda task: (task.updated_at, task.task_id), reverse=True)[:LISTED]


def _past_runs(found: Sequence[PlaybookRun], open_ids: set[int]) -> list[PlaybookRun]:
    return [run for run in found if run.playbook_run_id not in open_ids]


def _override_state(override: Override) -> str:
    """In force, expired (and not yet ended by a run), or ended, in words."""
    if override.ended_at is not None:
        return f"ended {override.ended_at:%Y-%m-%d %H:%M}Z ({override.end_reason})"
    if override.expires_at <= clock.now():
        return f"expired {override.expires_at:%Y-%m-%d %H:%M}Z"
    return f"in force until {override.expires_at:%Y-%m-%d %H:%M}Z"
