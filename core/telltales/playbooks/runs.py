"""Reading back playbook runs: live, shadow and held back, each with why."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

import msgspec

from telltales.store import Store
from telltales.store.queries import equality_filter

RunMode = Literal["live", "shadow", "held_back"]
RunState = Literal["open", "completed", "closed", "shadow", "held_back"]


class PlaybookRun(msgspec.Struct, kw_only=True, frozen=True):
    """One start of a playbook for an account, as recorded by the run that started it."""

    playbook_run_id: int
    account_id: str
    playbook: str
    transition_id: int
    as_of: date
    started_at: datetime
    mode: RunMode
    state: RunState
    cohort: Literal["pilot", "control", "none"]
    pilot_id: str | None
    owner: str
    csm_group: str
    status: str
    rules: tuple[str, ...]
    note: str
    """Why it is shadow or held back; the pilot it runs under when live."""
    acknowledged_at: datetime | None
    closed_at: datetime | None


_COLUMNS = (
    "playbook_run_id, account_id, playbook, transition_id, as_of, started_at, mode, state, "
    "cohort, pilot_id, owner, csm_group, status, rules, note, acknowledged_at, closed_at"
)


def list_runs(
    store: Store,
    *,
    mode: str | None = None,
    state: str | None = None,
    account_id: str | None = None,
    limit: int = 500,
) -> list[PlaybookRun]:
    """Runs matching every filter given, newest first."""
    clause, params = equality_filter(mode=mode, state=state, account_id=account_id)
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM playbook_runs {clause} ORDER BY playbook_run_id DESC LIMIT ?",
        [*params, limit],
    )
    return [_run(row) for row in rows]


def _run(row: Sequence[object]) -> PlaybookRun:
    record = dict(zip(_COLUMNS.split(", "), row, strict=True))
    record["rules"] = msgspec.json.decode(str(record["rules"]))
    return msgspec.convert(record, PlaybookRun, strict=False)
