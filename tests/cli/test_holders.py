"""What holds a port: checked with real sockets on 127.0.0.1 (Linux, where granian's
workers bind with SO_REUSEPORT)."""

from __future__ import annotations

import socket
import sys

import pytest
from support.server import free_port
from telltales.cli.holders import claim_port
from telltales.errors import InputError

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the port is held on Linux only")


def _worker_socket(port: int) -> socket.socket:
    """A listening socket bound as granian binds each worker's."""
    worker = socket.socket()
    worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    worker.bind(("127.0.0.1", port))
    worker.listen()
    worker.settimeout(5)
    return worker


def test_a_held_port_refuses_another_server_before_its_workers_listen() -> None:
    """The gap between the check and granian's bind is closed: nothing listens yet, and
    another ``telltales serve`` is refused already."""
    port = free_port()
    held = claim_port("127.0.0.1", port)
    assert held is not None
    with held:
        with pytest.raises(InputError) as refused:
            claim_port("127.0.0.1", port)
        assert str(refused.value) == (
            f"port {port} on 127.0.0.1 is in use: stop what listens there, or choose another --port"
        )
        # The server's own workers bind beside it, and every connection reaches them.
        with _worker_socket(port) as worker:
            for _ in range(5):
                with socket.create_connection(("127.0.0.1", port), timeout=5):
                    accepted, _ = worker.accept()
                    accepted.close()
    again = claim_port("127.0.0.1", port)
    assert again is not None
    again.close()
