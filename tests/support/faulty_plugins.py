"""Plugins that misbehave on purpose, one fault each, for the reliability tests.

Every fault a vendor's plugin can have at run time: a source that raises, one that
hangs, one that returns malformed signals, a scorer that raises, an action whose
``record`` raises, an action whose ``execute`` raises or hangs. A hang waits on a
``release`` event (or ``seconds``), so a test can end it and leave no thread behind.
``Faults`` registers any of them, in process or, for ``telltales`` run as a
subprocess, from a fake-installed module (:data:`INSTALLED`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator

from telltales import (
    BATCH_TABLE,
    ActionOutcome,
    ActionRequest,
    PlaybookAction,
    Score,
    ScoreBatch,
    Scorer,
    Signal,
    SignalBatch,
    SignalSource,
    hookimpl,
)

ERROR = "vendor API answered 503"
"""What the raising components raise (a RuntimeError with this text)."""


def _accounts(batch: SignalBatch) -> list[str]:
    return [row[0] for row in batch.db.execute(f"SELECT account_id FROM {BATCH_TABLE}")]


class SteadySource:
    """A well-behaved source: one signal per account, so its survival can be checked."""

    name = "steady"

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        for account_id in _accounts(batch):
            yield Signal(
                account_id=account_id,
                key="steady.one",
                value=1,
                dimension="interest",
                evidence="always one",
            )


class RaisingSource:
    name = "raising"

    def compute(self, batch: SignalBatch) -> list[Signal]:
        raise RuntimeError(ERROR)


class HangingSource:
    """Reads its accounts, then hangs mid-output until released: past any time limit.

    ``finished`` is set when it finally returns, so a test can check that what it
    returned late was never stored.
    """

    name = "hanging"

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds
        self.release = threading.Event()
        self.finished = threading.Event()

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        try:
            for account_id in _accounts(batch):
                yield Signal(
                    account_id=account_id,
                    key="hanging.late",
                    value=1,
                    dimension="interest",
                    evidence="arrived after the time limit",
                )
                self.release.wait(self.seconds)
        finally:
            self.finished.set()


class MalformedSource:
    """Returns a good signal, then one whose value is not a number."""

    name = "malformed"

    def compute(self, batch: SignalBatch) -> list[Signal]:
        first, *_ = _accounts(batch)
        return [
            Signal(account_id=first, key="malformed.ok", value=1, dimension="roi", evidence="fine"),
            Signal(
                account_id=first,
                key="malformed.bad",
                value=math.nan,
                dimension="roi",
                evidence="not a number",
            ),
        ]


class RaisingScorer:
    name = "raising.scorer"

    def score(self, batch: ScoreBatch) -> list[Score]:
        raise RuntimeError(ERROR)


class RecordRaises:
    """An action whose ``record`` (its write inside telltales) raises."""

    name = "record.raises"
    reaches_customer = False

    def record(self, request: ActionRequest) -> str:
        raise RuntimeError(ERROR)


class ExecuteFaults:
    """An action whose ``execute`` follows ``script``: "raise", "hang", then delivers.

    ``calls`` keeps every request's idempotency key; ``delivered`` the keys it acted
    on, once each, as a destination honouring the key would (a hung call that ends
    after its attempt was abandoned delivers too, as a late network answer would).
    """

    name = "execute.faults"
    reaches_customer = False

    def __init__(self, script: list[str] | None = None, seconds: float = 60.0) -> None:
        self.script = list(script or [])
        self.seconds = seconds
        self.release = threading.Event()
        self.calls: list[str] = []
        self.delivered: list[str] = []

    def execute(self, request: ActionRequest) -> ActionOutcome:
        self.calls.append(request.idempotency_key)
        step = self.script.pop(0) if self.script else "deliver"
        if step == "raise":
            raise RuntimeError(ERROR)
        if step == "hang":
            self.release.wait(self.seconds)
        if request.idempotency_key not in self.delivered:
            self.delivered.append(request.idempotency_key)
        return ActionOutcome(delivered=True, detail="done")


class Faults:
    """A plugin registering the given sources, scorers and actions."""

    def __init__(self, *components: object) -> None:
        self.sources = [c for c in components if hasattr(c, "compute")]
        self.scorers = [c for c in components if hasattr(c, "score")]
        self.actions = [c for c in components if hasattr(c, "reaches_customer")]

    @hookimpl
    def register_signal_sources(self, register: Callable[[SignalSource], None]) -> None:
        for source in self.sources:
            register(source)  # type: ignore[arg-type]

    @hookimpl
    def register_scorers(self, register: Callable[[Scorer], None]) -> None:
        for scorer in self.scorers:
            register(scorer)  # type: ignore[arg-type]

    @hookimpl
    def register_playbook_actions(self, register: Callable[[PlaybookAction], None]) -> None:
        for action in self.actions:
            register(action)  # type: ignore[arg-type]


INSTALLED = """
    from support.faulty_plugins import (
        Faults, MalformedSource, RaisingScorer, RaisingSource, RecordRaises, SteadySource,
    )

    _faults = Faults(
        SteadySource(), RaisingSource(), MalformedSource(), RaisingScorer(), RecordRaises()
    )
    register_signal_sources = _faults.register_signal_sources
    register_scorers = _faults.register_scorers
    register_playbook_actions = _faults.register_playbook_actions
"""
"""The module ``telltales_faulty`` for :func:`support.installed.fake_install`: every
fault that needs no time limit (the CLI's limits come from ``[engine]``), for the CLI."""
