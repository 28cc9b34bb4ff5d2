"""Accounts: bulk upsert, a filtered list with status and grade, and one account.

``PUT /v1/accounts`` stores each account as a version from its ``as_of`` day, as the
``accounts`` ingester (``telltales ingest accounts``) does, in one transaction: an
invalid item, or one outside the key's CSM groups, stores nothing. An account equal
to its version in force on that day is not written at all, so it leaves every cached
health document valid.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import msgspec
from litestar import Router, get, put
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter
from telltales import clock
from telltales.models import Account, AccountStatus, Grade
from telltales.signals.scorecards import HEALTH_SCORER
from telltales.store.history import store_versions
from telltales.store.keys import ApiKey
from telltales.store.queries import AccountOverview, AccountSort, OverviewPage, account_overviews

from telltales_api.account_access import refuse_unwritable_accounts, unknown_account
from telltales_api.auth import SECURITY, Key, check_groups, needs
from telltales_api.context import ApiContext, Context
from telltales_api.paging import Cursor, Limit, bad_cursor, decode_cursor, encode_cursor
from telltales_api.problems import FieldError, ProblemError, problem_responses
from telltales_api.strict_body import strict_body

AccountId = Annotated[str, PathParameter(min_length=1, max_length=200, description="The account.")]


class AccountsUpsert(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Account versions to store, each whole (a field left out takes its default), each
    true from its ``as_of`` day (today when left out)."""

    accounts: list[Account]


class UpsertReport(msgspec.Struct, kw_only=True):
    """What the upsert did; unchanged accounts were not written."""

    received: int
    created: int
    """Accounts new to telltales."""
    updated: int
    """New versions of known accounts (or corrections of a day's version)."""
    unchanged: int
    """Equal to the version already in force on their day: nothing written."""


class AccountsPage(msgspec.Struct, kw_only=True):
    """Accounts in the order asked for; pass ``next_cursor`` as ``cursor`` for the next
    page (with the same filters and sort)."""

    items: list[AccountOverview]
    next_cursor: str | None
    matched: int
    """Every account the filters match, on every page."""
    arr: float
    """Their ARR, summed: with ``status=at_risk``, the ARR at risk."""


@put(
    "/accounts",
    opt=needs("ingest"),
    dto=strict_body(AccountsUpsert),
    return_dto=None,
    sync_to_thread=True,
    responses=problem_responses(400, 401, 403, 413, 422),
)
def upsert_accounts(context: Context, key: Key, data: JSONBody[AccountsUpsert]) -> UpsertReport:
    """Store account versions by ``account_id`` and ``as_of``, all or nothing.

    A key limited to CSM groups updates accounts of its groups, and keeps them there;
    it creates none. An id it names that is unknown, or an account of another group,
    is refused in the same words, so the key learns nothing about ids held elsewhere
    (creating the one and refusing the other would tell them apart).
    """
    accounts = data.accounts
    _refuse_repeats(accounts)
    _refuse_other_groups(key, accounts)
    with context.store.transaction() as db:
        refuse_unwritable_accounts(db, key, accounts, "body.accounts", creates=True)
        counts = store_versions(db, accounts)
    return UpsertReport(
        received=len(accounts),
        created=counts.created,
        updated=counts.changed,
        unchanged=counts.unchanged,
    )


def _refuse_repeats(accounts: list[Account]) -> None:
    """A version twice in one batch: which of the two was meant is anyone's guess.

    Two versions of one account on different days are two facts, and welcome.
    """
    first: dict[tuple[str, object], int] = {}
    for index, account in enumerate(accounts):
        earlier = first.setdefault((account.account_id, account.as_of), index)
        if earlier != index:
            day = f" as of {account.as_of}" if account.as_of else ""
            raise ProblemError(
                422,
                f"account {account.account_id!r}{day} is in the batch twice; nothing was stored",
                errors=[
                    FieldError(
                        field=f"body.accounts[{index}].account_id",
                        reason=f"repeats accounts[{earlier}]; send each version once",
                    )
                ],
            )


def _refuse_other_groups(key: ApiKey, accounts: list[Account]) -> None:
    """Every account sent must be in one of the key's groups."""
    for index, account in enumerate(accounts):
        if not key.sees(account.csm_group):
            raise ProblemError(
                403,
                f"this key may not write accounts of CSM group {account.csm_group!r}",
                errors=[
                    FieldError(
                        field=f"body.accounts[{index}].csm_group",
                        reason="outside the key's CSM groups",
                    )
                ],
            )


@get(
    "/accounts",
    opt=needs("read"),
    sync_to_thread=True,
    responses=problem_responses(400, 401, 403),
)
def list_accounts(
    context: Context,
    key: Key,
    csm_group: FromQuery[str | None] = None,
    segment: FromQuery[str | None] = None,
    owner: Annotated[str | None, QueryParameter(description="The account's owner (CSM).")] = None,
    grade: Annotated[
        Grade | None, QueryParameter(description="The latest health score's grade.")
    ] = None,
    status: Annotated[
        AccountStatus | None,
        QueryParameter(
            description="The current status (its latest transition); a health status "
            "lists live accounts only, `inactive` the churned and paused ones."
        ),
    ] = None,
    renewal_within_days: Annotated[
        int | None,
        QueryParameter(
            ge=0,
            le=3650,
            # litestar leaves a bound of 0 out of the schema (it tests the bound's truth).
            schema_extra={"minimum": 0},
            description="Renewing within this many days of `as_of`.",
        ),
    ] = None,
    as_of: Annotated[
        date | None,
        QueryParameter(
            description="The day the accounts are read as of: each one's version in force "
            "that day, whether it is live, its status and grade on or before it; "
            "`renewal_within_days` counts from it. [default: today, UTC, and the latest "
            "status and grade]"
        ),
    ] = None,
    sort: Annotated[
        AccountSort,
        QueryParameter(
            description="`score`: riskiest first; `-arr`: most revenue first; "
            "`renewal_date`: soonest first; `-days_at_risk`: At-Risk the longest first; "
            "`-` reverses a field. Accounts without the value come last; ties by "
            "`account_id`. [default: `account_id`]"
        ),
    ] = "account_id",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AccountsPage:
    """Accounts with their current status and latest grade, in ``sort`` order, with the
    number and the ARR of every account the filters match.

    A key limited to CSM groups lists its groups' accounts only; filtering on
    another group is refused.
    """
    if csm_group is not None:
        check_groups(key, [csm_group])
    after = None
    if cursor is not None:
        cursor_sort, sort_key, last_id = decode_cursor(cursor, str, float, str)
        if cursor_sort != sort:
            raise bad_cursor(f"a cursor of sort={cursor_sort}, not of sort={sort}")
        after = (sort_key, last_id)
    window = None
    day = as_of or clock.today()
    if renewal_within_days is not None:
        window = (day, day + timedelta(days=renewal_within_days))
    found = _overviews(
        context,
        key,
        csm_group=csm_group,
        segment=segment,
        owner=owner,
        grade=grade,
        status=status,
        renewal_between=window,
        sort=sort,
        after=after,
        limit=limit,
        as_of=as_of,
    )
    return AccountsPage(
        items=found.rows,
        next_cursor=encode_cursor([sort, *found.resume]) if found.resume else None,
        matched=found.matched,
        arr=found.arr,
    )


@get(
    "/accounts/{account_id:str}",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403, 404),
)
def get_account(
    context: Context,
    key: Key,
    account_id: AccountId,
    as_of: Annotated[
        date | None,
        QueryParameter(
            description="Read the account's version in force that day, with its status and "
            "grade on or before it. [default: today, UTC, and the latest status and grade]"
        ),
    ] = None,
) -> AccountOverview:
    """The account (its version in force) with its current status and latest grade."""
    found = _overviews(context, key, account_id=account_id, limit=1, as_of=as_of).rows
    if not found:
        raise unknown_account(account_id)
    return found[0]


def _overviews(
    context: ApiContext,
    key: ApiKey,
    *,
    account_id: str | None = None,
    csm_group: str | None = None,
    segment: str | None = None,
    owner: str | None = None,
    grade: str | None = None,
    status: str | None = None,
    renewal_between: tuple[date, date] | None = None,
    sort: AccountSort = "account_id",
    after: tuple[float, str] | None = None,
    limit: int,
    as_of: date | None = None,
) -> OverviewPage:
    return account_overviews(
        context.store,
        scorer=HEALTH_SCORER,
        labels=context.plan.labels,
        csm_groups=key.csm_groups,
        account_id=account_id,
        csm_group=csm_group,
        segment=segment,
        owner=owner,
        grade=grade,
        status=status,
        renewal_between=renewal_between,
        sort=sort,
        after=after,
        limit=limit,
        as_of=as_of,
    )


router = Router(
    path="/v1",
    tags=["accounts"],
    security=SECURITY,
    route_handlers=[upsert_accounts, list_accounts, get_account],
)
