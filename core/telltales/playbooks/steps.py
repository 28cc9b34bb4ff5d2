"""Playbooks: what happens when an account enters a status, as ordered steps.

A playbook starts when an account *enters* its ``on_enter`` status (optionally only
when one of ``rules`` caused the entry); staying in the status does not start it
again, and an account with an open run of the same playbook gets no second one.
Each step names an action (a plugin) and its parameters; a step whose action
reaches the customer waits for a CSM's approval (docs/playbooks.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from telltales.models import HealthStatus


class PlaybookSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    description: str = ""
    on_enter: HealthStatus
    rules: list[str] = msgspec.field(default_factory=list)
    """Start only when one of these rules caused the entry; empty for any cause."""
    steps: Annotated[list[dict[str, Any]], msgspec.Meta(min_length=1)]
    enabled: bool = True


@dataclass(frozen=True)
class Step:
    """A checked step: ``params`` are decoded into the action's ``params_type``."""

    number: int
    action: str
    params: Any
    raw_params: dict[str, Any]
    needs_approval: bool
    records: bool
    """The action has ``record``: its effect is written in the run's transaction."""
    executes: bool
    """The action has ``execute``: a delivery goes through the outbox."""


@dataclass(frozen=True)
class Playbook:
    name: str
    description: str
    on_enter: HealthStatus
    rules: frozenset[str]
    steps: tuple[Step, ...]

    def starts_for(self, status: str, rules: frozenset[str]) -> bool:
        """Whether entering ``status`` because of ``rules`` starts this playbook."""
        return status == self.on_enter and (not self.rules or bool(self.rules & rules))
