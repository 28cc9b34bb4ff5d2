"""A plugin that implements every hook, so each hook is exercised by a real plugin.

It counts CSM notes per account: a schema, a record type, a source, a scorer and an
action. ``tests/plugin_api/test_hooks.py`` checks that this module implements every hookspec.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import ClassVar

import msgspec
from sqlite_utils import Database, Migrations
from telltales import (
    BATCH_TABLE,
    ActionOutcome,
    ActionRequest,
    CrmAdapter,
    Ingester,
    MeasureResult,
    PlaybookAction,
    RenewalFlag,
    Score,
    ScoreBatch,
    Scorer,
    Signal,
    SignalBatch,
    SignalSource,
    hookimpl,
)

migrations = Migrations("every_hook")


@migrations()
def m001_notes(db: Database) -> None:
    db["every_hook_notes"].create({"note_id": str, "account_id": str, "day": str}, pk="note_id")


class Note(msgspec.Struct, kw_only=True):
    note_id: str
    account_id: str
    day: date


class NotesIngester:
    name = "every_hook.notes"
    record_type = Note

    def store(self, db: Database, records: Sequence[Note]) -> int:
        db.conn.executemany(
            "INSERT OR REPLACE INTO every_hook_notes VALUES (?, ?, ?)",
            [(n.note_id, n.account_id, n.day.isoformat()) for n in records],
        )
        return len(records)


class NotesSource:
    name = "every_hook"
    calls: ClassVar[list[tuple[str, ...]]] = []

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        NotesSource.calls.append(batch.account_ids)
        rows = batch.db.execute(
            f"SELECT b.account_id, count(n.note_id) FROM {BATCH_TABLE} b "
            "LEFT JOIN every_hook_notes n ON n.account_id = b.account_id AND n.day <= ? "
            "GROUP BY b.account_id",
            [batch.as_of.isoformat()],
        )
        for account_id, count in rows:
            yield Signal(
                account_id=account_id,
                key="every_hook.note_count",
                value=count,
                dimension="engagement",
                evidence=f"{count} CSM notes up to {batch.as_of}",
            )


class NotesScorer:
    """100 points with three or more notes, linearly less below."""

    name = "every_hook.notes"

    def score(self, batch: ScoreBatch) -> Iterator[Score]:
        for account_id in batch.account_ids:
            found = {s.key: s for s in batch.signals.get(account_id, ())}
            signal = found.get("every_hook.note_count")
            if signal is None:
                yield Score(
                    account_id=account_id,
                    scorer=self.name,
                    value=None,
                    grade="insufficient_data",
                    label="Insufficient data",
                    coverage=0.0,
                )
                continue
            points = min(signal.value, 3) / 3 * 100
            grade = "green" if points >= 70 else "amber" if points >= 40 else "red"
            yield Score(
                account_id=account_id,
                scorer=self.name,
                value=points,
                grade=grade,
                label=grade,
                coverage=1.0,
                breakdown=(
                    MeasureResult(
                        measure="notes",
                        component="engagement",
                        signal_key=signal.key,
                        value=signal.value,
                        points=points,
                        weight=1.0,
                        evidence=signal.evidence,
                    ),
                ),
                config_id="every-hook-test",
            )


class LogAction:
    name = "every_hook.log"
    reaches_customer = False
    delivered: ClassVar[list[str]] = []

    def execute(self, request: ActionRequest) -> ActionOutcome:
        if request.idempotency_key not in LogAction.delivered:
            LogAction.delivered.append(request.idempotency_key)
        return ActionOutcome(delivered=True, detail=f"logged {request.reason}")


class LogCrm:
    """Remembers the renewals it was asked to flag, once per idempotency key."""

    name = "every_hook.crm"
    flagged: ClassVar[dict[str, str]] = {}

    def push(self, flag: RenewalFlag) -> ActionOutcome:
        LogCrm.flagged.setdefault(flag.idempotency_key, f"{flag.account_id}: {flag.flag}")
        return ActionOutcome(delivered=True, detail=f"flagged {flag.account_id}")


@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(NotesIngester())


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(NotesSource())


@hookimpl
def register_scorers(register: Callable[[Scorer], None]) -> None:
    register(NotesScorer())


@hookimpl
def register_playbook_actions(register: Callable[[PlaybookAction], None]) -> None:
    register(LogAction())


@hookimpl
def register_crm_adapters(register: Callable[[CrmAdapter], None]) -> None:
    register(LogCrm())
