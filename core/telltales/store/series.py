"""An account's stored scores and signals, day by day: the lines of its charts.

The account page draws the health score and its dimensions over time, and each
signal's small trend line. Both read what runs stored, one indexed range per
account (``scores_account``, ``signals_account``), oldest day first; nothing is
recomputed, so the lines show the very figures the API gave on each day.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import msgspec

from telltales.models import MeasureResult, Score
from telltales.store import Store

_BREAKDOWN = msgspec.json.Decoder(tuple[MeasureResult, ...])


class SignalPoint(NamedTuple):
    """One stored value of one signal: a point of its trend line."""

    key: str
    dimension: str
    as_of: date
    value: float


def score_series(
    store: Store, account_id: str, scorer: str, *, since: date, until: date
) -> list[Score]:
    """The account's ``scorer`` scores of every day from ``since`` to ``until`` (both
    included), oldest first, each with its breakdown (its measures' evidence left as
    stored: a chart reads points, not sentences) and without trends."""
    rows = store.db.execute(
        "SELECT as_of, value, grade, label, coverage, breakdown, config_id "
        "FROM scores INDEXED BY scores_account "
        "WHERE account_id = ? AND as_of BETWEEN ? AND ? AND scorer = ? ORDER BY as_of",
        [account_id, since.isoformat(), until.isoformat(), scorer],
    )
    return [
        Score(
            account_id=account_id,
            scorer=scorer,
            value=value,
            grade=grade,
            label=label,
            coverage=coverage,
            breakdown=_BREAKDOWN.decode(breakdown),
            config_id=config_id,
            as_of=date.fromisoformat(day),
        )
        for day, value, grade, label, coverage, breakdown, config_id in rows
    ]


def signal_series(store: Store, account_id: str, *, since: date, until: date) -> list[SignalPoint]:
    """Every signal value stored for the account from ``since`` to ``until`` (both
    included), by key, then oldest day first."""
    rows = store.db.execute(
        "SELECT key, dimension, as_of, value FROM signals INDEXED BY signals_account "
        "WHERE account_id = ? AND as_of BETWEEN ? AND ? ORDER BY key, as_of",
        [account_id, since.isoformat(), until.isoformat()],
    )
    return [
        SignalPoint(key=key, dimension=dimension, as_of=date.fromisoformat(day), value=value)
        for key, dimension, day, value in rows
    ]
