"""The app as ``telltales serve`` runs it under granian: one per worker process.

granian imports ``telltales_api.serve:app`` in each worker and calls it (factory
mode), so each worker installs its own OpenTelemetry exporters after it starts
(exporter threads do not survive a fork) and reads its settings from the
environment, which ``telltales serve`` fills from its options.
"""

from __future__ import annotations

import os
import sys

from litestar import Litestar
from telltales import observability

from .app import create_app
from .context import ApiSettings

TARGET = f"{__name__}:app"
DEFAULT_WORKERS = os.cpu_count() or 1
"""One worker process per CPU: on 2 cores, 2 workers served the health route at about
twice the requests/s of one, with p99 at 64 connections from 16 ms down to 12 ms
(benchmarks/README.md)."""


def app() -> Litestar:
    """The app for one worker, with the exporters ``OTEL_*`` asks for."""
    observability.configure()
    return create_app(ApiSettings.from_env())


def granian_command(
    target: str, host: str, port: int, *, workers: int = DEFAULT_WORKERS, factory: bool = False
) -> list[str]:
    """The granian command line ``telltales serve`` runs, for ``target``.

    One definition, so that the benchmarks serve their bare endpoint exactly as the
    API is served.
    """
    command = [sys.executable, "-m", "granian", "--interface", "asgi", "--no-ws"]
    command += ["--host", host, "--port", str(port), "--workers", str(workers)]
    if factory:
        command.append("--factory")
    return [*command, target]
