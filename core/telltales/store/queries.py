"""Reading back what the engine stored: signals, scores and runs, as model structs."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, NamedTuple, get_args

import msgspec
from sqlite_utils import Database

from telltales import clock
from telltales.contracts import BATCH_TABLE
from telltales.errors import UnknownAccountError
from telltales.models import (
    LAST_DAY,
    Account,
    AccountStatus,
    Grade,
    MeasureResult,
    RunResult,
    Score,
    ScoreTrend,
    Signal,
    SourceDays,
    stale_among,
)
from telltales.store import Store, history
from telltales.store.processes import process_gone

TREND_DAYS = (7, 30)
"""A score is compared with the stored scores of this many days before."""


def equality_filter(**columns: object) -> tuple[str, list[object]]:
    """``WHERE a = ? AND b = ?`` for the columns given a value (None leaves one out)."""
    given = {column: value for column, value in columns.items() if value is not None}
    clause = " AND ".join(f"{column} = ?" for column in given)
    return (f"WHERE {clause}" if clause else ""), list(given.values())


def get_account(store: Store, account_id: str, as_of: date | None = None) -> Account:
    """The account's version in force on ``as_of`` (default today), or its first
    version if it starts later; :class:`UnknownAccountError` naming an unknown id."""
    found = history.account_on(store.db, account_id, as_of or clock.today())
    if found is None:
        raise UnknownAccountError(f"unknown account {account_id!r}")
    return found


def list_accounts(store: Store, as_of: date | None = None) -> list[Account]:
    """Every account as of ``as_of`` (default today), by id: each one's version in force,
    or its first version if it starts later."""
    day = as_of or clock.today()
    return list(history.versions_on(store.db, day, earliest_otherwise=True).values())


class AccountOverview(msgspec.Struct, kw_only=True, frozen=True):
    """An account with its current status and its latest health grade: one line of a list."""

    account: Account
    """The account's version in force on the day of the list (today by default)."""
    live: bool
    """Whether the account is live that day: a customer (past its customer-since day)
    neither churned nor paused. Only live accounts are listed under a health status."""
    status: AccountStatus | None
    """The status set by the account's latest transition (on or before the day asked
    for); None before any."""
    status_label: str | None
    status_since: date | None
    """The day (``as_of``) of the transition that set the status."""
    score: float | None
    """The latest health score (on or before the day asked for; None when it had too
    little data, or before any)."""
    grade: Grade | None
    grade_label: str | None
    scored_on: date | None
    """The day of that score."""


AccountSort = Literal[
    "account_id",
    "score",
    "-score",
    "arr",
    "-arr",
    "renewal_date",
    "-renewal_date",
    "days_at_risk",
    "-days_at_risk",
]
"""How a list of accounts is ordered: by a field, ``-`` for the largest first. ``score``
puts the riskiest (lowest) first, ``-arr`` the most revenue, ``renewal_date`` the
soonest renewal, ``-days_at_risk`` the account At-Risk the longest. Accounts with no
value (no score, no renewal date, not At-Risk) come last either way; ties go by
``account_id``."""
ACCOUNT_SORTS: tuple[str, ...] = get_args(AccountSort)
_LAST = 1e300
"""The sort key of an account with no value for the field: after every real one."""
_SORT_KEYS = {
    "account_id": "0.0",
    "score": f"COALESCE(s.value, {_LAST})",
    "-score": f"COALESCE(-s.value, {_LAST})",
    "arr": "a.arr",
    "-arr": "-a.arr",
    "renewal_date": f"COALESCE(julianday(a.renewal_date), {_LAST})",
    "-renewal_date": f"COALESCE(-julianday(a.renewal_date), {_LAST})",
    "days_at_risk": f"CASE t.to_status WHEN 'at_risk' THEN -julianday(t.as_of) ELSE {_LAST} END",
    "-days_at_risk": f"CASE t.to_status WHEN 'at_risk' THEN julianday(t.as_of) ELSE {_LAST} END",
}
"""Each sort as one ascending number per account, so that a page resumes after the
last row's (key, ``account_id``) whatever the sort."""


@dataclass(frozen=True)
class OverviewPage:
    """One page of a filtered, sorted list of accounts, and what the whole list holds."""

    rows: list[AccountOverview]
    resume: tuple[float, str] | None
    """The (sort key, ``account_id``) the next page starts after; None on the last page."""
    matched: int
    """Every account the filters match, on every page."""
    arr: float
    """Their ARR, summed (each account's version in force on the day)."""


def account_overviews(
    store: Store,
    *,
    scorer: str,
    labels: Mapping[str, str],
    csm_groups: Collection[str] | None = None,
    account_id: str | None = None,
    csm_group: str | None = None,
    segment: str | None = None,
    owner: str | None = None,
    grade: str | None = None,
    status: str | None = None,
    renewal_between: tuple[date, date] | None = None,
    sort: AccountSort = "account_id",
    after: tuple[float, str] | None = None,
    limit: int = 100,
    as_of: date | None = None,
) -> OverviewPage:
    """Accounts matching every filter given, in ``sort`` order, each with status and grade.

    One query: each account's version in force on ``as_of`` (default today), its
    latest transition and latest ``scorer`` score (on or before ``as_of`` when it is
    given) are found through their per-account indexes; the matching accounts are
    counted and their ARR summed, and the page is the ``limit`` rows after ``after``.
    An account with no version yet that day is left out, unless asked for by
    ``account_id``. ``csm_groups`` limits the rows to those groups (None: every
    group); ``renewal_between`` keeps accounts renewing within the two days, both
    included. A health ``status`` (``at_risk``...) keeps only accounts live that day: a
    churned account is no longer at risk.
    """
    day = (as_of or clock.today()).isoformat()
    until = (as_of or LAST_DAY).isoformat()
    live = history.LIVE.format(v="a", day="?")
    where: list[str] = []
    params: list[object] = [day, day, until, scorer, scorer, until]
    if csm_groups is not None:
        where.append("a.csm_group IN (SELECT value FROM json_each(?))")
        params.append(msgspec.json.encode(sorted(csm_groups)).decode())
    for column, value in (
        ("a.account_id", account_id),
        ("a.csm_group", csm_group),
        ("a.segment", segment),
        ("a.owner", owner),
        ("s.grade", grade),
        ("t.to_status", status),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if status is not None and status != "inactive":
        where.append(live)
        params.append(day)
    if renewal_between is not None:
        where.append("a.renewal_date BETWEEN ? AND ?")
        params.extend(day.isoformat() for day in renewal_between)
    resume, resume_params = "", []
    if after is not None:
        resume = "WHERE (sort_key, account_id) > (?, ?)"
        resume_params = [after[0], after[1]]
    version = history.in_force_join("?", earliest_otherwise=account_id is not None)
    columns = history.version_columns("a")
    rows = store.db.execute(
        f"""
        WITH matched AS MATERIALIZED (
            SELECT {columns}, {live} AS live, t.to_status, t.as_of AS since, s.value,
                s.grade, s.label, s.as_of AS scored_on, {_SORT_KEYS[sort]} AS sort_key
            FROM main.accounts acc {version}
            LEFT JOIN transitions t ON t.transition_id = (
                SELECT l.transition_id FROM transitions l
                WHERE l.account_id = a.account_id AND l.as_of <= ?
                ORDER BY l.as_of DESC, l.at DESC, l.transition_id DESC LIMIT 1
            )
            LEFT JOIN scores s ON s.account_id = a.account_id AND s.scorer = ? AND s.as_of = (
                SELECT l.as_of FROM scores l
                WHERE l.account_id = a.account_id AND l.scorer = ? AND l.as_of <= ?
                ORDER BY l.as_of DESC LIMIT 1
            )
            {"WHERE " + " AND ".join(where) if where else ""}
        )
        SELECT page.*, totals.n, totals.arr
        FROM (SELECT count(*) AS n, total(arr) AS arr FROM matched) totals
        LEFT JOIN (
            SELECT * FROM matched {resume} ORDER BY sort_key, account_id LIMIT ?
        ) page ON 1
        ORDER BY page.sort_key, page.account_id
        """,
        [*params, *resume_params, limit + 1],
    ).fetchall()
    width = len(history.FIELDS)
    matched, arr = int(rows[0][-2]), float(rows[0][-1])
    rows = [row for row in rows if row[0] is not None]
    overviews = []
    for row in rows[:limit]:
        is_live, to_status, since, value, grade_of, grade_label, scored_on = row[width : width + 7]
        overviews.append(
            AccountOverview(
                account=history.account_from_row(row[:width]),
                live=bool(is_live),
                status=to_status,
                status_label=labels.get(to_status) if to_status else None,
                status_since=date.fromisoformat(since) if since else None,
                score=value,
                grade=grade_of,
                grade_label=grade_label,
                scored_on=date.fromisoformat(scored_on) if scored_on else None,
            )
        )
    last = rows[limit - 1] if len(rows) > limit else None
    return OverviewPage(
        rows=overviews,
        resume=(float(last[width + 7]), str(last[0])) if last is not None else None,
        matched=matched,
        arr=arr,
    )


def batch_accounts(db: Database, as_of: date) -> dict[str, Account]:
    """Every account of the batch in ``BATCH_TABLE``, by id, as of ``as_of``, in one query."""
    rows = db.execute(
        f"SELECT {history.version_columns('a')} FROM {BATCH_TABLE} b "
        f"CROSS JOIN main.accounts acc ON acc.account_id = b.account_id "
        f"{history.in_force_join('?')}",
        [as_of.isoformat()],
    )
    return {row[0]: history.account_from_row(row) for row in rows}


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


def latest_score_day(
    store: Store, account_id: str, on_or_before: date | None = None
) -> date | None:
    """The most recent day with a score for the account (at or before a day, if given)."""
    sql = "SELECT max(as_of) FROM scores WHERE account_id = ?"
    params: list[object] = [account_id]
    if on_or_before is not None:
        sql += " AND as_of <= ?"
        params.append(on_or_before.isoformat())
    (day,) = store.db.execute(sql, params).fetchone()
    return date.fromisoformat(day) if day else None


_BREAKDOWN = msgspec.json.Decoder(tuple[MeasureResult, ...])


def scores_for(store: Store, account_id: str, as_of: date) -> list[Score]:
    """Every score stored for the account on ``as_of`` with its breakdown and trend.

    The trend is read from the scores stored 7 and 30 days before, so re-running an
    earlier day is reflected here.
    """
    # Without the hint SQLite walks the day's whole key range (every account's score and
    # breakdown) for one account's: 7 ms instead of 0.15 ms with 2,000 accounts scored.
    rows = store.db.execute(
        "SELECT scorer, value, grade, label, coverage, breakdown, config_id "
        "FROM scores INDEXED BY scores_account "
        "WHERE account_id = ? AND as_of = ? ORDER BY scorer",
        [account_id, as_of.isoformat()],
    ).fetchall()
    earlier = earlier_scores(store.db, as_of, account_id=account_id)
    # Breakdown lines that quote their signal's evidence are stored without it.
    evidence = dict(
        store.db.execute(
            "SELECT key, evidence FROM signals WHERE as_of = ? AND account_id = ?",
            [as_of.isoformat(), account_id],
        ).fetchall()
    )
    scores = []
    for scorer, value, grade, label, coverage, breakdown, config_id in rows:
        before = [earlier.get((account_id, scorer, days)) for days in TREND_DAYS]
        trend_7d, trend_30d = (
            score_trend(days, value, config_id, row)
            for days, row in zip(TREND_DAYS, before, strict=True)
        )
        scores.append(
            Score(
                account_id=account_id,
                scorer=scorer,
                value=value,
                grade=grade,
                label=label,
                coverage=coverage,
                breakdown=tuple(
                    msgspec.structs.replace(line, evidence=evidence[line.signal_key])
                    if not line.evidence and line.value is not None and line.signal_key in evidence
                    else line
                    for line in _BREAKDOWN.decode(breakdown)
                ),
                config_id=config_id,
                as_of=as_of,
                trend_7d=trend_7d,
                trend_30d=trend_30d,
            )
        )
    return scores


class EarlierScore(NamedTuple):
    """A stored score of an earlier day, as much of it as a trend needs."""

    as_of: date
    value: float | None
    grade: Grade
    config_id: str


def earlier_scores(
    db: Database, as_of: date, *, scorer: str | None = None, account_id: str | None = None
) -> dict[tuple[str, str, int], EarlierScore]:
    """The stored scores 7 and 30 days before ``as_of``, keyed by (account, scorer, days).

    Without ``account_id`` it reads every account of the current batch (the
    ``BATCH_TABLE`` of ``db``) in one set-based query: a scorer's trend costs one
    query per run, never one per account.
    """
    days_by_day = {(as_of - timedelta(days=days)).isoformat(): days for days in TREND_DAYS}
    sql = "SELECT s.account_id, s.scorer, s.as_of, s.value, s.grade, s.config_id FROM scores s"
    params: list[object] = list(days_by_day)
    where = [f"s.as_of IN ({', '.join('?' * len(days_by_day))})"]
    if account_id is None:
        sql += f" JOIN {BATCH_TABLE} b ON b.account_id = s.account_id"
    else:
        where.append("s.account_id = ?")
        params.append(account_id)
    if scorer is not None:
        where.append("s.scorer = ?")
        params.append(scorer)
    rows = db.execute(f"{sql} WHERE {' AND '.join(where)}", params)
    dates = {day: (days, date.fromisoformat(day)) for day, days in days_by_day.items()}
    found: dict[tuple[str, str, int], EarlierScore] = {}
    for account, name, day, value, grade, config_id in rows:
        days, on = dates[day]
        found[account, name, days] = EarlierScore(on, value, grade, config_id)
    return found


def score_trend(
    days: int, value: float | None, config_id: str, earlier: EarlierScore | None
) -> ScoreTrend | None:
    """Compare a score with an earlier one; None when there is no earlier score."""
    if earlier is None:
        return None
    change = None if value is None or earlier.value is None else round(value - earlier.value, 1)
    return ScoreTrend(
        days=days,
        as_of=earlier.as_of,
        value=earlier.value,
        grade=earlier.grade,
        change=change,
        config_id=earlier.config_id,
        same_config=earlier.config_id == config_id,
    )


def get_run(store: Store, run_id: int) -> RunResult | None:
    """The run as stored; one left ``running`` by a process that is gone is ``interrupted``."""
    row = store.db.execute(
        "SELECT run_id, as_of, status, accounts, signals, scores, started_at, finished_at, "
        "failures, actions, freshness, process FROM runs WHERE run_id = ?",
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
        "actions",
        "stale",
    )
    record = dict(zip(names, row[:-1], strict=True))
    if record["status"] == "running" and row[-1] is not None and process_gone(row[-1]):
        record["status"] = "interrupted"
    record["failures"] = msgspec.json.decode(record["failures"])
    record["actions"] = msgspec.json.decode(record["actions"]) if record["actions"] else None
    known = _SOURCE_DAYS.decode(record["stale"])
    record["stale"] = stale_among(known, date.fromisoformat(str(record["as_of"])))
    return msgspec.convert(record, RunResult, strict=False)


_SOURCE_DAYS = msgspec.json.Decoder(list[SourceDays])


def run_freshness(db: Database, run_id: int) -> list[SourceDays]:
    """What the run recorded of its sources' freshness (latest day, limit), or nothing."""
    row = db.execute("SELECT freshness FROM runs WHERE run_id = ?", [run_id]).fetchone()
    return _SOURCE_DAYS.decode(row[0]) if row else []
