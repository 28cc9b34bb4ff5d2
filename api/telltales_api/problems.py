"""Errors as RFC 9457 problem details, mapped once for the whole app.

Every error a client can cause answers ``application/problem+json`` with a status,
a title, a detail in plain words and, for invalid input, ``errors``: one entry per
field naming the field (``records[3].seats_purchased``, ``query.limit``) and the
reason. Anything unexpected is a 500 whose body says nothing about the internals;
the traceback goes to the log and the request's span.
"""

from __future__ import annotations

import keyword
import logging
import sqlite3
from collections.abc import Iterable
from enum import Enum
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from telltales.errors import (
    InputError,
    StoreError,
    TelltalesError,
    UnknownAccountError,
    named_field,
)

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


class ApiRequest(Request[Any, Any, Any]):
    """The app's request: a body nested too deeply to decode is the client's mistake (400).

    msgspec decodes nested arrays and objects recursively and gives up with a
    RecursionError, which would otherwise be an unexpected error, a 500.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError as error:
            raise SerializationException("nested too deeply") from error


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
    415: "The body is not sent as JSON (Content-Type: application/json).",
    422: (
        "The body is well-formed but its content is invalid, and nothing was written; "
        "or an Idempotency-Key was reused for a different request."
    ),
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


def _field_error(item: dict[str, Any]) -> FieldError:
    """One of litestar's validation entries as ``body.records[3].arr`` and a reason.

    msgspec names a missing or unknown field in its message rather than its path;
    a missing body comes as the parameter ``data``. A parameter named after a Python
    keyword is declared ``from_`` with the alias ``from``, but litestar reports the
    Python name: the client sent ``from``, so that is the name given back.
    """
    source = item.get("source") or "body"
    source = str(source.value if isinstance(source, Enum) else source)
    key = str(item.get("key") or "")
    if source != "body" and key.endswith("_") and keyword.iskeyword(key[:-1]):
        key = key[:-1]
    reason = str(item.get("message") or "invalid")
    if source == "body" and key == "data":
        key = ""
        if reason == "'data'":
            reason = "a JSON body is required"
    named = named_field(reason)
    if named is not None:
        reason, name = named
        key = f"{key}.{name}" if key else name
    if key and not key.startswith("["):
        key = f".{key}"
    return FieldError(field=f"{source}{key}", reason=reason[:1].lower() + reason[1:])


def _validation_errors(extra: object) -> list[FieldError]:
    if not isinstance(extra, list):
        return []
    return [_field_error(item) for item in extra if isinstance(item, dict)]


def _invalid(errors: list[FieldError]) -> str:
    """The detail of a 400: the first invalid field in words (the rest are in ``errors``)."""
    first = f"{errors[0].field}: {errors[0].reason}"
    return first if len(errors) == 1 else f"{first} (and {len(errors) - 1} more)"


def _record_on_span(error: BaseException) -> None:
    """The request's span carries the traceback of a 5xx; the body never does."""
    span = trace.get_current_span()
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))


def _on_problem(request: Request[Any, Any, Any], error: ProblemError) -> Response[Problem]:
    return problem_response(request, error.status, error.detail, error.errors, error.headers)


CLIENT_LEFT = "client disconnected prematurely"
"""litestar's words (an InternalServerException) for a body cut off by the client."""


def _on_http(request: Request[Any, Any, Any], error: HTTPException) -> Response[Problem]:
    status = error.status_code
    detail = error.detail
    errors: list[FieldError] = []
    if isinstance(error, ValidationException):
        errors = _validation_errors(error.extra)
        if errors:
            detail = _invalid(errors)
    elif isinstance(error.__cause__, SerializationException):
        errors = [FieldError(field="body", reason=f"not valid JSON: {detail}")]
        detail = "the body is not valid JSON"
    if status >= 500 and detail == CLIENT_LEFT:
        # The client hung up mid-body: its doing, not the server's; nobody reads the answer.
        log.info("client left during the body of %s %s", request.method, request.url.path)
        return problem_response(request, 400, "the client disconnected before the whole body")
    if status >= 500:
        log.error("server error on %s %s", request.method, request.url.path, exc_info=error)
        _record_on_span(error)
        detail = "the server could not answer; the error is in its log"
    return problem_response(request, status, detail, errors, dict(error.headers or {}))


def _on_telltales(request: Request[Any, Any, Any], error: TelltalesError) -> Response[Problem]:
    if isinstance(error, UnknownAccountError):
        return problem_response(request, 404, str(error))
    if isinstance(error, InputError):
        return problem_response(request, 422, str(error))
    _record_on_span(error)
    if isinstance(error, StoreError):
        log.error("store error on %s %s: %s", request.method, request.url.path, error)
        return problem_response(request, 503, "the database is not available")
    log.error("error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(request, HTTP_500_INTERNAL_SERVER_ERROR, "the server could not answer")


def _on_sqlite(
    request: Request[Any, Any, Any], error: sqlite3.OperationalError
) -> Response[Problem]:
    """A write that waited out the busy timeout behind another (a long run): retry later."""
    if "locked" in str(error) or "busy" in str(error):
        log.warning("database busy on %s %s: %s", request.method, request.url.path, error)
        return problem_response(
            request, 503, "the database is busy; retry shortly", headers={"Retry-After": "5"}
        )
    return _on_unexpected(request, error)


def _on_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[Problem]:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    _record_on_span(error)
    return problem_response(
        request, HTTP_500_INTERNAL_SERVER_ERROR, "the server could not answer; see its log"
    )


EXCEPTION_HANDLERS: Any = {
    ProblemError: _on_problem,
    HTTPException: _on_http,
    TelltalesError: _on_telltales,
    sqlite3.OperationalError: _on_sqlite,
    Exception: _on_unexpected,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "PROBLEM_MEDIA_TYPE",
    "ApiRequest",
    "FieldError",
    "Problem",
    "ProblemError",
    "problem_response",
    "problem_responses",
]
