"""Who holds a port, and which server serves a database: asked before a server starts.

Two mistakes found by outside testers (issue 16) are refused here, before anything is
built or started. granian binds each worker's socket with ``SO_REUSEPORT`` on Linux,
so a second ``telltales serve`` on a port the first one listens on joined it and the
kernel split the connections between two databases; and a port held by any other
program ended in granian's traceback after "Serving telltales on ...". A database
rebuilt by ``telltales demo`` under a running server left that server answering from
the deleted file. Each refusal is one line that names what holds the port or serves
the database when this machine can tell (Linux's ``/proc``); elsewhere it says only
that the port or the database is in use.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import socket
import sys
from pathlib import Path

if sys.platform != "win32":
    import fcntl

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
    """The processes listening on ``port`` (any address), a server named by its main one.

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


def claim_database(path: Path) -> int | None:
    """Mark ``path`` as served for as long as this process, and what it execs, runs.

    A shared ``flock`` on the database file itself, on a descriptor that passes through
    ``exec`` into granian (None on Windows, which has no ``flock``). The kernel drops it
    when the last process holding it ends, however it ends, so no stale pid file is left
    to read. ``flock`` locks and SQLite's own (``fcntl`` byte ranges) do not touch each
    other on a local filesystem. The descriptor must never be closed while this process
    has the database open: closing any descriptor of a file drops every ``fcntl`` lock
    the process holds on it, SQLite's included.
    """
    if sys.platform == "win32":
        return None
    held = os.open(path, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_SH)
    os.set_inheritable(held, True)
    return held


def database_server(path: Path) -> str | None:
    """Which server holds ``path`` (:func:`claim_database`), as an error names it; None if none.

    Call it before this process opens the database: the check opens and closes a
    descriptor of the file, which would drop SQLite's locks (see above).
    """
    if sys.platform == "win32":
        return None
    try:
        checking = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(checking, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holders = _locking_pids(os.fstat(checking))
        return describe(holders[0]) if holders else "another process"
    else:
        return None
    finally:
        os.close(checking)


def _locking_pids(file: os.stat_result) -> list[int]:
    """The processes holding a ``flock`` on ``file``, from ``/proc/locks`` (Linux)."""
    key = f"{os.major(file.st_dev):02x}:{os.minor(file.st_dev):02x}:{file.st_ino}"
    try:
        rows = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    # "1: FLOCK  ADVISORY  READ 1234 fe:00:2466529 0 EOF"; a waiter's row has "->".
    found = [fields for fields in map(str.split, rows) if "->" not in fields and len(fields) > 5]
    return [int(f[4]) for f in found if f[1] == "FLOCK" and f[5] == key and f[4].isdigit()]
