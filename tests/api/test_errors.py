"""Every error is an RFC 9457 problem detail naming the field; no client input is a 500.

A few routes of the test's own are mounted on the real app (with the real guard,
middleware and exception handlers) to show how body validation errors are named
and that an unexpected error reveals nothing; the weird-input checks run against
every route the app has.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import msgspec
import pytest
from litestar import get, post
from litestar.params import FromPath, FromQuery, JSONBody
from support.api import ApiHarness, api_harness
from support.routes import LOCKED, route_id
from telltales_api.auth import needs
from telltales_api.context import Context
from telltales_api.paging import encode_cursor
from telltales_api.problems import PROBLEM_MEDIA_TYPE

SECRET = "the-password-is-swordfish"


class Row(msgspec.Struct):
    account_id: str
    arr: Annotated[int, msgspec.Meta(ge=0, le=10**12)]


class Batch(msgspec.Struct, forbid_unknown_fields=True):
    records: list[Row]


@post("/v1/test/batch", opt=needs("ingest"), sync_to_thread=False)
def take_batch(data: JSONBody[Batch]) -> dict[str, int]:
    return {"stored": len(data.records)}


@post("/v1/test/crash", opt=needs("ingest"), sync_to_thread=False)
def crash() -> None:
    raise RuntimeError(f"cannot connect with {SECRET} to /srv/secret/path")


@post("/v1/test/locked", opt=needs("ingest"), sync_to_thread=False)
def locked(kind: FromQuery[str]) -> None:
    raise sqlite3.OperationalError(kind)


@get("/v1/test/items/{item_id:int}", opt=needs("read"), sync_to_thread=False)
def read_item(context: Context, item_id: FromPath[int]) -> dict[str, int]:
    context.store.db.execute("SELECT ?", [item_id]).fetchone()
    return {"item_id": item_id}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHarness]:
    for harness in api_harness(tmp_path_factory.mktemp("errors"), max_body_bytes=64_000):
        harness.client.app.register(take_batch)
        harness.client.app.register(crash)
        harness.client.app.register(read_item)
        harness.client.app.register(locked)
        yield harness


@pytest.fixture(scope="module")
def admin(api: ApiHarness) -> dict[str, str]:
    return api.headers(api.key("admin"))


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def fields(body: dict[str, object]) -> list[tuple[str, str]]:
    errors = body.get("errors", [])
    assert isinstance(errors, list)
    return [(e["field"], e["reason"]) for e in errors]


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("limit=0", "query.limit", "expected `int` >= 1"),
        ("limit=501", "query.limit", "expected `int` <= 500"),
        ("limit=ten", "query.limit", "expected `int`, got `str`"),
        ("limit=99999999999999999999999999", "query.limit", "expected `int` <= 500"),
        ("cursor=not-ours", "query.cursor", "not a cursor from a previous page"),
        ("cursor=" + "a" * 401, "query.cursor", "expected `str` of length <= 400"),
    ],
)
def test_an_invalid_query_parameter_is_400_naming_it(
    api: ApiHarness, admin: dict[str, str], query: str, field: str, reason: str
) -> None:
    body = problem(api.client.get(f"/v1/keys?{query}", headers=admin), 400)
    assert fields(body) == [(field, reason)]
    assert body["instance"] == "/v1/keys"


@pytest.mark.parametrize(
    ("content", "field", "reason"),
    [
        (
            b'{"records": [{"account_id": "a", "arr": 1}, {"account_id": "b", "arr": 1}, '
            b'{"account_id": "c", "arr": 2}, {"account_id": "d", "arr": "lots"}]}',
            "body.records[3].arr",
            "expected `int`, got `str`",
        ),
        (
            b'{"records": [{"account_id": "a", "arr": -5}]}',
            "body.records[0].arr",
            "expected `int` >= 0",
        ),
        (b'{"records": [{"arr": 1}]}', "body.records[0].account_id", "required field"),
        (b'{"records": [], "extra": 1}', "body.extra", "unknown field"),
        (b"[]", "body", "expected `object`, got `array`"),
        (b"", "body", "a JSON body is required"),
    ],
)
def test_an_invalid_body_is_400_naming_the_field_by_path(
    api: ApiHarness, content: bytes, field: str, reason: str
) -> None:
    token = api.key("ingest")
    response = api.client.post(
        "/v1/test/batch",
        content=content,
        headers={**api.headers(token), "Content-Type": "application/json"},
    )
    body = problem(response, 400)
    assert fields(body) == [(field, reason)]
    assert body["detail"] == f"{field}: {reason}"


@pytest.mark.parametrize(
    "content",
    [b'{"records": [', b"{bad}", b"\xff\xfe", b"[" * 50_000 + b"]" * 10, b'{"a": 1e999}'],
    ids=["truncated", "not-json", "not-utf8", "deep", "number-out-of-range"],
)
def test_a_body_that_is_not_json_is_400(api: ApiHarness, content: bytes) -> None:
    response = api.client.post(
        "/v1/test/batch",
        content=content,
        headers={**api.headers(api.key("ingest")), "Content-Type": "application/json"},
    )
    body = problem(response, 400)
    assert body["detail"] == "the body is not valid JSON"
    assert fields(body)[0][0] == "body"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_that_is_not_sent_as_json_is_415(
    api: ApiHarness, admin: dict[str, str], content_type: str
) -> None:
    response = api.client.post(
        "/v1/keys",
        content=b'{"scopes": ["read"]}',
        headers={**admin, "Content-Type": content_type},
    )
    body = problem(response, 415)
    assert fields(body) == [("header.Content-Type", "must be application/json")]
    assert content_type in str(body["detail"])


def test_json_with_a_charset_or_a_json_suffix_is_accepted(
    api: ApiHarness, admin: dict[str, str]
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = api.client.post(
            "/v1/keys",
            content=b'{"scopes": ["read"]}',
            headers={**admin, "Content-Type": content_type},
        )
        assert response.status_code == 201, response.text


def test_a_body_over_the_limit_is_413(api: ApiHarness) -> None:
    rows = [{"account_id": f"a{n}", "arr": n} for n in range(5_000)]
    headers = api.headers(api.key("ingest"))
    body = problem(api.client.post("/v1/test/batch", json={"records": rows}, headers=headers), 413)
    assert body["title"] == "Content Too Large"
    response = api.client.post(
        "/v1/test/batch",
        json={"records": rows},
        headers={**headers, "Idempotency-Key": "big-one"},
    )
    problem(response, 413)
    small = api.client.post("/v1/test/batch", json={"records": rows[:10]}, headers=headers)
    assert small.json() == {"stored": 10}


def test_an_integer_path_parameter_too_large_for_the_database_is_400(api: ApiHarness) -> None:
    headers = api.headers(api.key("read"))
    assert api.client.get(f"/v1/test/items/{2**63 - 1}", headers=headers).status_code == 200
    body = problem(api.client.get(f"/v1/test/items/{2**63}", headers=headers), 400)
    assert fields(body) == [("path.item_id", "out of range")]
    problem(api.client.get(f"/v1/test/items/{-(2**63) - 1}", headers=headers), 400)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/metrics/retention?to=0001-01-01", "query.to"),
        ("/v1/metrics/risk-reversal?window_days=30&as_of=9999-12-31", "query.as_of"),
        ("/v1/accounts?renewal_within_days=3650&as_of=9999-12-31", "query.as_of"),
        ("/v1/tasks?due_before=1899-12-31", "query.due_before"),
    ],
)
def test_a_date_at_the_ends_of_the_calendar_is_400_not_an_overflow(
    api: ApiHarness, admin: dict[str, str], url: str, field: str
) -> None:
    """Date arithmetic near year 1 or 9999 overflowed into a 500 (found by review)."""
    body = problem(api.client.get(url, headers=admin), 400)
    day = url.rpartition("=")[2]
    assert fields(body) == [(field, f"{day} is outside 1900-01-01..2999-12-31")]
    run = api.client.post("/v1/runs", json={"as_of": "0001-01-01"}, headers=admin)
    assert fields(problem(run, 400)) == [
        ("body.as_of", "0001-01-01 is outside 1900-01-01..2999-12-31")
    ]


def test_a_forged_cursor_with_an_integer_beyond_the_database_is_400(
    api: ApiHarness, admin: dict[str, str]
) -> None:
    forged = encode_cursor(["2026-01-01", 2**80])
    body = problem(api.client.get(f"/v1/tasks?cursor={forged}", headers=admin), 400)
    assert fields(body) == [("query.cursor", "not a cursor from a previous page")]


def test_a_busy_database_is_503_with_retry_after_and_other_sqlite_errors_500(
    api: ApiHarness,
) -> None:
    headers = api.headers(api.key("ingest"))
    busy = api.client.post("/v1/test/locked?kind=database is locked", headers=headers)
    assert problem(busy, 503)["detail"] == "the database is busy; retry shortly"
    assert busy.headers["retry-after"] == "5"
    broken = api.client.post("/v1/test/locked?kind=no such table: x", headers=headers)
    problem(broken, 500)
    assert "no such table" not in broken.text


def test_unknown_routes_and_methods_are_problems(api: ApiHarness, admin: dict[str, str]) -> None:
    assert problem(api.client.get("/v1/no-such-thing", headers=admin), 404)["instance"] == (
        "/v1/no-such-thing"
    )
    problem(api.client.get("/nothing-here"), 404)
    problem(api.client.patch("/v1/keys", headers=admin), 405)
    problem(api.client.put("/healthz"), 405)


def test_an_unexpected_error_is_a_500_that_reveals_nothing(
    api: ApiHarness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="telltales.api"):
        response = api.client.post("/v1/test/crash", headers=api.headers(api.key("ingest")))
    body = problem(response, 500)
    assert SECRET not in response.text
    assert "secret" not in response.text
    assert "RuntimeError" not in response.text
    assert body["detail"] == "the server could not answer; see its log"
    assert SECRET in caplog.text


WEIRD_BODIES = [
    b"null",
    b"{}",
    b'{"records": [{"account_id": "a\\u0000b", "arr": 99999999999999999999999999999}]}',
    b'{"scopes": ["read"], "name": "' + b"x" * 20_000 + b'"}',
    b'{"as_of": "2026-02-30", "from": "0000-00-00", "window_days": -1}',
    b'{"records": ' + b"[" * 3_000 + b"]" * 3_000 + b"}",
    b'{"account_id": "\\u0000", "limit": 1e308}',
]
WEIRD_QUERIES = [
    "limit=99999999999999999999&as_of=2026-13-45&from=%00&to=x",
    "csm_group=%00&segment=" + "s" * 5_000 + "&window_days=99999999999999999999",
    "as_of=-1&cursor=%FF%FE&status=%F0%9F%92%A9",
]


def _weird_paths(path: str) -> list[str]:
    """The route's path with its last segment made strange (only for parameterised paths)."""
    if "no-such-thing" not in path and "999999" not in path:
        return []
    strange = ["%00", "a" * 3_000, "%F0%9F%92%A9", "..%2F..%2Fetc", "99999999999999999999999", "-1"]
    return [path.replace("no-such-thing", s).replace("999999", s) for s in strange]


@pytest.mark.parametrize("route", LOCKED, ids=route_id)
def test_weird_input_never_makes_a_500(
    api: ApiHarness, admin: dict[str, str], route: tuple[str, str, str]
) -> None:
    method, path, _ = route
    attempts: list[httpx.Response] = []
    for query in WEIRD_QUERIES:
        attempts.append(api.client.request(method, f"{path}?{query}", headers=admin))
    for weird in _weird_paths(path):
        attempts.append(api.client.request(method, weird, headers=admin))
    if method in ("POST", "PUT"):
        json_headers = {**admin, "Content-Type": "application/json"}
        for content in WEIRD_BODIES:
            attempts.append(api.client.request(method, path, content=content, headers=json_headers))
        for content_type in ("text/csv", "multipart/form-data; boundary=x"):
            attempts.append(
                api.client.request(
                    method,
                    path,
                    content=b"a,b\n1,2",
                    headers={**admin, "Content-Type": content_type},
                )
            )
    for response in attempts:
        assert response.status_code < 500, f"{response.request.url}: {response.text[:500]}"
        if response.status_code >= 400:
            assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_no_route_answers_html_or_a_stack_trace(tmp_path: Path) -> None:
    for api in api_harness(tmp_path):
        response = api.client.get("/v1/keys?limit=0", headers={"Accept": "text/html"})
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert "Traceback" not in response.text
