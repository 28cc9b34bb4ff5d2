"""The outbox over HTTP: list deliveries with their attempts, and retry a failed one.

A delivery that ran out of attempts (or that its destination refused for good) is
*failed* and stays listed here until someone fixes the destination and retries it.
A key limited to CSM groups sees its groups' deliveries only; another group's answers
404, like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, get_args

import msgspec
from litestar import Router, get, post
from litestar.params import PathParameter, QueryParameter
from telltales.errors import InputError
from telltales.playbooks import outbox
from telltales.playbooks.outbox import Attempt, Delivery, DeliveryStatus
from telltales.store import Store
from telltales.store.keys import ApiKey

from telltales_api.auth import SECURITY, Key, check_groups, needs
from telltales_api.context import Context
from telltales_api.paging import LARGEST_ID, Cursor, Limit, decode_cursor, encode_cursor
from telltales_api.problems import FieldError, ProblemError, problem_responses

DELIVERY_STATUSES: tuple[str, ...] = get_args(DeliveryStatus)
DeliveryId = Annotated[int, PathParameter(ge=1, le=LARGEST_ID, description="The delivery's id.")]


class DeliveryPage(msgspec.Struct, kw_only=True):
    """Deliveries, newest first."""

    items: list[Delivery]
    next_cursor: str | None
    """Pass as ``cursor`` for the next (older) page; null on the last page."""


class DeliveryDetail(Delivery, kw_only=True, frozen=True):
    """A delivery and every attempt at it: when, whether it got through, what came back."""

    attempts_made: list[Attempt]


@get(
    "/deliveries",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403),
)
def list_deliveries(
    context: Context,
    key: Key,
    status: Annotated[
        str | None,
        QueryParameter(
            enum=DELIVERY_STATUSES,
            description="awaiting_approval, pending, delivered, failed or cancelled.",
        ),
    ] = None,
    account_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
    csm_group: Annotated[
        str | None, QueryParameter(max_length=200, description="The CSM group of the account.")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> DeliveryPage:
    """Deliveries matching every filter given, newest first."""
    groups = key.csm_groups
    if csm_group is not None:
        check_groups(key, [csm_group])
        groups = frozenset({csm_group})
    found = outbox.list_deliveries(
        context.store,
        status=_status(status),
        account_id=account_id,
        csm_groups=groups,
        before=decode_cursor(cursor, int)[0] if cursor is not None else None,
        limit=limit + 1,
    )
    found.reverse()
    page = found[:limit]
    more = len(found) > limit
    return DeliveryPage(
        items=page, next_cursor=encode_cursor([page[-1].delivery_id]) if more else None
    )


def _status(value: str | None) -> str | None:
    """The ``status`` filter, checked here: litestar would name it by its Python name."""
    if value is None or value in DELIVERY_STATUSES:
        return value
    raise ProblemError(
        400,
        f"no delivery status {value!r}",
        errors=[FieldError(field="query.status", reason=f"one of {', '.join(DELIVERY_STATUSES)}")],
    )


@get(
    "/deliveries/{delivery_id:int}",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403, 404),
)
def read_delivery(delivery_id: DeliveryId, context: Context, key: Key) -> DeliveryDetail:
    """A delivery with every attempt at it."""
    delivery = _visible(context.store, key, delivery_id)
    return DeliveryDetail(
        **msgspec.structs.asdict(delivery),
        attempts_made=outbox.attempts_of(context.store, delivery_id),
    )


@post(
    "/deliveries/{delivery_id:int}/retry",
    opt=needs("admin"),
    sync_to_thread=True,
    status_code=200,
    responses=problem_responses(400, 401, 403, 404, 409),
)
def retry_delivery(delivery_id: DeliveryId, context: Context, key: Key) -> Delivery:
    """Give a failed delivery a new set of attempts, once its destination is fixed.

    The worker sends it again with the same idempotency key. Only a failed delivery
    is retried; any other is a 409 and changes nothing.
    """
    store = context.store
    with store.transaction():
        _visible(store, key, delivery_id)
        try:
            outbox.retry_failed(store, delivery_id)
        except InputError as error:
            raise ProblemError(409, str(error)) from None
    return _visible(store, key, delivery_id)


def _visible(store: Store, key: ApiKey, delivery_id: int) -> Delivery:
    delivery = outbox.find_delivery(store, delivery_id, csm_groups=key.csm_groups)
    if delivery is None:
        raise ProblemError(404, f"no delivery {delivery_id}")
    return delivery


router = Router(
    path="/v1",
    tags=["outbox"],
    security=SECURITY,
    route_handlers=[list_deliveries, read_delivery, retry_delivery],
)
