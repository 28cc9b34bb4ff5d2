"""``Idempotency-Key``: a retried POST or PUT is answered from the record, not run again.

Counting routes of the test's own are mounted on the real app, so each test can
tell whether the handler ran; everything else (guard, middleware, store) is real.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from litestar import post, put
from litestar.params import FromPath, JSONBody
from support.api import ApiHarness, api_harness
from telltales.errors import InputError
from telltales.store.keys import create_key, revoke_key
from telltales_api.auth import needs
from telltales_api.idempotency import claim, purge, request_hash
from telltales_api.problems import PROBLEM_MEDIA_TYPE

FIELD = "header.Idempotency-Key"


class Order(msgspec.Struct):
    item: str
    quantity: int = 1


class Calls:
    """How often each test route's handler ran, and what it should do next."""

    def __init__(self) -> None:
        self.count = 0
        self.fail_next = False
        self.refuse = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()


CALLS = Calls()


@post("/v1/test/orders", opt=needs("act"), sync_to_thread=True)
def place_order(data: JSONBody[Order]) -> dict[str, object]:
    CALLS.count += 1
    CALLS.entered.set()
    CALLS.release.wait(10)
    if CALLS.fail_next:
        CALLS.fail_next = False
        raise RuntimeError("the downstream system is down")
    if CALLS.refuse:
        raise InputError(f"no item {data.item!r}")
    return {"order": CALLS.count, "item": data.item, "quantity": data.quantity}


@put("/v1/test/orders/{order_id:int}", opt=needs("act"), sync_to_thread=False)
def replace_order(order_id: FromPath[int], data: JSONBody[Order]) -> dict[str, object]:
    CALLS.count += 1
    return {"order": order_id, "item": data.item, "calls": CALLS.count}


@pytest.fixture
def api(tmp_path: object) -> Iterator[ApiHarness]:
    global CALLS
    CALLS = Calls()
    for harness in api_harness(tmp_path):  # type: ignore[arg-type]
        harness.client.app.register(place_order)
        harness.client.app.register(replace_order)
        yield harness


def order(
    api: ApiHarness, token: str, key: str | None, body: dict[str, object] | None = None
) -> httpx.Response:
    headers = api.headers(token)
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post("/v1/test/orders", json=body or {"item": "seats"}, headers=headers)


def test_a_retry_is_answered_from_the_record_and_does_not_act_again(api: ApiHarness) -> None:
    token = api.key("act")
    first = order(api, token, "order-1")
    assert first.status_code == 201
    assert "idempotency-replayed" not in first.headers
    again = order(api, token, "order-1")
    assert again.status_code == 201
    assert again.headers["idempotency-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.content == first.content
    assert CALLS.count == 1


def test_without_the_header_every_request_acts(api: ApiHarness) -> None:
    token = api.key("act")
    order(api, token, None)
    order(api, token, None)
    assert CALLS.count == 2


def test_the_same_key_for_a_different_request_is_422(api: ApiHarness) -> None:
    token = api.key("act")
    assert order(api, token, "k").status_code == 201
    for response in (
        order(api, token, "k", {"item": "seats", "quantity": 2}),
        api.client.put(
            "/v1/test/orders/1",
            json={"item": "seats"},
            headers={**api.headers(token), "Idempotency-Key": "k"},
        ),
        api.client.post(
            "/v1/test/orders?rush=1",
            json={"item": "seats"},
            headers={**api.headers(token), "Idempotency-Key": "k"},
        ),
    ):
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["errors"] == [
            {"field": FIELD, "reason": "reused for a different request"}
        ]
    assert CALLS.count == 1


def test_the_same_json_serialised_differently_is_the_same_request(api: ApiHarness) -> None:
    """Found by outside testers: the request was compared byte for byte, so the same
    JSON re-serialised by a client library (key order, spacing) with the same
    Idempotency-Key was a 422 instead of a replay."""
    headers = {
        **api.headers(api.key("act")),
        "Idempotency-Key": "reordered",
        "Content-Type": "application/json",
    }
    first = api.client.post(
        "/v1/test/orders?a=1&b=2", content=b'{"item":"seats","quantity":2}', headers=headers
    )
    assert first.status_code == 201
    for query, body in (
        ("a=1&b=2", b'{ "quantity" : 2,\n  "item" : "seats" }'),
        ("b=2&a=1", b'{"quantity":2,"item":"seats"}'),
    ):
        again = api.client.post(f"/v1/test/orders?{query}", content=body, headers=headers)
        assert again.status_code == 201, again.text
        assert again.headers["idempotency-replayed"] == "true"
        assert again.content == first.content
    assert CALLS.count == 1
    # A different value, or a float for an integer, is still another request.
    for body in (b'{"quantity":3,"item":"seats"}', b'{"quantity":2.0,"item":"seats"}'):
        other = api.client.post("/v1/test/orders?a=1&b=2", content=body, headers=headers)
        assert other.status_code == 422, other.text


def test_put_is_covered_too(api: ApiHarness) -> None:
    headers = {**api.headers(api.key("act")), "Idempotency-Key": "put-1"}
    first = api.client.put("/v1/test/orders/7", json={"item": "seats"}, headers=headers)
    again = api.client.put("/v1/test/orders/7", json={"item": "seats"}, headers=headers)
    assert first.json() == again.json() == {"order": 7, "item": "seats", "calls": 1}
    assert again.headers["idempotency-replayed"] == "true"


def test_one_callers_key_never_replays_to_another(api: ApiHarness) -> None:
    first = order(api, api.key("act"), "shared")
    second = order(api, api.key("act"), "shared")
    assert "idempotency-replayed" not in second.headers
    assert first.json()["order"] == 1
    assert second.json()["order"] == 2


def test_a_revoked_key_gets_401_not_a_replay(api: ApiHarness) -> None:
    key, token = create_key(api.context.store, scopes=["act"], by="tests")
    assert order(api, token, "before-revoke").status_code == 201
    revoke_key(api.context.store, key.key_id, by="tests")
    response = order(api, token, "before-revoke")
    assert response.status_code == 401
    assert "idempotency-replayed" not in response.headers


def test_a_key_without_the_scope_is_refused_and_records_nothing(api: ApiHarness) -> None:
    assert order(api, api.key("read"), "no-scope").status_code == 403
    rows = api.context.store.db.execute("SELECT count(*) FROM api_requests").fetchone()
    assert rows == (0,)
    assert CALLS.count == 0


def test_a_server_error_is_not_stored_so_a_retry_acts(api: ApiHarness) -> None:
    token = api.key("act")
    CALLS.fail_next = True
    failed = order(api, token, "flaky")
    assert failed.status_code == 500
    retried = order(api, token, "flaky")
    assert retried.status_code == 201
    assert "idempotency-replayed" not in retried.headers
    assert CALLS.count == 2
    assert order(api, token, "flaky").headers["idempotency-replayed"] == "true"


def test_a_client_error_is_stored_and_replayed(api: ApiHarness) -> None:
    token = api.key("act")
    CALLS.refuse = True
    first = order(api, token, "refused")
    assert first.status_code == 422
    again = order(api, token, "refused")
    assert again.status_code == 422
    assert again.headers["idempotency-replayed"] == "true"
    assert again.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert again.json() == first.json()
    assert CALLS.count == 1


def test_a_retry_while_the_first_is_in_flight_is_409(api: ApiHarness) -> None:
    token = api.key("act")
    CALLS.release.clear()
    first: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: first.append(order(api, token, "slow")))
    worker.start()
    try:
        assert CALLS.entered.wait(10)
        during = order(api, token, "slow")
    finally:
        CALLS.release.set()
        worker.join(10)
    assert during.status_code == 409
    assert during.json()["errors"] == [{"field": FIELD, "reason": "its first request is in flight"}]
    assert first[0].status_code == 201
    after = order(api, token, "slow")
    assert after.headers["idempotency-replayed"] == "true"
    assert CALLS.count == 1


@pytest.mark.parametrize(
    "value",
    ["", " ", "x" * 201, "has space", "naïve".encode(), "tab\tinside"],
    ids=["empty", "blank", "too-long", "space", "non-ascii", "control"],
)
def test_an_invalid_header_is_400(api: ApiHarness, value: str | bytes) -> None:
    headers: dict[str, str | bytes] = {**api.headers(api.key("act")), "Idempotency-Key": value}
    response = api.client.post("/v1/test/orders", json={"item": "seats"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == FIELD
    assert CALLS.count == 0


def test_the_longest_key_is_accepted(api: ApiHarness) -> None:
    assert order(api, api.key("act"), "~" * 200).status_code == 201


def test_two_headers_are_400(api: ApiHarness) -> None:
    headers = [
        ("Authorization", f"Bearer {api.key('act')}"),
        ("Idempotency-Key", "a"),
        ("Idempotency-Key", "b"),
    ]
    response = api.client.post("/v1/test/orders", json={"item": "seats"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == FIELD
    assert CALLS.count == 0


def test_the_key_route_refuses_the_header_rather_than_store_a_token(api: ApiHarness) -> None:
    headers = {**api.headers(api.key("admin")), "Idempotency-Key": "new-key"}
    response = api.client.post("/v1/keys", json={"scopes": ["read"]}, headers=headers)
    assert response.status_code == 400
    assert "holds the new token" in response.json()["detail"]
    assert len(api.client.get("/v1/keys", headers=headers).json()["items"]) == 1


def test_records_expire_after_24_hours(api: ApiHarness) -> None:
    store = api.context.store
    key, token = create_key(store, scopes=["act"], by="tests")
    body = b'{"item":"seats"}'
    old = datetime.now(UTC) - timedelta(hours=25)
    digest = request_hash("POST", "/v1/test/orders", b"", body)
    assert claim(store, key.key_id, "old", "POST", "/v1/test/orders", digest, old) == "claimed"
    assert claim(store, key.key_id, "old", "POST", "/v1/test/orders", digest, old) == "in_flight"
    response = api.client.post(
        "/v1/test/orders",
        content=body,
        headers={
            **api.headers(token),
            "Idempotency-Key": "old",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 201  # the stale claim was not in the way
    assert CALLS.count == 1
    claim(store, key.key_id, "older", "POST", "/v1/test/orders", digest, old)
    assert purge(store, datetime.now(UTC)) == 1
    remaining = store.db.execute("SELECT idempotency_key FROM api_requests").fetchall()
    assert remaining == [("old",)]


def test_a_get_ignores_the_header(api: ApiHarness) -> None:
    headers = {**api.headers(api.key("read")), "Idempotency-Key": "not checked on GET"}
    assert api.client.get("/v1/plugins", headers=headers).status_code == 200


def test_a_retry_sent_the_moment_the_answer_ends_is_replayed(api: ApiHarness) -> None:
    """The answer is on record before its last byte leaves: a client that retries as
    soon as it has read the answer (a fast network, a busy server) gets the replay, not
    409. The retry goes through the same app from inside the first answer's ``send``."""
    token = api.key("act")
    app = api.client.app
    body = msgspec.json.encode({"item": "seats"})
    headers = [
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"idempotency-key", b"at-once"),
    ]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/test/orders",
        "raw_path": b"/v1/test/orders",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }

    async def call(on_end: Any = None) -> tuple[int, bytes, dict[bytes, bytes]]:
        sent = False
        answer: dict[str, Any] = {"body": b""}

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = dict(message.get("headers", []))
            else:
                answer["body"] = answer["body"] + message.get("body", b"")
                if not message.get("more_body", False) and on_end is not None:
                    await on_end()

        await app(dict(scope), receive, send)
        return answer["status"], answer["body"], answer["headers"]

    retried: list[tuple[int, bytes, dict[bytes, bytes]]] = []

    async def retry_now() -> None:
        retried.append(await call())

    with api.client.portal() as portal:
        status, first_body, _ = portal.call(call, retry_now)
    assert status == 201
    ((again_status, again_body, again_headers),) = retried
    assert again_status == 201, again_body
    assert again_headers[b"idempotency-replayed"] == b"true"
    assert again_body == first_body
    assert CALLS.count == 1
