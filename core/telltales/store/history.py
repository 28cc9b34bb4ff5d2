"""Valid time for accounts: every version kept, and every read as of a day.

An account record is a *version*: the state that took effect on its ``as_of`` day.
``account_versions`` keeps them all; ``accounts`` keeps one row per account, its
latest version, because every other table's foreign key points there. Every read
"as of" a day goes through this module and sees the version in force that day,
so a renewal date moved later, a churn, or a contract signed later never leaks into
a replay of the days before (docs/time.md).

During a run the engine shadows ``accounts`` on its own connection with a
temporary table of the same name (:func:`shadow_accounts`): SQLite resolves an
unqualified name in the ``temp`` schema first, so every signal source that reads
``accounts`` (as docs/plugins.md promises they may) reads the run day's versions of
the accounts live that day, without a change to its SQL.
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Collection, Sequence
from datetime import date

import msgspec
from sqlite_utils import Database

from telltales import clock
from telltales.contracts import BATCH_TABLE, DAYS_TABLE
from telltales.models import FIRST_DAY, Account

FIELDS: tuple[str, ...] = Account.__struct_fields__
"""The columns of a version, as the ``Account`` struct names them (``as_of`` among them)."""
_CONTENT = tuple(f for f in FIELDS if f not in ("account_id", "as_of"))
"""What makes two versions the same: every field but the key."""
_JSON_FIELDS = ("products", "core_features")

LIVE = "{v}.lifecycle = 'active' AND ({v}.customer_since IS NULL OR {v}.customer_since <= {day})"
"""SQL: the version ``{v}`` makes its account live on ``{day}``."""


def _in_force(day: str, *, earliest_otherwise: bool = False) -> str:
    """SQL for the day of the version in force on ``day`` (a bound parameter) of the
    account ``acc``.

    With ``earliest_otherwise``, an account whose first version starts after ``day``
    gets that first version: a read that names an account shows what is known of it.
    """
    latest = (
        f"(SELECT max(x.as_of) FROM account_versions x "
        f"WHERE x.account_id = acc.account_id AND x.as_of <= {day})"
    )
    if not earliest_otherwise:
        return latest
    first = "(SELECT min(x.as_of) FROM account_versions x WHERE x.account_id = acc.account_id)"
    return f"COALESCE({latest}, {first})"


def version_columns(alias: str) -> str:
    """The version's columns, in ``FIELDS`` order, for a SELECT."""
    return ", ".join(f"{alias}.{field}" for field in FIELDS)


def in_force_join(day: str, *, alias: str = "a", earliest_otherwise: bool = False) -> str:
    """``CROSS JOIN account_versions <alias>``: each account's version in force on ``day``.

    To follow ``FROM main.accounts acc``; ``alias`` is then the version, ``acc`` the
    account.
    """
    # CROSS JOIN keeps SQLite driving from the accounts, one seek per account; left to
    # itself it scanned every version and ran the lookup once per version.
    return (
        f"CROSS JOIN account_versions {alias} ON {alias}.account_id = acc.account_id "
        f"AND {alias}.as_of = {_in_force(day, earliest_otherwise=earliest_otherwise)}"
    )


def account_from_row(row: Sequence[object]) -> Account:
    """A version read in ``FIELDS`` order, as an ``Account``."""
    record = dict(zip(FIELDS, row, strict=True))
    for key in _JSON_FIELDS:
        record[key] = msgspec.json.decode(str(record[key]))
    if record["auto_renew"] is not None:
        record["auto_renew"] = bool(record["auto_renew"])
    return msgspec.convert(record, Account, strict=False)


def versions_on(
    db: Database,
    day: date,
    account_ids: Collection[str] | None = None,
    *,
    earliest_otherwise: bool = False,
) -> dict[str, Account]:
    """The version of each account in force on ``day``, by id (all accounts by default).

    An account with no version yet on ``day`` is left out, unless
    ``earliest_otherwise``: then its first version stands for it.
    """
    params: list[object] = [day.isoformat()]
    where = ""
    if account_ids is not None:
        where = "WHERE acc.account_id IN (SELECT value FROM json_each(?))"
        params.append(msgspec.json.encode(sorted(set(account_ids))).decode())
    rows = db.execute(
        f"SELECT {version_columns('a')} FROM main.accounts acc "
        f"{in_force_join('?', earliest_otherwise=earliest_otherwise)} {where} "
        "ORDER BY acc.account_id",
        params,
    )
    return {row[0]: account_from_row(row) for row in rows}


def account_on(db: Database, account_id: str, day: date) -> Account | None:
    """The account's version in force on ``day``; its first one if it starts later;
    None when the account is unknown."""
    return versions_on(db, day, [account_id], earliest_otherwise=True).get(account_id)


def versions_of(db: Database, account_id: str) -> list[Account]:
    """Every version of the account, oldest first: its contract and lifecycle history."""
    rows = db.execute(
        f"SELECT {version_columns('v')} FROM account_versions v "
        "WHERE v.account_id = ? ORDER BY v.as_of",
        [account_id],
    )
    return [account_from_row(row) for row in rows]


def is_live(account: Account, day: date) -> bool:
    """Whether this version (the one in force on ``day``) makes the account live that day."""
    if account.as_of is not None and account.as_of > day:
        return False
    return account.lifecycle == "active" and (
        account.customer_since is None or account.customer_since <= day
    )


def live_ids(db: Database, day: date) -> list[str]:
    """The accounts live on ``day``, by id: the ones a run as of that day scores."""
    rows = db.execute(
        f"SELECT a.account_id FROM main.accounts acc {in_force_join('?')} "
        f"WHERE {LIVE.format(v='a', day='?')} ORDER BY a.account_id",
        [day.isoformat(), day.isoformat()],
    )
    return [row[0] for row in rows]


def not_live_reason(account: Account | None, day: date) -> str:
    """Why an account is not live on ``day``, in words, from its version in force."""
    if account is None or (account.as_of is not None and account.as_of > day):
        first = f" (its first version is of {account.as_of})" if account else ""
        return f"no version of the account is in force on {day}{first}"
    if account.lifecycle != "active":
        return f"the account is {account.lifecycle} since {account.as_of}"
    return f"a customer only from {account.customer_since}"


SHADOW = "temp.accounts"
"""The temporary table that stands for ``accounts`` on a run's connection."""


def shadow_accounts(db: Database, day: date) -> None:
    """Make ``accounts`` on this connection mean the versions live on ``day``.

    Creates ``temp.accounts`` (same columns, the run day's version of each account
    live that day); :func:`drop_shadow` removes it, so the connection reads the real
    table again. Unqualified ``accounts`` in any query on this connection, a plugin's
    included, resolves to it; ended and not-yet-started accounts are simply not there,
    which also takes them out of every source's segment peers.
    """
    db.execute(f"DROP TABLE IF EXISTS {SHADOW}")
    db.execute(f"CREATE TEMP TABLE accounts ({', '.join(FIELDS)}, PRIMARY KEY (account_id))")
    _insert_live(db, SHADOW, day)


def _insert_live(db: Database, table: str, day: date, *, dated: bool = False) -> None:
    """Insert into ``table`` the version in force on ``day`` of every account live that
    day; ``dated``: after a first column holding the day."""
    columns = ("day, " if dated else "") + ", ".join(FIELDS)
    db.execute(
        f"INSERT INTO {table} ({columns}) "
        f"SELECT {':day, ' if dated else ''}{version_columns('ver')} FROM main.accounts acc "
        f"{in_force_join(':day', alias='ver')} WHERE {LIVE.format(v='ver', day=':day')}",
        {"day": day.isoformat()},
    )


def drop_shadow(db: Database) -> bool:
    """Remove the shadow ``accounts``; False when the connection still holds a query on it.

    A source that failed mid-query leaves its cursor alive as long as its exception's
    traceback is (a reference cycle): a collection frees it. A source abandoned past its
    time limit may still be reading: then the connection must not be used again.
    """
    return _drop(db, SHADOW)


def _drop(db: Database, table: str) -> bool:
    for attempt in range(2):
        try:
            db.execute(f"DROP TABLE IF EXISTS {table}")
            return True
        except sqlite3.OperationalError:
            if attempt:
                return False
            gc.collect()
    return False


def fill_days(db: Database, days: Sequence[date]) -> None:
    """Fill ``DAYS_TABLE`` on this connection: each of ``days`` with the version in force
    that day of every account live on it, as :func:`shadow_accounts` does for one day.

    What a source's ``compute_days`` joins to compute many days in one query;
    :func:`drop_days` removes it.
    """
    db.execute(f"DROP TABLE IF EXISTS {DAYS_TABLE}")
    db.execute(
        f"CREATE TEMP TABLE {DAYS_TABLE.split('.', 1)[1]} "
        f"(day TEXT NOT NULL, {', '.join(FIELDS)}, PRIMARY KEY (day, account_id))"
    )
    for day in days:
        _insert_live(db, DAYS_TABLE, day, dated=True)


def drop_days(db: Database) -> bool:
    """Remove ``DAYS_TABLE``; False when the connection still holds a query on it (as
    :func:`drop_shadow`)."""
    return _drop(db, DAYS_TABLE)


class VersionCounts(msgspec.Struct, kw_only=True):
    """What storing a batch of versions did."""

    created: int = 0
    """Accounts that had no version before."""
    changed: int = 0
    """New versions (or same-day corrections) of accounts already known."""
    unchanged: int = 0
    """Records equal to the version already in force on their day: nothing written."""
    keys: list[tuple[str, str]] = msgspec.field(default_factory=list)
    """``(account_id, day)`` of every record, written or unchanged, in the batch's order:
    the versions the batch's records are held as."""

    @property
    def written(self) -> int:
        return self.created + self.changed


def _content(account: Account) -> tuple[object, ...]:
    """A version's fields as stored (JSON lists, ISO days, 0/1), every field but the key."""
    values: list[object] = []
    for field in _CONTENT:
        value = getattr(account, field)
        if field in _JSON_FIELDS:
            value = msgspec.json.encode(value).decode()
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    return tuple(values)


def store_versions(
    db: Database,
    records: Sequence[Account],
    *,
    today: date | None = None,
    source: str = "ingest",
) -> VersionCounts:
    """Store each record as the version of its account from its ``as_of`` day.

    A record without ``as_of`` is true from ``today``; an account's first version
    without it, from its ``customer_since`` day or else from the start. A record equal
    to the version already in force on its day writes nothing; another record for a
    day that has a version replaces it (a correction of that day). ``accounts`` is
    brought to each account's latest version.
    """
    today = today or clock.today()
    counts = VersionCounts()
    known = _known(db, {r.account_id for r in records})
    # Records of one account go in rounds, one per round, in the batch's order: each is
    # compared with what the ones before it left.
    rounds: list[list[Account]] = []
    seen: dict[str, int] = {}
    for record in records:
        position = seen.get(record.account_id, 0)
        seen[record.account_id] = position + 1
        if position == len(rounds):
            rounds.append([])
        rounds[position].append(record)
    stamp = clock.now().isoformat()
    for batch in rounds:
        dated = []
        for record in batch:
            if record.as_of is not None:
                day = record.as_of
            elif record.account_id in known:
                day = today
            else:
                day = record.customer_since or FIRST_DAY
            dated.append((record, day))
        current = _content_in_force(db, [(r.account_id, d) for r, d in dated])
        rows = []
        for record, day in dated:
            content = _content(record)
            counts.keys.append((record.account_id, day.isoformat()))
            if current.get((record.account_id, day.isoformat())) == content:
                counts.unchanged += 1
                continue
            if record.account_id in known:
                counts.changed += 1
            else:
                counts.created += 1
            rows.append((record.account_id, day.isoformat(), *content, source, stamp))
        _write(db, rows, stamp)
        known.update(r.account_id for r, _ in dated)
    return counts


def _known(db: Database, account_ids: Collection[str]) -> set[str]:
    rows = db.execute(
        "SELECT DISTINCT account_id FROM account_versions "
        "WHERE account_id IN (SELECT value FROM json_each(?))",
        [msgspec.json.encode(sorted(account_ids)).decode()],
    )
    return {row[0] for row in rows}


def _content_in_force(
    db: Database, keys: Sequence[tuple[str, date]]
) -> dict[tuple[str, str], tuple[object, ...]]:
    """For each (account, day), the content of the version in force that day."""
    pairs = msgspec.json.encode([[a, d.isoformat()] for a, d in keys]).decode()
    columns = ", ".join(f"v.{field}" for field in _CONTENT)
    rows = db.execute(
        f"""
        SELECT k.account_id, k.day, {columns}
        FROM (SELECT json_extract(value, '$[0]') AS account_id,
                     json_extract(value, '$[1]') AS day FROM json_each(?)) k
        JOIN account_versions v ON v.account_id = k.account_id AND v.as_of = (
            SELECT max(x.as_of) FROM account_versions x
            WHERE x.account_id = k.account_id AND x.as_of <= k.day
        )
        """,
        [pairs],
    )
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


_VERSION_COLUMNS = ("account_id", "as_of", *_CONTENT, "source", "recorded_at")


def _write(db: Database, rows: Sequence[tuple[object, ...]], stamp: str) -> None:
    """Insert (or replace, for a day that had one) versions; refresh ``accounts``."""
    if not rows:
        return
    marks = ", ".join("?" for _ in _VERSION_COLUMNS)
    # ``accounts`` first: a new account's versions point at it.
    ids = msgspec.json.encode(sorted({row[0] for row in rows})).decode()
    new_columns = ("account_id", "as_of", *_CONTENT, "updated_at")
    db.conn.executemany(
        f"INSERT OR IGNORE INTO main.accounts ({', '.join(new_columns)}) "
        f"VALUES ({', '.join('?' for _ in new_columns)})",
        [(*row[: 2 + len(_CONTENT)], stamp) for row in rows],
    )
    db.conn.executemany(
        f"INSERT OR REPLACE INTO account_versions ({', '.join(_VERSION_COLUMNS)}) VALUES ({marks})",
        rows,
    )
    refresh_latest(db, ids, stamp)


def refresh_latest(db: Database, ids_json: str, stamp: str) -> None:
    """Copy each account's latest version into its ``accounts`` row."""
    assignments = ", ".join(f"{f} = excluded.{f}" for f in FIELDS if f != "account_id")
    db.execute(
        f"""
        INSERT INTO main.accounts ({", ".join(FIELDS)}, updated_at)
        SELECT {version_columns("v")}, ? FROM account_versions v
        WHERE v.account_id IN (SELECT value FROM json_each(?)) AND v.as_of = (
            SELECT max(x.as_of) FROM account_versions x WHERE x.account_id = v.account_id
        )
        ON CONFLICT (account_id) DO UPDATE SET {assignments}, updated_at = excluded.updated_at
        """,
        [stamp, ids_json],
    )


class PreviousTerm(msgspec.Struct, kw_only=True, frozen=True):
    """The contract term before the one in force, as last known by a day."""

    term_start: date
    arr: float
    list_price: float | None


def previous_terms(db: Database, day: date) -> dict[str, PreviousTerm]:
    """For each account of a run (``BATCH_TABLE`` joined with the shadow ``accounts``), the
    latest version known by ``day`` of the term before the one in force.

    Only versions valid on or before ``day`` are read, so a replay never sees a term
    agreed later; an account whose term in force started after ``day`` has no "last
    renewal" yet.
    """
    rows = db.execute(
        f"""
        SELECT v.account_id, p.term_start, p.arr, p.list_price
        FROM {BATCH_TABLE} b CROSS JOIN {SHADOW} v ON v.account_id = b.account_id
        JOIN account_versions p ON p.account_id = v.account_id AND p.as_of = (
            SELECT max(x.as_of) FROM account_versions x
            WHERE x.account_id = v.account_id AND x.as_of <= :day
              AND x.term_start < v.term_start
        )
        WHERE v.term_start <= :day
        """,
        {"day": day.isoformat()},
    )
    return {
        account_id: PreviousTerm(
            term_start=date.fromisoformat(start), arr=arr, list_price=list_price
        )
        for account_id, start, arr, list_price in rows
    }


RENEWAL = "renewal"
"""The source of a version written by a churned renewal outcome."""


def churn_from_renewal(db: Database, account_id: str, day: date) -> None:
    """Record that the account churned at its renewal of ``day``: a version from that day,
    the one in force then with lifecycle ``churned`` (nothing if it already says so)."""
    current = account_on(db, account_id, day)
    if current is None:
        return
    churned = msgspec.structs.replace(current, as_of=day, lifecycle="churned")
    store_versions(db, [churned], source=RENEWAL)


def undo_churn_from_renewal(db: Database, account_id: str, day: date) -> None:
    """Drop the version a churned renewal of ``day`` wrote, when the renewal is corrected
    to renewed; versions sent by ingest are never touched."""
    removed = db.execute(
        "DELETE FROM account_versions WHERE account_id = ? AND as_of = ? AND source = ?",
        [account_id, day.isoformat(), RENEWAL],
    ).rowcount
    if removed:
        refresh_latest(db, msgspec.json.encode([account_id]).decode(), clock.now().isoformat())
