"""The telemetry figures of every account of a run, from one pass over the usage table.

One SQL statement groups the usage rows of the run's accounts by account, user and
feature (the table's key order, so SQLite streams it without sorting) into the few
sums each figure needs; Python then folds those groups into per-account figures.
Trend windows are least-squares slopes, and a slope only needs Σy and Σxy per
group, which add up across groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import msgspec
from sqlite_utils import Database
from telltales import BATCH_TABLE

from .schema import day_number

TREND_WINDOWS = (30, 60, 90)
PEERS_TABLE = "temp.telemetry_peers"


@dataclass(slots=True)
class Trend:
    """A least-squares line through daily totals over the last ``days`` days."""

    days: int
    total: float
    weighted: float
    """Σ value x day index (0 for the window's first day)."""

    @property
    def mean(self) -> float:
        return self.total / self.days

    @property
    def slope(self) -> float:
        n = self.days
        sum_x = n * (n - 1) / 2
        sum_xx = (n - 1) * n * (2 * n - 1) / 6
        return (n * self.weighted - sum_x * self.total) / (n * sum_xx - sum_x * sum_x)

    @property
    def start(self) -> float:
        return self.mean - self.slope * (self.days - 1) / 2

    @property
    def end(self) -> float:
        return self.mean + self.slope * (self.days - 1) / 2

    @property
    def change_per_30d(self) -> float | None:
        """The slope over 30 days as a share of the window's mean, or None if there was none."""
        return self.slope * 30 / self.mean if self.total > 0 else None


@dataclass(slots=True)
class Figures:
    """What the usage says about one account as of the run day."""

    account_id: str
    segment: str
    seats_purchased: int
    seats_assigned: int
    core_features: tuple[str, ...]
    has_usage: bool = False
    users_14d: set[str] = field(default_factory=set)
    users_30d: set[str] = field(default_factory=set)
    teams_30d: set[str] = field(default_factory=set)
    events_by_user_30d: dict[str, int] = field(default_factory=dict)
    logins_30d: int = 0
    feature_users_30d: dict[str, set[str]] = field(default_factory=dict)
    feature_users_14d: dict[str, set[str]] = field(default_factory=dict)
    feature_users_prev_14d: dict[str, set[str]] = field(default_factory=dict)
    core_trends: dict[int, Trend] = field(default_factory=dict)
    login_trends: dict[int, Trend] = field(default_factory=dict)


def _peer_rows(db: Database) -> Iterable[tuple[str, str, int, int, str]]:
    """Every account sharing a segment with an account of the batch (percentiles need them)."""
    return db.execute(
        f"""
        SELECT a.account_id, a.segment, a.seats_purchased, a.seats_assigned, a.core_features
        FROM accounts a
        WHERE a.segment IN (
            SELECT s.segment FROM accounts s JOIN {BATCH_TABLE} b ON b.account_id = s.account_id
        )
        """
    ).fetchall()


def compute_figures(db: Database, as_of: date) -> dict[str, Figures]:
    """Figures for the batch's accounts and their segment peers, keyed by account id."""
    figures: dict[str, Figures] = {}
    for account_id, segment, purchased, assigned, core in _peer_rows(db):
        figures[account_id] = Figures(
            account_id=account_id,
            segment=segment,
            seats_purchased=purchased,
            seats_assigned=assigned,
            core_features=tuple(msgspec.json.decode(core)),
        )
    conn = db.conn
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {PEERS_TABLE} (account_id TEXT PRIMARY KEY)")
    conn.execute(f"DELETE FROM {PEERS_TABLE}")
    conn.executemany(f"INSERT INTO {PEERS_TABLE} VALUES (?)", ((a,) for a in figures))
    today = day_number(as_of)
    for (account_id,) in conn.execute(
        f"""
        SELECT p.account_id FROM {PEERS_TABLE} p WHERE EXISTS (
            SELECT 1 FROM telemetry_usage u WHERE u.account_id = p.account_id AND u.day <= ?
        )
        """,
        [today],
    ):
        figures[account_id].has_usage = True
    _fold_groups(conn, figures, today)
    return figures


def _fold_groups(conn: object, figures: dict[str, Figures], today: int) -> None:
    d90, d60, d30, d28, d14 = today - 89, today - 59, today - 29, today - 27, today - 13
    rows = conn.execute(  # type: ignore[attr-defined]
        f"""
        SELECT u.account_id, u.user_id, u.feature, max(u.team), max(u.day),
               max(u.day >= :d28 AND u.day < :d14),
               total(u.events) FILTER (WHERE u.day >= :d30),
               total(u.logins) FILTER (WHERE u.day >= :d30),
               total(u.events), total(u.events * (u.day - :d90)),
               total(u.events) FILTER (WHERE u.day >= :d60),
               total(u.events * (u.day - :d60)) FILTER (WHERE u.day >= :d60),
               total(u.events * (u.day - :d30)) FILTER (WHERE u.day >= :d30),
               total(u.logins), total(u.logins * (u.day - :d90)),
               total(u.logins) FILTER (WHERE u.day >= :d60),
               total(u.logins * (u.day - :d60)) FILTER (WHERE u.day >= :d60),
               total(u.logins * (u.day - :d30)) FILTER (WHERE u.day >= :d30)
        FROM telemetry_usage u JOIN {PEERS_TABLE} p ON p.account_id = u.account_id
        WHERE u.day BETWEEN :d90 AND :today
        GROUP BY u.account_id, u.user_id, u.feature
        """,
        {"d90": d90, "d60": d60, "d30": d30, "d28": d28, "d14": d14, "today": today},
    )
    current: Figures | None = None
    core: tuple[str, ...] = ()
    sums = [0.0] * 12
    for (
        account_id,
        user,
        feature,
        team,
        last_day,
        in_prev_14d,
        events_30d,
        logins_30d,
        *group_sums,
    ) in rows:
        if current is None or current.account_id != account_id:
            if current is not None:
                _close(current, sums)
            current = figures[account_id]
            core = current.core_features
            sums = [0.0] * 12
        is_core = feature in core
        if last_day >= d30:
            current.users_30d.add(user)
            if team:
                current.teams_30d.add(team)
            by_user = current.events_by_user_30d
            by_user[user] = by_user.get(user, 0) + int(events_30d)
            current.logins_30d += int(logins_30d)
            if is_core:
                current.feature_users_30d.setdefault(feature, set()).add(user)
            if last_day >= d14:
                current.users_14d.add(user)
                if is_core:
                    current.feature_users_14d.setdefault(feature, set()).add(user)
        if in_prev_14d and is_core:
            current.feature_users_prev_14d.setdefault(feature, set()).add(user)
        y90, xy90, y60, xy60, xy30, l90, lxy90, l60, lxy60, lxy30 = group_sums
        if is_core:
            sums[0] += y90
            sums[1] += xy90
            sums[2] += y60
            sums[3] += xy60
            sums[4] += events_30d
            sums[5] += xy30
        sums[6] += l90
        sums[7] += lxy90
        sums[8] += l60
        sums[9] += lxy60
        sums[10] += logins_30d
        sums[11] += lxy30
    if current is not None:
        _close(current, sums)


def _close(figures: Figures, sums: list[float]) -> None:
    for index, days in enumerate((90, 60, 30)):
        figures.core_trends[days] = Trend(days, sums[2 * index], sums[2 * index + 1])
        figures.login_trends[days] = Trend(days, sums[6 + 2 * index], sums[7 + 2 * index])
