"""``Idempotency-Key`` on POST and PUT: a retried request does not act twice.

The first request with a key claims ``(API key, Idempotency-Key)`` in
``api_requests`` (committed before the handler runs), the handler acts, and its
status and body are stored. A retry of the same request (same method and path, and
the same query and JSON body once decoded: key order and spaces do not matter) then
gets the stored answer, marked ``Idempotency-Replayed: true``, without the handler
running again. While the first is still in flight a retry gets
409; the same Idempotency-Key on a different request gets 422. An answer of 500 or
more is not stored: it may not have acted, so a retry may.

Keys are per API key, and the API key is checked before anything is replayed: one
caller's Idempotency-Key never answers another's request. Records are kept 24
hours. A request without a live key or without the route's scope passes through
untouched, to be refused by the guard.

A claim names the process that made it (host name and process id, in
``claimed_by``). A retry that finds the claim in flight asks whether
that process still runs: if it died (a crash, a kill, a restart), the retry takes
the claim over and the request runs again, so a client re-sending after a crash
gets an answer, not a 409 for a day. The request may then act a second time, which
every write route allows: an ingest, an account or a renewal replaces the same rows,
a history import skips what it recorded, a run replaces its day, and a task already
changed or a pilot already created answers so. A claim made on another host (another
container) cannot be asked about and stays in flight until the record expires.
Otherwise nothing is done twice for one key while its record lives.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
import msgspec
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from telltales import clock
from telltales.store import Store
from telltales.store.keys import ApiKey
from telltales.store.processes import process_gone, this_process

from .auth import SCOPE_OPT, request_key
from .context import ApiContext
from .problems import FieldError, ProblemError

HEADER = "Idempotency-Key"
REPLAYED = "Idempotency-Replayed"
METHODS = frozenset({"POST", "PUT"})
MAX_LENGTH = 200
KEEP = timedelta(hours=24)
PURGE_EVERY_SECONDS = 600.0
NO_IDEMPOTENCY_OPT = "no_idempotency"
"""A route's ``opt`` key: its answer must not be stored (it holds a secret); the
value says why, and a request to it with an Idempotency-Key is refused with 400."""

_FIELD = f"header.{HEADER}"


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    content_type: str | None
    body: bytes


Claim = Literal["claimed", "in_flight", "mismatch"] | StoredAnswer


def request_hash(method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests the same: method, path, and the query and body as decoded.

    A client that re-serialises its JSON (another key order, other spaces, ``1e2`` for
    ``100.0``) or its query (another parameter order) sends the same request, and its
    retry is replayed. A body that is not JSON is compared byte for byte.
    """
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), _decoded_query(query)):
        digest.update(len(part).to_bytes(8, "big") + part)
    digest.update(_decoded_body(body))
    return digest.hexdigest()


def _decoded_query(query: bytes) -> bytes:
    """The query's parameters in name order (a name's own values keep theirs)."""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return msgspec.json.encode(sorted(pairs, key=lambda pair: pair[0]))


def _decoded_body(body: bytes) -> bytes:
    """The JSON body as msgspec decodes it, encoded again with sorted keys."""
    try:
        return b"json:" + msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except (msgspec.DecodeError, RecursionError):
        return b"raw:" + body


def claim(
    store: Store,
    key_id: str,
    idempotency_key: str,
    method: str,
    path: str,
    digest: str,
    now: datetime,
    owner: str | None = None,
) -> Claim:
    """Claim the key for this request, or say what an earlier request with it left.

    ``owner`` names this process (default :func:`this_process`); a claim in flight
    whose process is gone is taken over, and the request runs again.
    """
    owner = owner or this_process()
    with store.transaction() as db:
        row = db.execute(
            "SELECT method, path, request_hash, status_code, content_type, body, created_at, "
            "claimed_by "
            "FROM api_requests WHERE key_id = ? AND idempotency_key = ?",
            [key_id, idempotency_key],
        ).fetchone()
        if row is not None and row[6] < clock.stamp(now - KEEP):
            db.execute(
                "DELETE FROM api_requests WHERE key_id = ? AND idempotency_key = ?",
                [key_id, idempotency_key],
            )
            row = None
        if row is None:
            db.execute(
                "INSERT INTO api_requests (key_id, idempotency_key, method, path, request_hash, "
                "claimed_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [key_id, idempotency_key, method, path, digest, owner, clock.stamp(now)],
            )
            return "claimed"
        if row[2] == digest and row[3] is None and _abandoned(row[7]):
            db.execute(
                "UPDATE api_requests SET claimed_by = ?, created_at = ? "
                "WHERE key_id = ? AND idempotency_key = ?",
                [owner, clock.stamp(now), key_id, idempotency_key],
            )
            return "claimed"
    if row[2] != digest:
        return "mismatch"
    if row[3] is None:
        return "in_flight"
    return StoredAnswer(status=row[3], content_type=row[4], body=bytes(row[5] or b""))


def _abandoned(claimed_by: str | None) -> bool:
    """Whether a claim in flight was made by a process that is gone (a claim that names
    no process, from before claims named theirs, is not known to be)."""
    return claimed_by is not None and process_gone(claimed_by)


def finish(
    store: Store, key_id: str, idempotency_key: str, answer: StoredAnswer | None, now: datetime
) -> None:
    """Store the answer to replay, or (None: a 5xx or no answer) free the key for a retry."""
    with store.transaction() as db:
        if answer is None:
            db.execute(
                "DELETE FROM api_requests WHERE key_id = ? AND idempotency_key = ?",
                [key_id, idempotency_key],
            )
            return
        db.execute(
            "UPDATE api_requests SET status_code = ?, content_type = ?, body = ?, finished_at = ? "
            "WHERE key_id = ? AND idempotency_key = ?",
            [
                answer.status,
                answer.content_type,
                answer.body,
                clock.stamp(now),
                key_id,
                idempotency_key,
            ],
        )


def purge(store: Store, now: datetime) -> int:
    """Forget records older than :data:`KEEP`; returns how many."""
    with store.transaction() as db:
        cursor = db.execute(
            "DELETE FROM api_requests WHERE created_at < ?", [clock.stamp(now - KEEP)]
        )
        return cursor.rowcount


def _header(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope["headers"] if key.lower() == name]


def _idempotency_key(scope: Scope) -> str | None:
    values = _header(scope, b"idempotency-key")
    if not values:
        return None
    if len(values) > 1:
        raise ProblemError(
            400,
            f"send one {HEADER} header",
            errors=[FieldError(field=_FIELD, reason="given more than once")],
        )
    value = values[0]
    if not 1 <= len(value) <= MAX_LENGTH or not all("!" <= c <= "~" for c in value):
        raise ProblemError(
            400,
            f"the {HEADER} header must be 1 to {MAX_LENGTH} visible ASCII characters",
            errors=[FieldError(field=_FIELD, reason="1 to 200 visible ASCII characters")],
        )
    return value


def _announced_length(scope: Scope) -> int:
    """The body's size by its Content-Length header (0 when absent or not a number)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


async def _read_body(receive: Receive, limit: int) -> tuple[list[ReceiveMessage], bytes | None]:
    """The request's messages, and its body unless it is over ``limit`` (then None)."""
    messages: list[ReceiveMessage] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _replaying(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    """A ``receive`` that gives back what was read, then the rest of the stream."""
    pending = list(messages)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class Idempotency(ASGIMiddleware):
    """The app-wide middleware (route level: it knows the route's scope and options)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self) -> None:
        self._next_purge = 0.0

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler = scope["route_handler"]
        if scope.get("method") not in METHODS or handler.opt.get(SCOPE_OPT) is None:
            await next_app(scope, receive, send)
            return
        idempotency_key = _idempotency_key(scope)
        if idempotency_key is None:
            await next_app(scope, receive, send)
            return
        refused = handler.opt.get(NO_IDEMPOTENCY_OPT)
        if refused:
            raise ProblemError(
                400,
                f"this route takes no {HEADER}: {refused}",
                errors=[FieldError(field=_FIELD, reason="not accepted by this route")],
            )
        context: ApiContext = scope["litestar_app"].state.telltales
        if _announced_length(scope) > context.settings.max_body_bytes:
            # Too large by its own Content-Length: litestar answers 413 without reading it.
            await next_app(scope, receive, send)
            return
        key = request_key(scope)
        messages, body = await _read_body(receive, context.settings.max_body_bytes)
        receive = _replaying(messages, receive)
        if body is None:  # too large, or the client left: litestar answers that
            await next_app(scope, receive, send)
            return
        await self._once(context.store, key, idempotency_key, scope, body, receive, send, next_app)

    async def _once(
        self,
        store: Store,
        key: ApiKey,
        idempotency_key: str,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        next_app: ASGIApp,
    ) -> None:
        method, path = str(scope.get("method")), scope["path"]
        digest = request_hash(method, path, scope.get("query_string", b""), body)
        await self._purge(store)
        found = await anyio.to_thread.run_sync(
            claim, store, key.key_id, idempotency_key, method, path, digest, clock.now()
        )
        if found == "mismatch":
            raise ProblemError(
                422,
                f"this {HEADER} was used for a different request (method, path, query or "
                "body); use a new key for a new request",
                errors=[FieldError(field=_FIELD, reason="reused for a different request")],
            )
        if found == "in_flight":
            raise ProblemError(
                409,
                f"a request with this {HEADER} has not finished yet; retry later (once its "
                "server process has stopped, a retry runs the request again)",
                errors=[FieldError(field=_FIELD, reason="its first request is in flight")],
            )
        if isinstance(found, StoredAnswer):
            await _send_replay(found, send)
            return
        status = 0
        content_type: str | None = None
        parts: list[bytes] = []
        finished = False

        async def store_answer(answer: StoredAnswer | None) -> None:
            nonlocal finished
            finished = True
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    finish, store, key.key_id, idempotency_key, answer, clock.now()
                )

        async def recording_send(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body", False) and not finished:
                    # Stored before the client can read the end of the answer: a retry
                    # sent the moment this one arrives is replayed, never told 409.
                    await store_answer(
                        StoredAnswer(status=status, content_type=content_type, body=b"".join(parts))
                        if status < 500
                        else None
                    )
            await send(message)

        try:
            await next_app(scope, receive, recording_send)
        finally:
            if not finished:  # no complete answer: free the key for a retry
                await store_answer(None)

    async def _purge(self, store: Store) -> None:
        """Lazily, at most every ten minutes per process: the table has no date index."""
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        await anyio.to_thread.run_sync(purge, store, clock.now())


async def _send_replay(answer: StoredAnswer, send: Send) -> None:
    headers = [
        (b"content-length", str(len(answer.body)).encode()),
        (REPLAYED.lower().encode(), b"true"),
    ]
    if answer.content_type:
        headers.append((b"content-type", answer.content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})
