"""A real ``telltales serve`` process on 127.0.0.1 for tests, and the CLI as a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

TELLTALES = Path(sys.executable).parent / "telltales"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELLTALES_", "OTEL_", "HTTP"))}
    env.pop("http_proxy", None)
    env.update(extra)
    return env


def telltales(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TELLTALES), *map(str, args)],
        capture_output=True,
        text=True,
        env=env or environment(),
        timeout=120,
    )


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, trust_env=False, timeout=10)
        """Straight to the server, whatever proxy the environment names."""

    def wait_ready(self, seconds: float = 60) -> None:
        """Poll /readyz until it answers (the bound is generous: CI machines are slow)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.process.communicate()}")
            try:
                if self.http.get("/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the server did not become ready")

    def stop(self) -> tuple[int, str]:
        self.http.close()
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=60)
        return self.process.returncode, err


def start_server(
    db: Path, *options: str, env: dict[str, str] | None = None, port: int | None = None
) -> Server:
    """``telltales --db DB serve --port <port or a free one> [options]``, not yet waited for."""
    port = port or free_port()
    return launch([TELLTALES, "--db", db, "serve", "--port", str(port), *options], port, env)


def launch(command: list[str | Path], port: int, env: dict[str, str] | None = None) -> Server:
    """Start ``command``, a server that will listen on ``port``, in its own session.

    Its own session, so that :func:`stop_server` can stop granian's workers with it.
    """
    process = subprocess.Popen(
        [str(part) for part in command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or environment(),
        start_new_session=True,
    )
    return Server(process, port)


LISTENER = """
import socket, sys
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
print(listener.getsockname()[1], flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def other_program_listening() -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """A port held by a program that is not telltales: a plain Python socket, listening.

    Yields the port and the process; the program ends when its standard input closes.
    """
    process = subprocess.Popen(
        [sys.executable, "-c", LISTENER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline()), process
    finally:
        process.communicate(timeout=30)


def stop_server(server: Server) -> None:
    """Stop the server if a test left it running: SIGTERM, then SIGKILL to its workers too.

    The server runs in its own session, so its process group holds granian's workers,
    which would otherwise outlive a killed main process and hold its pipes open.
    """
    server.http.close()
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.communicate(timeout=30)
            return
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.communicate(timeout=30)


def kill_server(server: Server) -> None:
    """SIGKILL the server and its workers at once, as a crash or ``kill -9`` would.

    Nothing of the server runs afterwards: the whole process group is killed and the
    main process reaped, so a restart finds the database exactly as the crash left it.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.communicate(timeout=30)
    server.http.close()
