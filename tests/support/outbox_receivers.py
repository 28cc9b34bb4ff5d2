"""Real destinations on 127.0.0.1 for the outbox's tests: an SMTP server and an HTTP server.

Both behave as the notify plugin's README asks of a receiver: they act on an
idempotency key once and skip it when it comes again. Each keeps a ``Ledger`` of what
arrived (``raw``, every accepted request) and what it acted on (``applied``), so a test
can count the repeats a crash caused and check that none of them was acted on twice.
A receiver acts *before* it answers, then waits ``delay`` seconds: a worker killed
during that wait has had its delivery acted on without hearing so, which is exactly
the case the idempotency key is for.

To play a destination that is down, a receiver can also refuse connections
(``down``, until ``up``), and the HTTP receiver can hang: a script answer of
:data:`HANG` sends the headers, then trickles the body a byte at a time, never
finishing within any read timeout, until ``release`` is set.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import random
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from telltales_notify.signature import verify

HANG = -1
"""An HTTP script answer: answer 200, then trickle the body until ``release`` is set."""
TRICKLE_SECONDS = 0.05
"""How often a hanging answer sends its next byte: well within any read timeout."""

SECRET = "outbox-test-signing-secret"
"""What the webhook tests put in ``TELLTALES_WEBHOOK_SECRET``."""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (until a receiver takes it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Ledger:
    """Idempotency keys as a receiver saw them: every arrival, and the ones it acted on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.raw: list[str] = []
        self.applied: Counter[str] = Counter()

    def receive(self, key: str) -> bool:
        """Record an arrival; act on it (True) only if the key is new."""
        with self._lock:
            self.raw.append(key)
            if key in self.applied:
                return False
            self.applied[key] += 1
            return True

    @property
    def duplicates(self) -> int:
        """Arrivals of a key that had already been acted on."""
        with self._lock:
            return len(self.raw) - len(self.applied)


@dataclass
class Script:
    """Answers to give, first to last, then ``then`` for every request after them."""

    answers: list[Any] = field(default_factory=list)
    then: Any = None
    delay: tuple[float, float] = (0.0, 0.0)
    seed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def next(self) -> tuple[Any, float]:
        with self._lock:
            answer = self.answers.pop(0) if self.answers else self.then
            return answer, self._random.uniform(*self.delay)


class SmtpReceiver:
    """An aiosmtpd server whose DATA answers follow a script (``"250 OK"`` by default).

    A message is acted on when it is answered 250, keyed by its
    ``X-Telltales-Idempotency-Key`` header; ``refused`` counts the other answers.
    """

    def __init__(self, port: int | None = None, *, delay: tuple[float, float] = (0.0, 0.0)):
        self.port = port or free_port()
        self.script = Script(then="250 OK", delay=delay, seed=self.port)
        self.ledger = Ledger()
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refused = 0
        self._controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer, delay = self.script.next()
        if answer.startswith("250"):
            content = envelope.original_content
            assert isinstance(content, bytes)
            message = email.message_from_bytes(
                content.replace(b"\r\n", b"\n"), policy=email.policy.default
            )
            assert isinstance(message, EmailMessage)
            if self.ledger.receive(str(message["X-Telltales-Idempotency-Key"])):
                self.messages.append(message)
                self.recipients.append(list(envelope.rcpt_tos))
        else:
            self.refused += 1
        await asyncio.sleep(delay)
        return str(answer)

    def start(self) -> SmtpReceiver:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def down(self) -> None:
        """Stop listening: connections are refused until :meth:`up`."""
        self.stop()

    def up(self) -> None:
        """Listen again on the same port, with the same script and ledger."""
        self.start()


@dataclass(frozen=True)
class Request:
    """One POST as the HTTP receiver got it."""

    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool
    """Whether ``X-Telltales-Signature`` verified with ``SECRET``."""
    status: int


class HttpReceiver:
    """A ThreadingHTTPServer whose answers follow a script of statuses (200 by default).

    A POST answered 2xx with a valid signature is acted on, keyed by its
    ``Idempotency-Key`` header; every POST is kept in ``requests``.
    """

    def __init__(self, *, delay: tuple[float, float] = (0.0, 0.0)) -> None:
        self.ledger = Ledger()
        self.requests: list[Request] = []
        self.dropped = 0
        """Requests whose client went away before the answer was written."""
        self.release = threading.Event()
        """Ends every hanging answer."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:  # the client died while sending
                    receiver.dropped += 1
                    return
                headers = {name.lower(): value for name, value in self.headers.items()}
                signed = verify(
                    SECRET.encode(),
                    headers.get("x-telltales-timestamp", ""),
                    body,
                    headers.get("x-telltales-signature", ""),
                )
                status, delay = receiver.script.next()
                receiver.requests.append(Request(self.path, headers, body, signed, status))
                if status == HANG:
                    self.trickle()
                    return
                if 200 <= status < 300 and signed:
                    receiver.ledger.receive(headers.get("idempotency-key", ""))
                threading.Event().wait(delay)
                answer = b"{}" if status < 300 else b"receiver says no"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    receiver.dropped += 1

            def trickle(self) -> None:
                """Headers at once, then a byte now and then: never done, never silent."""
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    while not receiver.release.wait(TRICKLE_SECONDS):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                except OSError:
                    receiver.dropped += 1

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read ``requests``."""

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                receiver.dropped += 1

        self._server_class = Server
        self.server = Server(("127.0.0.1", 0), Handler)
        self.script = Script(then=200, delay=delay, seed=self.server.server_address[1])
        self._thread = self._serving()

    def _serving(self) -> threading.Thread:
        return threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/telltales/alerts"

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join()
        self.server.server_close()

    def down(self) -> None:
        """Stop listening: connections are refused until :meth:`up`."""
        self.stop()

    def up(self) -> None:
        """Listen again, on the same port, with the same script and ledger."""
        self.release.clear()
        address = self.server.server_address[:2]
        self.server = self._server_class(address, self.server.RequestHandlerClass)
        self._thread = self._serving()
        self._thread.start()
