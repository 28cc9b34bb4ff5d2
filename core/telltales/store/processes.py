"""Which process did something, and whether it still runs: for work a kill interrupted.

A run, or an API request in flight, records the process that started it. When another
process later finds it unfinished, it asks whether that process is certainly gone (the
work was interrupted and can be said so, or redone) or may still be at it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def this_process() -> str:
    """How a claim names the process that made it: ``host pid`` (read per call: workers fork)."""
    return f"{socket.gethostname()} {os.getpid()}"


def process_gone(owner: str) -> bool:
    """Whether the claiming process certainly no longer runs; False when it cannot be told.

    Only a process of this host can be asked about. A zombie (killed, not yet reaped by
    its parent) has stopped running too, though signal 0 still reaches it.
    """
    host, _, pid_text = owner.rpartition(" ")
    if host != socket.gethostname() or not pid_text.isdigit() or os.name != "posix":
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rpartition(b")")[2].split()[:1] in ([b"Z"], [b"X"])
