"""Errors as RFC 9457 problem details, mapped once for the whole app.

Every error a client can cause answers ``application/problem+json`` with a status,
a title, a detail in plain words and, for invalid input, ``errors``: one entry per
field naming the field (``records[3].seats_purchased``, ``query.limit``) and the
reason. Anything unexpected is a 500 whose body says nothing about the internals;
the traceback goes to the log and the request's span.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from telltales.errors import InputError, StoreError, TelltalesError, UnknownAccountError

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("telltales.api")


class FieldError(msgspec.Struct, kw_only=True, frozen=True):
    """One invalid field: where it is and what is wrong with it."""

    field: str
    reason: str


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem detail."""

    title: str
    status: int
    detail: str = ""
    type: str = "about:blank"
    instance: str = ""
    errors: list[FieldError] = msgspec.field(default_factory=list)


class ProblemError(Exception):
    """Raise from a handler to answer with a problem detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Iterable[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

_DESCRIPTIONS = {
    400: "The request is malformed: a query parameter, path parameter or body is invalid.",
    401: "No API key, or one that is malformed, unknown or revoked.",
    403: "The key lacks the scope this route needs, or the CSM group asked for.",
    404: "No such object, or not one this key may see.",
    409: "Conflicts with the current state (or an Idempotency-Key reused differently).",
    413: "The request body is larger than the configured limit.",
    422: "The body is well-formed but its content is invalid; nothing was written.",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The error responses a route documents in the OpenAPI schema."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(status, TITLES.get(status, "Error")),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in statuses
    }


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    errors: Iterable[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    return Response(
        Problem(
            title=TITLES.get(status, "Error"),
            status=status,
            detail=detail,
            instance=request.url.path,
            errors=list(errors),
        ),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _validation_errors(extra: object) -> list[FieldError]:
    errors: list[FieldError] = []
    if isinstance(extra, list):
        for item in extra:
            if isinstance(item, dict):
                source = item.get("source")
                key = item.get("key") or ""
                field = f"{source}.{key}" if source and key else str(key or source or "body")
                errors.append(FieldError(field=field, reason=str(item.get("message", ""))))
    return errors


def _on_problem(request: Request[Any, Any, Any], error: ProblemError) -> Response[Problem]:
    return problem_response(request, error.status, error.detail, error.errors, error.headers)


def _on_http(request: Request[Any, Any, Any], error: HTTPException) -> Response[Problem]:
    status = error.status_code
    errors = _validation_errors(error.extra) if isinstance(error, ValidationException) else []
    detail = error.detail
    if status >= 500:
        log.error("server error on %s %s", request.method, request.url.path, exc_info=error)
        detail = "the server could not answer; the error is in its log"
    return problem_response(request, status, detail, errors, dict(error.headers or {}))


def _on_telltales(request: Request[Any, Any, Any], error: TelltalesError) -> Response[Problem]:
    if isinstance(error, UnknownAccountError):
        return problem_response(request, 404, str(error))
    if isinstance(error, InputError):
        return problem_response(request, 422, str(error))
    if isinstance(error, StoreError):
        log.error("store error on %s %s: %s", request.method, request.url.path, error)
        return problem_response(request, 503, "the database is not available")
    log.error("error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(request, HTTP_500_INTERNAL_SERVER_ERROR, "the server could not answer")


def _on_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(
        request, HTTP_500_INTERNAL_SERVER_ERROR, "the server could not answer; see its log"
    )


EXCEPTION_HANDLERS: Any = {
    ProblemError: _on_problem,
    HTTPException: _on_http,
    TelltalesError: _on_telltales,
    Exception: _on_unexpected,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_MEDIA_TYPE",
    "FieldError",
    "Problem",
    "ProblemError",
    "problem_response",
    "problem_responses",
]
