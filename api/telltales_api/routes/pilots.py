"""Pilots: list and read them (with their events); create, enable, disable or end one.

Reading needs ``read``: a key limited to CSM groups sees the pilots covering at
least one of its groups (with every group they cover: a pilot is configuration,
not account data). Changing needs ``admin``. A change that conflicts with the
current state (a pilot id taken, a CSM group already in another enabled pilot, a
pilot already in that state or ended) is a 409 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, cast, get_args

import msgspec
from litestar import Router, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Operation, RequestBody
from litestar.params import JSONBody, PathParameter, QueryParameter
from telltales.errors import InputError
from telltales.playbooks import pilots
from telltales.playbooks.pilots import NewPilot, Pilot, PilotEvent, PilotState
from telltales.store import Store
from telltales.store.keys import ApiKey

from telltales_api.auth import SECURITY, Key, actor, check_groups, needs
from telltales_api.context import Context
from telltales_api.paging import Cursor, Limit, decode_cursor, encode_cursor
from telltales_api.problems import FieldError, ProblemError, problem_responses
from telltales_api.strict_body import strict_body

PILOT_STATES: tuple[str, ...] = get_args(PilotState)
PilotId = Annotated[str, PathParameter(max_length=64, description="The pilot's id.")]


class PilotPage(msgspec.Struct, kw_only=True):
    """Pilots by id."""

    items: list[Pilot]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; null on the last page."""


class PilotDetail(Pilot, kw_only=True, frozen=True):
    """A pilot and every change made to it: who, when, what."""

    events: list[PilotEvent]


class StateChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str = ""
    """Why (optional): kept in the pilot's events."""


@dataclass
class OptionalBodyOperation(Operation):
    """An operation whose JSON body may be left out, as the schema then says.

    litestar documents every request body as required, even one whose parameter
    defaults to None; a client reading the schema would send ``{}`` where nothing is
    needed, and a schema-driven fuzzer rightly flags the body-less request accepted.
    """

    def __post_init__(self) -> None:
        if isinstance(self.request_body, RequestBody):
            self.request_body.required = False


@get(
    "/pilots",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403),
)
def list_pilots(
    context: Context,
    key: Key,
    pilot_state: Annotated[
        str | None,
        QueryParameter(name="state", enum=PILOT_STATES, description="enabled, disabled or ended."),
    ] = None,
    csm_group: Annotated[
        str | None, QueryParameter(max_length=200, description="Pilots covering this CSM group.")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PilotPage:
    """Pilots, by id; a key limited to CSM groups sees those covering one of its groups."""
    groups = key.csm_groups
    if csm_group is not None:
        check_groups(key, [csm_group])
        groups = frozenset({csm_group})
    found = pilots.page_pilots(
        context.store,
        csm_groups=groups,
        state=_state(pilot_state),
        after=_after(cursor) if cursor is not None else None,
        limit=limit + 1,
    )
    page = found[:limit]
    last = page[-1] if len(found) > limit else None
    return PilotPage(items=page, next_cursor=encode_cursor([last.pilot_id]) if last else None)


def _state(value: str | None) -> PilotState | None:
    """The ``state`` filter, checked here: litestar would name it by its Python name."""
    if value is None or value in PILOT_STATES:
        return cast(PilotState | None, value)
    raise ProblemError(
        400,
        f"no pilot state {value!r}",
        errors=[FieldError(field="query.state", reason=f"one of {', '.join(PILOT_STATES)}")],
    )


def _after(cursor: str) -> str:
    (pilot_id,) = decode_cursor(cursor, str)
    return str(pilot_id)


@get(
    "/pilots/{pilot_id:str}",
    opt=needs("read"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403, 404),
)
def read_pilot(pilot_id: PilotId, context: Context, key: Key) -> PilotDetail:
    """A pilot with every change made to it."""
    pilot = _visible(context.store, key, pilot_id)
    return PilotDetail(
        **msgspec.structs.asdict(pilot), events=pilots.pilot_events(context.store, pilot_id)
    )


@post(
    "/pilots",
    opt=needs("admin"),
    dto=strict_body(NewPilot),
    return_dto=None,
    sync_to_thread=True,
    status_code=201,
    responses=problem_responses(400, 401, 403, 409, 422),
)
def create_pilot(data: JSONBody[NewPilot], context: Context, key: Key) -> Pilot:
    """Enable rules and playbooks for CSM groups from a day, holding out a control group."""
    store = context.store
    groups = [group.strip() for group in data.csm_groups]
    with store.transaction():
        if pilots.find_pilot(store, data.pilot_id) is not None:
            raise ProblemError(
                409,
                f"a pilot named {data.pilot_id!r} already exists",
                errors=[FieldError(field="body.pilot_id", reason="taken")],
            )
        if data.enabled:
            _refuse_overlap(store, data.pilot_id, groups, "body.csm_groups")
        try:
            return pilots.create_pilot(store, context.plan, data, by=actor(key))
        except InputError as error:
            raise _invalid(error) from error


def _invalid(error: InputError) -> ProblemError:
    """The core names the field first (``rules: no enabled rule named 'x'``): point at it."""
    message = str(error)
    field, _, reason = message.partition(": ")
    named = field in NewPilot.__struct_fields__
    return ProblemError(
        422,
        message,
        errors=[FieldError(field=f"body.{field}", reason=reason)] if named else [],
    )


def _state_route(path: str, state: PilotState, doc: str) -> HTTPRouteHandler:
    def change(
        pilot_id: PilotId, context: Context, key: Key, data: JSONBody[StateChange | None] = None
    ) -> Pilot:
        store = context.store
        with store.transaction():
            pilot = _visible(store, key, pilot_id)
            if pilot.state == "ended":
                raise ProblemError(409, f"pilot {pilot_id!r} has ended; create a new pilot instead")
            if pilot.state == state:
                raise ProblemError(409, f"pilot {pilot_id!r} is already {state}")
            if state == "enabled":
                _refuse_overlap(store, pilot_id, pilot.csm_groups)
            reason = data.reason.strip() if data is not None else ""
            return pilots.set_state(store, pilot_id, state, by=actor(key), reason=reason)

    change.__name__ = change.__qualname__ = f"{path}_pilot"
    change.__doc__ = doc
    return post(
        f"/pilots/{{pilot_id:str}}/{path}",
        opt=needs("admin"),
        dto=strict_body(StateChange | None),
        return_dto=None,
        sync_to_thread=True,
        status_code=200,
        operation_class=OptionalBodyOperation,
        responses=problem_responses(400, 401, 403, 404, 409),
    )(change)


def _visible(store: Store, key: ApiKey, pilot_id: str) -> Pilot:
    pilot = pilots.find_pilot(store, pilot_id, csm_groups=key.csm_groups)
    if pilot is None:
        raise ProblemError(404, f"no pilot {pilot_id!r}")
    return pilot


def _refuse_overlap(
    store: Store, pilot_id: str, groups: Sequence[str], field: str | None = None
) -> None:
    overlap = pilots.overlapping_pilot(store, pilot_id, groups)
    if overlap is not None:
        shared, other = overlap
        reason = f"{shared!r} is already in enabled pilot {other.pilot_id!r}"
        raise ProblemError(
            409,
            f"CSM group {reason}; one pilot per CSM group at a time (disable or end it first)",
            errors=[FieldError(field=field, reason=reason)] if field else [],
        )


router = Router(
    path="/v1",
    tags=["pilots"],
    security=SECURITY,
    route_handlers=[
        list_pilots,
        read_pilot,
        create_pilot,
        _state_route("enable", "enabled", "Enable a pilot: its rules and playbooks act again."),
        _state_route(
            "disable", "disabled", "Disable a pilot: its groups run in shadow mode until enabled."
        ),
        _state_route("end", "ended", "End a pilot for good: its history stays; it cannot restart."),
    ],
)
