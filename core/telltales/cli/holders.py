"""Who holds a port: asked before a server starts.

A mistake found by outside testers (issue 16) is refused here, before anything is
built or started. granian binds each worker's socket with ``SO_REUSEPORT`` on Linux,
so a second ``telltales serve`` on a port the first one listens on joined it and the
kernel split the connections between two databases; and a port held by any other
program ended in granian's traceback after "Serving telltales on ...". The refusal is
one line that names what holds the port when this machine can tell (Linux's
``/proc``); elsewhere it says only that the port is in use.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import socket
import sys
from pathlib import Path

from telltales.errors import InputError
from telltales.store import DB_ENV

HOLDS_PORTS = sys.platform == "linux"
"""Where granian's workers bind the port themselves with ``SO_REUSEPORT`` (Linux), a
socket bound the same way keeps other servers off the port without taking any of its
connections (:func:`claim_port`). Elsewhere granian shares one socket of its own, and
the port is only checked."""
SHOWN_COMMAND = 80
"""Characters of another program's command line an error shows."""


def claim_port(host: str, port: int) -> socket.socket | None:
    """Check that nothing listens on ``host:port``, and keep it so; InputError if it is taken.

    The check is a bind as any server binds (``SO_REUSEADDR`` only, so a port whose
    last connections wait in TIME_WAIT is free), which fails while anything listens
    there, granian's ``SO_REUSEPORT`` listeners included. On Linux the port is then held
    by a socket bound with ``SO_REUSEPORT`` that never listens: granian's workers (this
    user, the same option) bind beside it and it receives no connection, but another
    ``telltales serve`` checking the port is refused from now on, not only once granian
    listens. The caller keeps it open (``exec_server`` hands it to granian across
    ``exec``) for as long as the server runs; None where the port cannot be held.
    """
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise InputError(
            f"--host {host!r}: not an address to listen on ({error.strerror})"
        ) from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise InputError(_refusal(host, port, error)) from None
    if not HOLDS_PORTS:
        return None
    held = socket.socket(family, socket.SOCK_STREAM)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        held.bind(address)
    except OSError as error:  # taken in the instant since the check
        held.close()
        raise InputError(_refusal(host, port, error)) from None
    return held


def check_port(host: str, port: int) -> None:
    """Refuse ``host:port`` now if it is in use, as :func:`claim_port` would, and let it go."""
    held = claim_port(host, port)
    if held is not None:
        held.close()


def _refusal(host: str, port: int, error: OSError) -> str:
    if error.errno != errno.EADDRINUSE:
        return f"cannot listen on {host} port {port}: {error.strerror or error}"
    holders = _listening_pids(port)
    if not holders:
        return f"port {port} on {host} is in use: stop what listens there, or choose another --port"
    return (
        f"port {port} on {host} is in use by {describe(holders[0])}: "
        "stop it, or choose another --port"
    )


def _listening_pids(port: int) -> list[int]:
    """The processes listening on ``port`` (any address), each server's main one first.

    ``/proc/net/tcp`` and ``tcp6`` give the listening sockets' inodes; the processes
    whose descriptors point at them are found under ``/proc/<pid>/fd`` (only this user's
    processes can be read, which covers the servers this user started). A forked
    worker is replaced by the process it was forked from (same command line), so a
    granian server is named by the pid its ``telltales serve`` had.
    """
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rpartition(":")[2], 16) == port
            ):
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return []
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                found.append(_forked_from(int(entry.name)))
    return list(dict.fromkeys(found))


def _forked_from(pid: int) -> int:
    """The first ancestor of ``pid`` with another command line: a worker's main process."""
    command = _command_line(pid)
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            return pid
        parent = int(stat.rpartition(b")")[2].split()[1])
        if parent <= 1 or _command_line(parent) != command:
            return pid
        pid = parent


def _command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def describe(pid: int) -> str:
    """``pid`` as an error names it: a telltales server with its address and database,
    any other program with the start of its command line."""
    from telltales_api.serve import TARGET

    command = _command_line(pid)
    if TARGET not in command:
        shown = " ".join(" ".join(command).split())  # one line, whatever the arguments hold
        if len(shown) > SHOWN_COMMAND:
            shown = shown[: SHOWN_COMMAND - 3] + "..."
        return f"pid {pid} ({shown})" if shown else f"pid {pid}"
    parts = [f"pid {pid}"]
    options = dict(itertools.pairwise(command))
    if "--port" in options:
        parts.append(f"http://{options.get('--host', '127.0.0.1')}:{options['--port']}")
    database = _environment(pid).get(DB_ENV)
    if database:
        parts.append(f"database {database}")
    return f"telltales serve ({', '.join(parts)})"


def _environment(pid: int) -> dict[str, str]:
    """The environment ``pid`` started with; empty when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (part.decode(errors="replace").partition("=") for part in raw.split(b"\0"))
    return {name: value for name, _, value in pairs if name}
