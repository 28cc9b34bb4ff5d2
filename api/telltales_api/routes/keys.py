"""``/v1/keys``: API keys for admins, the same as ``telltales keys`` on the command line.

A new key's token is in the answer to its creation and nowhere else: it is not
stored (only its hash is), not logged, and the route refuses an Idempotency-Key so
that it is not kept for a replay either.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Router, delete, get, post
from litestar.params import JSONBody, PathParameter
from telltales.errors import InputError
from telltales.store.keys import (
    MAX_GROUP,
    MAX_NAME,
    KeyDescription,
    KeyRevokedError,
    LastAdminKeyError,
    Scope,
    UnknownKeyError,
    create_key,
    describe,
    list_keys,
    revoke_key,
)

from telltales_api.auth import SECURITY, Key, actor, needs
from telltales_api.context import Context
from telltales_api.idempotency import NO_IDEMPOTENCY_OPT
from telltales_api.paging import Cursor, Limit, decode_cursor, encode_cursor
from telltales_api.problems import FieldError, ProblemError, problem_responses
from telltales_api.strict_body import strict_body


class KeyPage(msgspec.Struct, kw_only=True):
    items: list[KeyDescription]
    next_cursor: str | None


class NewKey(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A key to create: its scopes and, optionally, the CSM groups it is limited to."""

    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=4)]
    csm_groups: (
        Annotated[
            list[Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_GROUP)]],
            msgspec.Meta(min_length=1, max_length=100),
        ]
        | None
    ) = None
    """Null (or left out) for every group; an admin key always sees every group."""
    name: Annotated[str, msgspec.Meta(max_length=MAX_NAME)] = ""


class CreatedKey(msgspec.Struct, kw_only=True):
    key: KeyDescription
    token: str
    """Shown this once: send it as ``Authorization: Bearer <token>``."""


KeyId = Annotated[str, PathParameter(max_length=64, description="The key's id (not its token).")]


@get(
    "/keys",
    opt=needs("admin"),
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403),
)
def list_api_keys(context: Context, limit: Limit = 100, cursor: Cursor = None) -> KeyPage:
    """Every API key, oldest first, revoked ones included; never a token."""
    after = decode_cursor(cursor, str, str) if cursor else None
    found = list_keys(
        context.store,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
    )
    more = len(found) > limit
    page = found[:limit]
    next_cursor = (
        encode_cursor([page[-1].created_at.isoformat(), page[-1].key_id]) if more else None
    )
    return KeyPage(items=[describe(key) for key in page], next_cursor=next_cursor)


@post(
    "/keys",
    opt={**needs("admin"), NO_IDEMPOTENCY_OPT: "its answer holds the new token, never stored"},
    dto=strict_body(NewKey),
    return_dto=None,
    sync_to_thread=False,
    responses=problem_responses(400, 401, 403, 422),
)
def create_api_key(context: Context, key: Key, data: JSONBody[NewKey]) -> CreatedKey:
    """Create a key; the answer holds its token, which is shown this once.

    Its CSM groups must be known: a stored account's, or declared in the configuration
    (``[csm_groups.<group>]``); a misspelled one is a 422 listing the known groups. Only
    an admin key gets here, and it sees every group, so the list hides nothing from it.
    """
    try:
        created, token = create_key(
            context.store,
            scopes=data.scopes,
            csm_groups=data.csm_groups,
            declared_groups=context.plan.csm_groups,
            name=data.name,
            by=actor(key),
        )
    except InputError as error:
        named = [FieldError(field=f"body.{error.field}", reason=str(error))] if error.field else []
        raise ProblemError(422, str(error), errors=named) from None
    return CreatedKey(key=describe(created), token=token)


@delete(
    "/keys/{key_id:str}",
    opt=needs("admin"),
    sync_to_thread=False,
    status_code=200,
    responses=problem_responses(400, 401, 403, 404, 409),
)
def revoke_api_key(context: Context, key: Key, key_id: KeyId) -> KeyDescription:
    """Revoke a key: the next request made with it gets 401.

    The last live admin key is not revoked here (409): no key could then manage keys
    over HTTP. The host's ``telltales keys revoke`` can still revoke it.
    """
    try:
        revoked = revoke_key(context.store, key_id, by=actor(key), keep_an_admin=True)
    except UnknownKeyError as error:
        raise ProblemError(404, str(error)) from error
    except (KeyRevokedError, LastAdminKeyError) as error:
        raise ProblemError(409, str(error)) from error
    return describe(revoked)


router = Router(
    path="/v1",
    tags=["keys"],
    security=SECURITY,
    route_handlers=[list_api_keys, create_api_key, revoke_api_key],
)
