"""``telltales init`` and ``telltales plugins``: the database file and what is installed."""

from __future__ import annotations

import click
import msgspec

from telltales.cli.app import App
from telltales.errors import StoreError
from telltales.version import PLUGIN_API_VERSION, __version__


@click.command()
@click.pass_obj
def init(app: App) -> None:
    """Create the database (or bring an existing one up to date)."""
    existed = app.db_path.exists() and app.db_path.stat().st_size > 0
    with app.open(create=True):
        pass
    sets = ", ".join(app.registry.migrations)
    verb = "Brought up to date" if existed else "Created"
    click.echo(f"{verb} telltales database {app.db_path} (schemas: {sets})")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def plugins(app: App, as_json: bool) -> None:
    """List loaded plugins, what they register, and any that failed.

    With a database at --db, its migrations are applied first (as by any command that
    opens it), so a plugin whose migrations fail there is listed as failed.
    """
    registry = app.registry
    if app.db_path.is_file():
        try:
            with app.open():
                pass
        except StoreError as error:  # listing what is installed needs no database
            click.secho(f"warning: plugins' migrations not checked: {error}", fg="yellow", err=True)
    if as_json:
        payload = {
            "plugin_api_version": PLUGIN_API_VERSION,
            "plugins": registry.plugins,
            "failures": registry.failures,
        }
        click.echo(msgspec.json.encode(payload).decode())
        return
    click.echo(f"telltales {__version__}, plugin API {PLUGIN_API_VERSION}")
    for info in registry.plugins:
        origin = "built-in" if info.builtin else info.version or "unknown version"
        click.echo(f"{info.name} ({origin})")
        click.echo(f"  hooks: {', '.join(info.hooks)}")
        for kind, names in info.registered.items():
            click.echo(f"  {kind}: {', '.join(names)}")
    for failure in registry.failures:
        click.echo(f"{failure.plugin} (FAILED at {failure.stage}, {failure.at:%Y-%m-%d %H:%M:%S}Z)")
        click.echo(f"  error: {failure.error}")


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(init)
    cli.add_command(plugins)
