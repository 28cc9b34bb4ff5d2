"""`telltales` commands for serve (being built under issue 5)."""

from __future__ import annotations

import click


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
