"""OWASP API4 (unrestricted resource consumption): too much is refused, quickly, unread.

Against a real ``telltales serve``: a body announced as 50 MB is answered 413 after
the first 64 KB were sent, so the server neither waited for nor held the rest; a
chunked body that never says its length is cut off at the limit; a 100 KB URL and a
100 KB header are refused; none of it wrote a row, and the server still answers. In
process, on every operation: page sizes above the maximum, path segments and query
values of 20,000 characters (the query string is limited to 8 KiB), thousands of
parameters, and bodies nested 100,000 deep are 4xx within a second each, never a
5xx, and write nothing.
"""

from __future__ import annotations

import logging
import select
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from support.api import ApiHarness, api_harness
from support.security_routes import Operation, operations
from support.server import Server, environment, start_server, stop_server, telltales
from telltales_api import create_app
from telltales_api.context import DEFAULT_MAX_BODY, ApiSettings
from telltales_api.paging import MAX_LIMIT

pytestmark = pytest.mark.reliability

LOCKED = [
    op
    for op in operations(create_app(ApiSettings(db=Path("never-opened.db"))))
    if op.scope is not None
]
SAMPLES = {
    "account_id": "northwind",
    "task_id": 1,
    "run_id": 1,
    "backtest_id": 1,
    "delivery_id": 1,
    "pilot_id": "p",
    "key_id": "k",
}
FAST = 2.0
"""Seconds within which a refusal comes (generous: CI machines are slow and shared)."""
FIFTY_MB = 50 * 1024 * 1024


def _digest(db: Path) -> list[tuple[str, int]]:
    """Rows per table, read beside the running server."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        tables = [
            str(row[0])
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        counts = [
            (t, connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables
        ]
    connection.close()
    return counts


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, str]]:
    folder = tmp_path_factory.mktemp("resources")
    db = folder / "api.db"
    env = environment()
    assert telltales("--db", db, "init", env=env).returncode == 0
    made = telltales("--db", db, "keys", "create", "--scope", "admin", env=env)
    assert made.returncode == 0, made.stderr
    server = start_server(db, "--workers", "1", env=env)
    try:
        server.wait_ready()
        yield server, db, made.stdout.strip()
    finally:
        stop_server(server)


def _raw(
    server: Server, head: bytes, body: Iterator[bytes], seconds: float = 10
) -> tuple[bytes, int]:
    """Send ``head``, then ``body`` piece by piece until the server answers or stops
    reading; return the start of its answer and the body bytes it took."""
    host, port = server.url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=seconds) as connection:
        connection.sendall(head)
        for piece in body:
            if select.select([connection], [], [], 0)[0]:
                break
            try:
                connection.sendall(piece)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                read = connection.recv(65536)
                if not read:
                    break
                answer += read
        except TimeoutError:
            raise AssertionError(f"no answer within {seconds} s after {sent} body bytes") from None
        except ConnectionResetError:
            pass
    return answer, sent


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _pieces(size: int, total: int) -> Iterator[bytes]:
    piece = b"[" * size
    for _ in range(total // size):
        yield piece


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/v1/accounts", {}),
        ("/v1/ingest/telemetry.usage", {}),
        ("/v1/runs", {}),
        pytest.param("/v1/accounts", {"Idempotency-Key": "big-1"}, id="idempotent"),
    ],
)
def test_a_50_mb_body_is_refused_before_it_is_sent(
    served: tuple[Server, Path, str], path: str, extra: dict[str, str]
) -> None:
    server, db, token = served
    before = _digest(db)
    method = "PUT" if path == "/v1/accounts" else "POST"
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Length": str(FIFTY_MB),
        **extra,
    }
    started = time.monotonic()
    answer, sent = _raw(server, _head(method, path, headers), _pieces(65536, 65536), seconds=3)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert sent <= DEFAULT_MAX_BODY, f"the server took {sent} bytes before refusing"
    assert time.monotonic() - started < 3
    assert _digest(db) == before
    assert server.http.get("/readyz").status_code == 200


def test_a_chunked_body_is_cut_off_at_the_limit(served: tuple[Server, Path, str]) -> None:
    server, db, token = served
    before = _digest(db)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    chunk = b"[" * 65536
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    answer, sent = _raw(
        server,
        _head("PUT", "/v1/accounts", headers),
        (framed for _ in range(FIFTY_MB // len(chunk))),
        seconds=30,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert sent < FIFTY_MB / 2, f"the server took {sent} bytes before refusing"
    assert _digest(db) == before


def test_a_huge_url_or_header_is_answered_and_the_server_stays_up(
    served: tuple[Server, Path, str],
) -> None:
    """A 100 KB path or query is refused; so is a 100 KB or non-UTF-8 key. Another
    100 KB header is granian's to bound: it must not hurt."""
    server, _, token = served
    long = "x" * 100_000
    bearer = {"Authorization": f"Bearer {token}"}
    not_utf8 = b"\r\nAuthorization: Bearer tt_\xff\xfe_\xc3\x28\r\n\r\n"
    for head, refused in (
        (_head("GET", f"/v1/accounts/{long}", bearer), True),
        (_head("GET", f"/v1/accounts?segment={long}", bearer), True),
        (_head("GET", "/v1/accounts", {"Authorization": f"Bearer tt_{long}"}), True),
        (_head("GET", "/v1/accounts", {}).replace(b"\r\n\r\n", not_utf8), True),
        (_head("GET", "/v1/accounts", {**bearer, "X-Padding": long}), False),
    ):
        answer, _ = _raw(server, head, iter(()))
        assert answer.startswith(b"HTTP/1.1 "), answer[:300]
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500 if refused else status < 500, answer[:300]
    assert server.http.get("/readyz").status_code == 200


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHarness]:
    yield from api_harness(tmp_path_factory.mktemp("limits"), max_body_bytes=1024 * 1024)


@pytest.fixture(scope="module")
def admin(api: ApiHarness) -> dict[str, str]:
    return api.headers(api.key("admin"))


@pytest.mark.parametrize(
    "op", [op for op in LOCKED if "limit" in op.query_params], ids=lambda op: op.name
)
def test_a_page_size_above_the_maximum_is_a_400(
    api: ApiHarness, admin: dict[str, str], op: Operation
) -> None:
    for limit in (MAX_LIMIT + 1, 10**6, 10**30, 0, -1, "1e3", "all"):
        response = api.client.get(op.url(SAMPLES), params={"limit": limit}, headers=admin)
        assert response.status_code == 400, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["query.limit"]


def _timed(api: ApiHarness, op: Operation, url: str, **options: object) -> int:
    started = time.monotonic()
    response = api.client.request(op.method, url, **options)  # type: ignore[arg-type]
    took = time.monotonic() - started
    assert response.status_code < 500, f"{op.name}: {response.text[:300]}"
    assert took < FAST, f"{op.name} took {took:.2f} s"
    return response.status_code


@pytest.mark.parametrize("op", LOCKED, ids=lambda op: op.name)
def test_long_deep_and_many_parameters_are_answered_quickly(
    api: ApiHarness, admin: dict[str, str], op: Operation
) -> None:
    for name in op.path_params:
        for value in ("é" * 5_000, "x" * 50_000, "a/" * 5_000):
            assert 400 <= _timed(api, op, op.url({**SAMPLES, name: value}), headers=admin) < 500
    url = op.url(SAMPLES)
    nested = "".join(f"[{n}]" for n in range(3_000))
    for query in (
        *({name: "x" * 20_000} for name in op.query_params),
        *([(name, str(n)) for n in range(2_000)] for name in op.query_params),
        {f"filter{nested}": "x"},
        [(f"f{n}", "x") for n in range(2_000)],
    ):
        assert 400 <= _timed(api, op, url, params=query, headers=admin) < 500


@pytest.mark.parametrize("op", [op for op in LOCKED if op.takes_body], ids=lambda op: op.name)
def test_bodies_too_deep_or_too_large_are_refused_and_write_nothing(
    api: ApiHarness, admin: dict[str, str], op: Operation
) -> None:
    store = api.context.store
    changes = store.db.conn.total_changes
    deep = b'{"records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    headers = {**admin, "Content-Type": "application/json"}
    assert 400 <= _timed(api, op, op.url(SAMPLES), content=deep, headers=headers) < 500
    assert 400 <= _timed(api, op, op.url(SAMPLES), content=b"[" * 200_000, headers=headers) < 500
    many = b'{"records": [' + b",".join(b"{}" for _ in range(400_000)) + b"]}"
    assert _timed(api, op, op.url(SAMPLES), content=many, headers=headers) == 413
    assert store.db.conn.total_changes == changes


def test_a_client_that_leaves_mid_body_is_answered_400_and_logged_as_no_error(
    api: ApiHarness, admin: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A client that hangs up halfway through its body is its own doing: litestar calls
    it a 500 ("client disconnected prematurely"), which logged an ERROR with a traceback
    for every dropped connection."""
    messages: list[dict[str, object]] = [
        {"type": "http.request", "body": b'{"accounts": [', "more_body": True},
        {"type": "http.disconnect"},
    ]
    answered: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        answered.append(message)

    headers = [(b"content-type", b"application/json")]
    headers += [(name.lower().encode(), value.encode()) for name, value in admin.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/v1/accounts",
        "raw_path": b"/v1/accounts",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    with caplog.at_level(logging.INFO):
        anyio.run(api.client.app, scope, receive, send)
    start = next(m for m in answered if m["type"] == "http.response.start")
    assert start["status"] == 400
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
