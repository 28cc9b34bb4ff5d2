"""An account's health with its reasons, its signals, and its status history.

``GET /v1/accounts/{id}/health`` is the route dashboards and bots call most: it is
served on the event loop from a cache of encoded documents that empties itself
whenever the database changes (telltales_api.health_cache), and composed by
``telltales.engine.health`` when it is not there.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from litestar.response.base import ASGIResponse
from telltales.engine.health import AccountHealth, account_health
from telltales.models import Signal, StatusTransition
from telltales.playbooks.statuses import transitions_of
from telltales.store.queries import latest_signal_day, signals_for

from telltales_api.account_access import check_visible, unknown_account
from telltales_api.auth import SECURITY, Key, needs, request_key, request_stamp
from telltales_api.context import ApiContext, Context
from telltales_api.freshness import Stamp
from telltales_api.health_cache import CachedHealth
from telltales_api.paging import Cursor, Limit, bad_cursor, decode_cursor, encode_cursor
from telltales_api.problems import problem_responses

from .accounts import AccountId

AsOf = Annotated[
    date | None,
    QueryParameter(description="The day to read (YYYY-MM-DD). [default: the latest computed]"),
]


@get(
    "/accounts/{account_id:str}/health",
    opt=needs("read"),
    sync_to_thread=False,
    responses={
        200: ResponseSpec(
            data_container=AccountHealth,
            description="The account's health as of the day, with every reason and one "
            "suggested next action.",
            generate_examples=False,
        ),
        **problem_responses(400, 401, 403, 404),
    },
)
def get_health(
    request: Request[Any, Any, Any], account_id: AccountId, as_of: AsOf = None
) -> ASGIResponse:
    """Status, score, grade, full breakdown with evidence, trend, active rules, open
    playbook runs and tasks, and one suggested next action with why.

    ``as_of`` defaults to the latest day the account was scored; the status is then
    the current one.
    """
    # No dependencies: litestar resolves them in an anyio task group, which cost this
    # route a third of its requests per second. The key and the change stamp come from
    # the auth middleware; the cached body is sent as it is.
    context: ApiContext = request.app.state.telltales
    key = request_key(request.scope)
    if key.csm_groups is not None:
        # Access first, by the account's group alone: a document composed (or found in
        # the cache) for another group's account would answer its 404 at another pace
        # than a missing account's, telling the two apart.
        check_visible(context.store, key, account_id)
    cached = health_document(context, account_id, as_of, request_stamp(request.scope))
    if not key.sees(cached.csm_group):  # moved to another group since the check
        raise unknown_account(account_id)
    return ASGIResponse(body=cached.body, media_type="application/json")


def health_document(
    context: ApiContext, account_id: str, as_of: date | None, stamp: Stamp
) -> CachedHealth:
    """The account's encoded health as of the day, from this thread's cache when the
    database has not changed since it was composed (``stamp``); the pages read the
    very same document. Access is the caller's to check, first."""
    entries = context.health.entries(context.store.db.conn, stamp)
    cached = entries.get((account_id, as_of))
    if cached is None:
        health = account_health(
            context.store, context.plan, account_id, as_of, scoring=context.scoring
        )
        cached = CachedHealth(csm_group=health.account.csm_group, body=msgspec.json.encode(health))
        entries.put((account_id, as_of), cached)
    return cached


class AccountSignals(msgspec.Struct, kw_only=True):
    account_id: str
    as_of: date | None
    """The day the signals were computed for: the latest on or before the day asked
    for; None when none was."""
    signals: list[Signal]


@get(
    "/accounts/{account_id:str}/signals",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403, 404),
)
def get_signals(
    context: Context, key: Key, account_id: AccountId, as_of: AsOf = None
) -> AccountSignals:
    """Every signal of the account as of the day, each with its evidence and source."""
    check_visible(context.store, key, account_id)
    day = latest_signal_day(context.store, account_id, as_of)
    found = signals_for(context.store, account_id, day) if day else []
    return AccountSignals(account_id=account_id, as_of=day, signals=found)


class TransitionsPage(msgspec.Struct, kw_only=True):
    """Status transitions, oldest first; pass ``next_cursor`` as ``cursor`` for more."""

    items: list[StatusTransition]
    labels: dict[str, str]
    """How each status is shown (``at_risk``: ``At-Risk``)."""
    next_cursor: str | None


@get(
    "/accounts/{account_id:str}/transitions",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403, 404),
)
def get_transitions(
    context: Context,
    key: Key,
    account_id: AccountId,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> TransitionsPage:
    """The account's status history, oldest first: from, to, when, the cause (rules,
    a person's override, an import), the rules and the evidence."""
    check_visible(context.store, key, account_id)
    history = transitions_of(context.store, account_id)
    start = 0
    if cursor is not None:
        start = _resume_after(history, decode_cursor(cursor, int)[0])
    items = history[start : start + limit]
    more = len(history) > start + limit
    return TransitionsPage(
        items=items,
        labels=dict(context.plan.labels),
        next_cursor=encode_cursor([items[-1].transition_id]) if more else None,
    )


def _resume_after(history: list[StatusTransition], transition_id: object) -> int:
    """Where the page after ``transition_id`` starts; transitions are never deleted."""
    for position, transition in enumerate(history):
        if transition.transition_id == transition_id:
            return position + 1
    raise bad_cursor("not a cursor from this account's history")


router = Router(
    path="/v1",
    tags=["accounts"],
    security=SECURITY,
    route_handlers=[get_health, get_signals, get_transitions],
)
