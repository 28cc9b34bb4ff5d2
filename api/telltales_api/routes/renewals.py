"""``PUT /v1/renewals`` and ``GET /v1/renewals``: renewal outcomes, the retention metrics' input."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar import Router, get, put
from litestar.params import JSONBody, QueryParameter
from telltales.outcomes.renewals import (
    InvalidRecords,
    Renewal,
    RenewalCounts,
    RenewalOutcome,
    list_renewals,
    record_renewals,
)

from telltales_api.auth import SECURITY, Key, actor, check_groups, needs
from telltales_api.context import Context
from telltales_api.paging import Cursor, Limit, decode_cursor, encode_cursor
from telltales_api.problems import FieldError, ProblemError, problem_responses
from telltales_api.strict_body import strict_body


class RenewalsBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    renewals: list[RenewalOutcome]


class RenewalsPage(msgspec.Struct, kw_only=True):
    items: list[Renewal]
    next_cursor: str | None


def invalid_body(error: InvalidRecords) -> ProblemError:
    """422 naming each invalid record of the body by its path."""
    return ProblemError(
        422,
        error.summary,
        errors=[FieldError(field=f"body.{p.path}", reason=p.reason) for p in error.problems],
    )


@put(
    "/renewals",
    opt=needs("ingest"),
    dto=strict_body(RenewalsBody),
    return_dto=None,
    sync_to_thread=True,
    responses=problem_responses(400, 401, 403, 413, 422),
)
def put_renewals(context: Context, key: Key, data: JSONBody[RenewalsBody]) -> RenewalCounts:
    """Record renewal outcomes, all or none: the same values again change nothing.

    A churned renewal has `arr_after` 0, a renewed one more than 0. Different values
    for a recorded renewal replace it, and every version is kept. A key limited to
    CSM groups records renewals of its groups' accounts only.
    """
    try:
        return record_renewals(
            context.store,
            data.renewals,
            source="api",
            by=actor(key),
            csm_groups=key.csm_groups,
        )
    except InvalidRecords as error:
        raise invalid_body(error) from error


@get(
    "/renewals",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403),
)
def get_renewals(
    context: Context,
    key: Key,
    csm_group: Annotated[
        str | None, QueryParameter(description="Renewals of this CSM group (as recorded).")
    ] = None,
    segment: Annotated[
        str | None, QueryParameter(description="Renewals of this segment (as recorded).")
    ] = None,
    account_id: Annotated[
        str | None, QueryParameter(description="Renewals of this account.")
    ] = None,
    from_: Annotated[
        date | None, QueryParameter(name="from", description="Renewals due on or after this day.")
    ] = None,
    to: Annotated[
        date | None, QueryParameter(description="Renewals due on or before this day.")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> RenewalsPage:
    """Recorded renewals by renewal date, with the account's owner, group, segment and
    pilot cohort when recorded."""
    if csm_group is not None:
        check_groups(key, [csm_group])
    first = from_
    if first is not None and to is not None and to < first:
        raise ProblemError(
            400,
            f"'to' ({to}) is before 'from' ({first})",
            errors=[FieldError(field="query.to", reason="before query.from")],
        )
    after = None
    if cursor is not None:
        values = decode_cursor(cursor, str, str)
        after = (values[0], values[1])
    items = list_renewals(
        context.store,
        csm_group=csm_group,
        segment=segment,
        account_id=account_id,
        start=first,
        end=to,
        groups=key.csm_groups,
        after=after,
        limit=limit + 1,
    )
    more = len(items) > limit
    items = items[:limit]
    last = items[-1] if more else None
    return RenewalsPage(
        items=items,
        next_cursor=encode_cursor([last.renewal_date.isoformat(), last.account_id])
        if last
        else None,
    )


router = Router(
    path="/v1", tags=["renewals"], security=SECURITY, route_handlers=[put_renewals, get_renewals]
)
