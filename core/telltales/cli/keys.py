"""``telltales keys``: API keys for the REST API, created (shown once), listed, revoked.

The token goes alone to standard output, so ``TOKEN=$(telltales keys create ...)``
captures it; what it is and that it will not be shown again go to standard error.
"""

from __future__ import annotations

import getpass

import click
import msgspec

from telltales.cli.app import App
from telltales.cli.export import CSV, echo_csv, one_format
from telltales.store.keys import (
    SCOPES,
    ApiKey,
    KeyDescription,
    create_key,
    describe,
    list_keys,
    live_admin_keys,
    revoke_key,
)


def _operator() -> str:
    """Who runs the command, as recorded on the key: the login name if there is one."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in a bare container
        return "cli"


def _groups(key: ApiKey) -> str:
    return "every CSM group" if key.csm_groups is None else ", ".join(sorted(key.csm_groups))


BY = click.option("--by", help="Who does it, as recorded on the key. [default: cli:<login>]")


@click.group(name="keys")
def keys_group() -> None:
    """API keys for the REST API: stored hashed, shown once, revocable."""


@keys_group.command(name="create")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="What the key may do (repeatable); admin implies the others.",
)
@click.option(
    "--csm-group",
    "groups",
    multiple=True,
    help="Limit the key to this CSM group's accounts (repeatable). [default: every group]",
)
@click.option("--name", default="", help="What the key is for, e.g. crm-sync.")
@BY
@click.option("--json", "as_json", is_flag=True, help="Print the key and its token as JSON.")
@click.pass_obj
def create(
    app: App,
    scopes: tuple[str, ...],
    groups: tuple[str, ...],
    name: str,
    by: str | None,
    as_json: bool,
) -> None:
    """Create a key and print its token, which is shown this once and never again."""
    # The configuration's [csm_groups.<group>] tables are known groups too.
    declared = app.plan.csm_groups if groups else frozenset[str]()
    with app.open() as store:
        key, token = create_key(
            store,
            scopes=scopes,
            csm_groups=groups or None,
            declared_groups=declared,
            name=name,
            by=by or _operator(),
        )
    if as_json:
        click.echo(msgspec.json.encode({"key": describe(key), "token": token}).decode())
    else:
        click.echo(token)
    click.echo(
        f"Created API key {key.key_id} ({', '.join(sorted(key.scopes))}; {_groups(key)}). "
        "The token is shown once: store it now. Send it as 'Authorization: Bearer <token>'.",
        err=True,
    )


@keys_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@CSV
@click.pass_obj
def list_command(app: App, as_json: bool, as_csv: bool) -> None:
    """List every key, revoked ones included (never a token: none is stored)."""
    one_format(as_json, as_csv)
    with app.open() as store:
        found = list_keys(store)
    if as_csv:
        echo_csv([describe(key) for key in found], KeyDescription)
        return
    if as_json:
        click.echo(msgspec.json.encode([describe(key) for key in found]).decode())
        return
    for key in found:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}Z" if key.revoked_at else "live"
        click.echo(
            f"{key.key_id}\t{key.name or '-'}\t{','.join(sorted(key.scopes))}\t{_groups(key)}\t"
            f"created {key.created_at:%Y-%m-%d %H:%M}Z by {key.created_by}\t{state}"
        )


@keys_group.command(name="revoke")
@click.argument("key_id")
@BY
@click.pass_obj
def revoke(app: App, key_id: str, by: str | None) -> None:
    """Revoke a key: the next request made with it is refused.

    The last live admin key too (the API refuses that; here, on the host, is where
    one is created again), with a warning.
    """
    with app.open() as store:
        key = revoke_key(store, key_id, by=by or _operator())
        admins = live_admin_keys(store)
    click.echo(f"Revoked API key {key.key_id} ({key.name or 'no name'})")
    if "admin" in key.scopes and admins == 0:
        click.echo(
            "Warning: no live admin key is left, so no key can manage keys over the API; "
            "create one with `telltales keys create --scope admin`",
            err=True,
        )


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(keys_group)
