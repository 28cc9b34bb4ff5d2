"""``telltales serve``: the REST API under granian, on 127.0.0.1 unless told otherwise.

granian was chosen by measurement: on this machine it served about 1.5 times the
requests per second of uvicorn for a small litestar JSON endpoint. Everything a
worker would trip on (the port, the database, the configuration, the plugins' plan,
the telemetry exporters, the body limit) is checked here first, so a mistake is one
``Error:`` line and exit status 1 instead of workers that die one after another, or
that join another server's port (:mod:`telltales.cli.holders`).
"""

from __future__ import annotations

import contextlib
import os
import sys

import click

from telltales import observability
from telltales.cli.app import App
from telltales.cli.holders import claim_database, claim_port
from telltales.config import CONFIG_ENV, config_path
from telltales.store import DB_ENV


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes, each with its own database connections. [default: one per CPU]",
)
@click.pass_obj
def serve(app: App, host: str, port: int, workers: int | None) -> None:
    """Serve the REST API (OpenAPI at /schema) until interrupted."""
    exec_server(app, host, port, workers)


def exec_server(app: App, host: str, port: int, workers: int | None) -> None:
    """Check the port and what the workers need, then replace this process with granian.

    The port comes first and stays held (:func:`~telltales.cli.holders.claim_port`)
    into granian, and the database is marked as served
    (:func:`~telltales.cli.holders.claim_database`) once it has been checked, so that
    ``telltales demo`` does not rebuild it under the server.
    """
    from telltales_api.context import ApiContext, ApiSettings
    from telltales_api.serve import DEFAULT_WORKERS, TARGET, granian_command

    workers = workers or DEFAULT_WORKERS
    held = claim_port(host, port)
    with held if held is not None else contextlib.nullcontext():
        os.environ[DB_ENV] = str(app.db_path.resolve())
        config = config_path(app.config_option)
        if config is not None:
            os.environ[CONFIG_ENV] = str(config.resolve())
        observability.check(os.environ)
        ApiContext.open(ApiSettings.from_env(), app.registry).close()
        claim_database(app.db_path)
        if held is not None:
            os.set_inheritable(held.fileno(), True)
        click.echo(
            f"Serving telltales on http://{host}:{port} ({workers} worker(s)), "
            f"database {os.environ[DB_ENV]}; OpenAPI at /schema",
            err=True,
        )
        command = granian_command(TARGET, host, port, workers=workers, factory=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(command[0], command)  # granian takes over this process: signals go to it


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(serve)
