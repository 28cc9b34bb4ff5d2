"""Reading back what the engine stored: signals and runs, as model structs."""

from __future__ import annotations

from datetime import date

import msgspec

from .errors import UnknownAccountError
from .models import Account, RunResult, Signal
from .store import Store

_ACCOUNT_FIELDS = Account.__struct_fields__
_ACCOUNT_COLUMNS = ", ".join(_ACCOUNT_FIELDS)


def get_account(store: Store, account_id: str) -> Account:
    """The account, or :class:`UnknownAccountError` naming the id."""
    row = store.db.execute(
        f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ?", [account_id]
    ).fetchone()
    if row is None:
        raise UnknownAccountError(f"unknown account {account_id!r}")
    return _account(row)


def list_accounts(store: Store) -> list[Account]:
    rows = store.db.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY account_id")
    return [_account(row) for row in rows]


def _account(row: tuple[object, ...]) -> Account:
    record = dict(zip(_ACCOUNT_FIELDS, row, strict=True))
    for key in ("products", "core_features"):
        record[key] = msgspec.json.decode(str(record[key]))
    return msgspec.convert(record, Account, strict=False)


def latest_signal_day(
    store: Store, account_id: str, on_or_before: date | None = None
) -> date | None:
    """The most recent day with signals for the account (at or before a day, if given)."""
    sql = "SELECT max(as_of) FROM signals WHERE account_id = ?"
    params: list[object] = [account_id]
    if on_or_before is not None:
        sql += " AND as_of <= ?"
        params.append(on_or_before.isoformat())
    (day,) = store.db.execute(sql, params).fetchone()
    return date.fromisoformat(day) if day else None


def signals_for(store: Store, account_id: str, as_of: date) -> list[Signal]:
    """Every signal stored for the account on ``as_of``, ordered by key."""
    rows = store.db.execute(
        "SELECT account_id, key, value, dimension, evidence, as_of, source FROM signals "
        "WHERE account_id = ? AND as_of = ? ORDER BY key",
        [account_id, as_of.isoformat()],
    )
    return [
        Signal(
            account_id=a,
            key=k,
            value=v,
            dimension=d,
            evidence=e,
            as_of=date.fromisoformat(day),
            source=src,
        )
        for a, k, v, d, e, day, src in rows
    ]


def get_run(store: Store, run_id: int) -> RunResult | None:
    row = store.db.execute(
        "SELECT run_id, as_of, status, accounts, signals, scores, started_at, finished_at, "
        "failures FROM runs WHERE run_id = ?",
        [run_id],
    ).fetchone()
    if row is None:
        return None
    names = (
        "run_id",
        "as_of",
        "status",
        "accounts",
        "signals",
        "scores",
        "started_at",
        "finished_at",
        "failures",
    )
    record = dict(zip(names, row, strict=True))
    record["failures"] = msgspec.json.decode(record["failures"])
    return msgspec.convert(record, RunResult, strict=False)
