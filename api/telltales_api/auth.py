"""Who is calling and what they may do: API keys, scopes and CSM groups.

Every route under ``/v1`` declares the scope it needs with ``opt=needs("read")``;
one app-wide guard checks the ``Authorization: Bearer <key>`` header against the
stored hash and the scope, and leaves the key on the request for the handler
(``key: ApiKey`` as a dependency), which limits what it reads and writes to the
key's CSM groups. Objects of other groups answer 404, as if they did not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Components, SecurityScheme
from telltales.keys import ApiKey, Scope, verify_token

from .context import ApiContext
from .problems import FieldError, ProblemError

SCOPE_OPT = "scope"
KEY_STATE = "telltales_key"
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


def authorize(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The app-wide guard: 401 without a live key, 403 without the route's scope."""
    scope: Scope | None = handler.opt.get(SCOPE_OPT)
    if scope is None:
        return
    header = connection.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    if not header:
        raise ProblemError(401, "send an API key: Authorization: Bearer tt_...", headers=_CHALLENGE)
    if kind.lower() != "bearer" or not token.strip():
        raise ProblemError(
            401, "the Authorization header must be 'Bearer <key>'", headers=_CHALLENGE
        )
    context: ApiContext = connection.app.state.telltales
    key = verify_token(context.store, token.strip())
    if key is None:
        raise ProblemError(401, "this API key is unknown or revoked", headers=_CHALLENGE)
    if not key.allows(scope):
        raise ProblemError(
            403, f"this key lacks the {scope!r} scope (it has {', '.join(sorted(key.scopes))})"
        )
    connection.scope["state"][KEY_STATE] = key


def current_key(connection: ASGIConnection[Any, Any, Any, Any]) -> ApiKey:
    """The dependency ``key``: the caller's key, checked by :func:`authorize`."""
    key: ApiKey = connection.scope["state"][KEY_STATE]
    return key


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
