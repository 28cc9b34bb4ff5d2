"""Who is calling and what they may do: API keys, scopes and CSM groups.

Every route under ``/v1`` declares the scope it needs with ``opt=needs("read")``;
one app-wide middleware (:class:`Authorize`) checks the ``Authorization: Bearer
<key>`` header against the stored hash and the scope, and leaves the key on the
request for the handler (``key: ApiKey`` as a dependency), which limits what it
reads and writes to the key's CSM groups. Objects of other groups answer 404, as
if they did not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Receive, Send
from litestar.types import Scope as ASGIScope
from telltales.store.keys import ApiKey, Scope

from .context import ApiContext
from .freshness import Stamp
from .problems import FieldError, ProblemError

SCOPE_OPT = "scope"
KEY_STATE = "telltales_key"
STAMP_STATE = "telltales_stamp"
SECURITY_SCHEME = "apiKey"
SECURITY: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]
COMPONENTS = Components(
    security_schemes={
        SECURITY_SCHEME: SecurityScheme(
            type="http",
            scheme="bearer",
            description="An API key from `telltales keys create`: `Authorization: Bearer tt_...`",
        )
    }
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="telltales"'}


def needs(scope: Scope) -> dict[str, Any]:
    """The ``opt`` of a route that needs ``scope``."""
    return {SCOPE_OPT: scope}


def bearer_token(header: str) -> str | None:
    """The token in an ``Authorization: Bearer <token>`` header, or None if malformed."""
    kind, _, token = header.partition(" ")
    token = token.strip()
    return token if kind.lower() == "bearer" and token else None


class Authorize(ASGIMiddleware):
    """401 without a live key, 403 without the route's scope; runs before every handler.

    A middleware rather than a litestar guard: guards are given a copy of the route
    handler on every call, which cost the busiest route a tenth of its requests per
    second. It runs on the event loop; the key is checked through ``context.keys``,
    which forgets what it knew as soon as the database changes, so a revocation takes
    effect on the next request. The key and the database's change stamp are left in
    the request's state (``request_key``, ``request_stamp``).
    """

    scopes = (ScopeType.HTTP,)

    async def handle(
        self, scope: ASGIScope, receive: Receive, send: Send, next_app: ASGIApp
    ) -> None:
        needed: Scope | None = scope["route_handler"].opt.get(SCOPE_OPT)
        if needed is not None:
            context: ApiContext = scope["litestar_app"].state.telltales
            key, stamp = context.keys.verify(context.store, _token(scope))
            if key is None:
                raise ProblemError(401, "this API key is unknown or revoked", headers=_CHALLENGE)
            if not key.allows(needed):
                raise ProblemError(
                    403,
                    f"this key lacks the {needed!r} scope (it has {', '.join(sorted(key.scopes))})",
                )
            state = scope["state"]
            state[KEY_STATE] = key
            state[STAMP_STATE] = stamp
        await next_app(scope, receive, send)


def _token(scope: ASGIScope) -> str:
    header = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            header = value
            break
    if not header:
        raise ProblemError(401, "send an API key: Authorization: Bearer tt_...", headers=_CHALLENGE)
    token = bearer_token(header.decode("latin-1"))
    if token is None:
        raise ProblemError(
            401, "the Authorization header must be 'Bearer <key>'", headers=_CHALLENGE
        )
    return token


def request_key(scope: ASGIScope) -> ApiKey:
    """The caller's key, checked by :class:`Authorize` (routes with a scope only)."""
    key: ApiKey = scope["state"][KEY_STATE]
    return key


def request_stamp(scope: ASGIScope) -> Stamp:
    """The database's change stamp read when the request's key was checked."""
    stamp: Stamp = scope["state"][STAMP_STATE]
    return stamp


def actor(key: ApiKey) -> str:
    """Who did it, as write actions record it: the key's id, and its name if it has one."""
    return f"api-key:{key.key_id}" + (f" ({key.name})" if key.name else "")


def check_groups(key: ApiKey, requested: Iterable[str], field: str = "query.csm_group") -> None:
    """Refuse, with 403, a filter naming a CSM group the key may not see."""
    hidden = sorted(g for g in requested if not key.sees(g))
    if hidden:
        raise ProblemError(
            403,
            f"this key may not read CSM group {hidden[0]!r}",
            errors=[FieldError(field=field, reason="outside the key's CSM groups")],
        )


def group_clause(key: ApiKey, column: str = "csm_group") -> tuple[str, list[object]]:
    """A SQL condition limiting rows to the key's groups (``1`` for every group)."""
    if key.csm_groups is None:
        return "1", []
    groups = sorted(key.csm_groups)
    return f"{column} IN ({', '.join('?' for _ in groups)})", list(groups)


Key = NamedDependency[ApiKey]
"""A handler's ``key`` parameter: the caller's checked key."""
