"""The at-risk list: accounts by status, with what is at stake, for one CSM's groups."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal, get_args

from litestar import Request, get
from litestar.params import QueryParameter
from litestar.response import Template
from telltales import clock
from telltales.signals.scorecards import HEALTH_SCORER
from telltales.store.queries import account_overviews

from telltales_api.auth import check_groups
from telltales_api.pages.access import context_of, signed_in
from telltales_api.paging import decode_cursor, encode_cursor

PAGE_SIZE = 50
StatusFilter = Literal["at_risk", "concern", "healthy", "inactive", "all"]
STATUSES: tuple[str, ...] = get_args(StatusFilter)


@get("/accounts", sync_to_thread=True, include_in_schema=False)
def accounts_page(
    request: Request[Any, Any, Any],
    status: Annotated[StatusFilter, QueryParameter()] = "at_risk",
    csm_group: Annotated[str | None, QueryParameter(max_length=200)] = None,
    segment: Annotated[str | None, QueryParameter(max_length=200)] = None,
    renewal_within_days: Annotated[int | None, QueryParameter(ge=0, le=3650)] = None,
    cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
) -> Template:
    """Accounts of the session's groups with a status (At-Risk first), filtered."""
    session = signed_in(request)
    key = session.key
    if csm_group:
        check_groups(key, [csm_group])
    context = context_of(request)
    today = clock.today()
    window = (
        (today, today + timedelta(days=renewal_within_days))
        if renewal_within_days is not None
        else None
    )
    after = decode_cursor(cursor, str)[0] if cursor else None
    found = account_overviews(
        context.store,
        scorer=HEALTH_SCORER,
        labels=context.plan.labels,
        csm_groups=key.csm_groups,
        csm_group=csm_group or None,
        segment=segment or None,
        status=None if status == "all" else status,
        renewal_between=window,
        after=after,
        limit=PAGE_SIZE + 1,
    )
    rows = found[:PAGE_SIZE]
    more = len(found) > PAGE_SIZE
    filters = {
        "status": status,
        "csm_group": csm_group or "",
        "segment": segment or "",
        "renewal_within_days": "" if renewal_within_days is None else renewal_within_days,
    }
    return Template(
        "accounts.html",
        context={
            "session": session,
            "rows": rows,
            "arr_shown": sum(row.account.arr for row in rows),
            "filters": filters,
            "statuses": STATUSES,
            "labels": context.plan.labels,
            "next_cursor": encode_cursor([rows[-1].account.account_id]) if more else None,
            "today": today,
        },
    )
