"""The at-risk list: accounts by status, sorted and filtered, with what is at stake.

The page and its CSV download read the same filtered, sorted list as
``GET /v1/accounts`` (:func:`telltales.store.queries.account_overviews`), limited to
the session key's CSM groups. Each row of the page also gives the first words of the
account's why and its next action, from the same composed health as the account page
and ``GET /v1/accounts/{id}/health``.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import Template
from telltales import clock
from telltales.engine.health import NextAction
from telltales.signals.scorecards import HEALTH_SCORER
from telltales.store.queries import AccountSort, OverviewPage, account_overviews
from telltales.store.sessions import PageSession

from telltales_api.auth import check_groups
from telltales_api.pages.access import context_of, signed_in
from telltales_api.pages.account import account_path, read_health
from telltales_api.paging import bad_cursor, decode_cursor, encode_cursor
from telltales_api.problems import ProblemError

PAGE_SIZE = 50
WHY_WORDS = 16
"""How much of an account's why a row of the list shows; the account page has all of it."""
MAX_RENEWAL_DAYS = 3650
MAX_CSV_ROWS = 10_000
StatusFilter = Literal["at_risk", "concern", "healthy", "inactive", "all"]
STATUSES: tuple[str, ...] = get_args(StatusFilter)
SORTS: dict[str, str] = {
    "score": "Score, riskiest first",
    "-arr": "ARR, largest first",
    "renewal_date": "Renewal, soonest first",
    "-days_at_risk": "Days At-Risk, longest first",
    "account_id": "Account id",
}
"""The sorts the page offers (any sort of the API is accepted in the address)."""


class Filters(msgspec.Struct, kw_only=True, frozen=True):
    """The list's filters and sort, as the page's form and its links carry them."""

    status: StatusFilter = "at_risk"
    csm_group: str = ""
    segment: str = ""
    owner: str = ""
    renewal_within_days: int | None = None
    sort: AccountSort = "score"

    def query(self) -> dict[str, str]:
        """The filters as a link's query (empty ones left out)."""
        fields = msgspec.structs.asdict(self)
        return {name: str(value) for name, value in fields.items() if value not in ("", None)}


def _filters(
    status: Annotated[StatusFilter, QueryParameter()] = "at_risk",
    csm_group: Annotated[str | None, QueryParameter(max_length=200)] = None,
    segment: Annotated[str | None, QueryParameter(max_length=200)] = None,
    owner: Annotated[str | None, QueryParameter(max_length=200)] = None,
    renewal_within_days: Annotated[str | None, QueryParameter(max_length=4)] = None,
    sort: Annotated[AccountSort, QueryParameter()] = "score",
) -> Filters:
    """The filters from the query; a field the form left empty filters nothing."""
    days = None
    if renewal_within_days:
        if not renewal_within_days.isdigit() or int(renewal_within_days) > MAX_RENEWAL_DAYS:
            raise ProblemError(
                400, f"renewal within: give a number of days, 0 to {MAX_RENEWAL_DAYS}"
            )
        days = int(renewal_within_days)
    return Filters(
        status=status,
        csm_group=csm_group or "",
        segment=segment or "",
        owner=owner or "",
        renewal_within_days=days,
        sort=sort,
    )


def _read(
    request: Request[Any, Any, Any],
    session: PageSession,
    filters: NamedDependency[Filters],
    after: tuple[float, str] | None,
    limit: int,
) -> OverviewPage:
    key = session.key
    if filters.csm_group:
        check_groups(key, [filters.csm_group])
    context = context_of(request)
    today = clock.today()
    window = (
        (today, today + timedelta(days=filters.renewal_within_days))
        if filters.renewal_within_days is not None
        else None
    )
    return account_overviews(
        context.store,
        scorer=HEALTH_SCORER,
        labels=context.plan.labels,
        csm_groups=key.csm_groups,
        csm_group=filters.csm_group or None,
        segment=filters.segment or None,
        owner=filters.owner or None,
        status=None if filters.status == "all" else filters.status,
        renewal_between=window,
        sort=filters.sort,
        after=after,
        limit=limit,
    )


FILTERS = {"filters": Provide(_filters, sync_to_thread=False)}
"""The list's query, read once for the page and for its download."""


@get("/accounts", sync_to_thread=True, include_in_schema=False, dependencies=FILTERS)
def accounts_page(
    request: Request[Any, Any, Any],
    filters: NamedDependency[Filters],
    cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
) -> Template:
    """The session's accounts with a status (At-Risk by default), riskiest first."""
    session = signed_in(request)
    after = None
    if cursor:
        cursor_sort, sort_key, last_id = decode_cursor(cursor, str, float, str)
        if cursor_sort != filters.sort:
            raise bad_cursor(f"a cursor of sort={cursor_sort}, not of sort={filters.sort}")
        after = (sort_key, last_id)
    found = _read(request, session, filters, after, PAGE_SIZE)
    context = context_of(request)
    actions: dict[str, NextAction] = {
        row.account.account_id: read_health(context, row.account.account_id).next_action
        for row in found.rows
    }
    return Template(
        "accounts.html",
        context={
            "session": session,
            "rows": found.rows,
            "actions": actions,
            "first_words": first_words,
            "account_path": account_path,
            "matched": found.matched,
            "arr": found.arr,
            "filters": filters,
            "query": filters.query(),
            "statuses": STATUSES,
            "sorts": SORTS,
            "labels": context.plan.labels,
            "next_cursor": encode_cursor([filters.sort, *found.resume]) if found.resume else None,
            "today": clock.today(),
        },
    )


def first_words(text: str, count: int = WHY_WORDS) -> str:
    """The first ``count`` words of ``text``, with an ellipsis when there were more."""
    words = text.split()
    return " ".join(words) if len(words) <= count else " ".join(words[:count]) + " …"


CSV_COLUMNS = (
    "account_id",
    "name",
    "owner",
    "csm_group",
    "segment",
    "arr",
    "renewal_date",
    "status",
    "status_since",
    "grade",
    "score",
)


@get("/accounts.csv", sync_to_thread=True, include_in_schema=False, dependencies=FILTERS)
def accounts_csv(
    request: Request[Any, Any, Any], filters: NamedDependency[Filters]
) -> Response[bytes]:
    """The list the page shows with the same filters and sort, every page of it (up to
    10,000 rows), one account per row."""
    session = signed_in(request)
    found = _read(request, session, filters, None, MAX_CSV_ROWS)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in found.rows:
        account = row.account
        writer.writerow(
            [
                account.account_id,
                _cell(account.name),
                _cell(account.owner),
                _cell(account.csm_group),
                _cell(account.segment),
                f"{account.arr:g}",
                account.renewal_date or "",
                row.status or "",
                row.status_since or "",
                row.grade or "",
                "" if row.score is None else f"{row.score:.1f}",
            ]
        )
    return Response(
        out.getvalue().encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="accounts.csv"'},
    )


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (``=``, ``+``, ``-``, ``@``)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
