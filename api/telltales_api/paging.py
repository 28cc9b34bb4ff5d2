"""Cursor pagination for every list: ``limit`` and an opaque ``cursor``.

A cursor is the sort key of the last item served, so a page is one indexed range
read however deep the client goes, and rows added meanwhile are neither skipped
nor served twice. Clients treat it as opaque text.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import msgspec
from litestar.params import Parameter

from telltales_api.problems import FieldError, ProblemError

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
LARGEST_ID = 2**53 - 1
"""The largest integer id a path takes: the largest a JSON number holds exactly.

The schema states a bound as a JSON number, which clients and validators read as a
double; SQLite's own bound (2**63 - 1) would be written as 2**63, and the integers
between the two would be valid by the schema and refused by the server.
"""

Limit = Annotated[
    int,
    Parameter(ge=1, le=MAX_LIMIT, description=f"Items per page, 1 to {MAX_LIMIT}."),
]
Cursor = Annotated[
    str | None,
    Parameter(max_length=400, description="`next_cursor` of the previous page."),
]


def encode_cursor(values: list[Any]) -> str:
    """The cursor that resumes after a row whose sort key is ``values``."""
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode().rstrip("=")


def bad_cursor(reason: str = "not a cursor from a previous page") -> ProblemError:
    """The 400 for a cursor this API did not give out (or not for this list)."""
    return ProblemError(
        400,
        "the cursor is not one this API gave out",
        errors=[FieldError(field="query.cursor", reason=reason)],
    )


def decode_cursor(cursor: str, *kinds: type[Any]) -> list[Any]:
    """The sort key in ``cursor``, one value of each of ``kinds``; anything else is a 400.

    Types are checked exactly (``True`` is not an ``int`` here), and integers against
    SQLite's range, so a forged cursor never reaches a query it would break.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != len(kinds)
        or any(type(value) is not kind for value, kind in zip(values, kinds, strict=True))
        or any(type(value) is int and not -(2**63) <= value < 2**63 for value in values)
    ):
        raise bad_cursor()
    return values
