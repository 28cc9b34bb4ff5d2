"""The telemetry figures of every account of a run, computed in SQL in a few passes.

The first pass groups the usage rows of the run's accounts by account, user and
feature (the table's key order, so SQLite streams it without sorting) into the sums
each figure needs, in a temporary table. Three small queries then fold those
groups into per-account figures, per-core-feature user counts and each account's
two most active users. Python only ever sees one row per account (and per core
feature): at twenty million usage rows, fetching the groups alone would cost more
than computing them.

Trend windows are least-squares slopes, and a slope needs only Σy and Σxy, which
add up across groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import msgspec
from sqlite_utils import Database
from telltales import BATCH_TABLE, DAYS_TABLE

from .schema import day_number

PEERS = "temp.telemetry_peers"
CORE = "temp.telemetry_core"
GROUPS = "temp.telemetry_groups"


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
    def change_per_30d(self) -> float | None:
        """The slope over 30 days as a share of the window's mean, or None if there was none."""
        return self.slope * 30 / self.mean if self.total > 0 else None


@dataclass(slots=True)
class FeatureUsers:
    """Users of one core feature: in the last 30 and 14 days, and in the 14 before."""

    last_30d: int = 0
    last_14d: int = 0
    previous_14d: int = 0


@dataclass(slots=True)
class Figures:
    """What the usage says about one account as of the run day."""

    account_id: str
    segment: str
    seats_purchased: int
    seats_assigned: int | None
    """None when the account does not report it: unknown, so no deployment share."""
    core_features: tuple[str, ...]
    customer_since: date | None = None
    """The account's first day as a customer: no window reaches back past it."""
    has_usage: bool = False
    from_rows: bool = False
    """Per-user rows in the 90 days to the run day: every figure is exact."""
    counted: bool = False
    """No per-user rows in the window, but daily counts (``counts``): figures over a
    window that need distinct users are lower bounds (the busiest day), and teams
    and the most active users are unknown."""
    users_14d: int = 0
    users_30d: int = 0
    teams_30d: tuple[str, ...] = ()
    logins_30d: int = 0
    events_30d: int = 0
    top_users: tuple[str, ...] = ()
    top_events: int = 0
    features: dict[str, FeatureUsers] = field(default_factory=dict)
    core_trends: dict[int, Trend] = field(default_factory=dict)
    login_trends: dict[int, Trend] = field(default_factory=dict)


def compute_figures(db: Database, as_of: date, of_days_table: bool = False) -> dict[str, Figures]:
    """Figures for the batch's accounts and their segment peers, keyed by account id.

    ``of_days_table``: ``as_of`` is a day of a batch of days (``compute_days``), whose
    accounts are every account of that day in ``DAYS_TABLE``.
    """
    conn = db.conn
    accounts_of_day = (
        f"(SELECT * FROM {DAYS_TABLE} WHERE day = '{as_of.isoformat()}')"
        if of_days_table
        else "accounts"
    )
    figures = _peers(db, accounts_of_day, not of_days_table)
    params = window_params(as_of)
    mark_connected(db, figures, "telemetry_usage", params["today"])
    conn.execute(f"DROP TABLE IF EXISTS {GROUPS}")
    (accounts,) = conn.execute(f"SELECT count(*) FROM {accounts_of_day}").fetchone()
    if len(figures) == accounts:  # the daily run: no per-row membership test needed
        source, peers = "telemetry_usage u", ""
    else:  # a few accounts: seek each one's rows, never scan the table
        source = f"{PEERS} p CROSS JOIN telemetry_usage u"
        peers = "AND u.account_id = p.account_id"
    conn.execute(_GROUPS_SQL.format(source=source, peers=peers), params)
    # The full scan also reads the usage of accounts not live on the day (churned ones
    # with usage in the window): they are no account of the run, nor anyone's peer.
    for row in conn.execute(_ACCOUNTS_SQL, params):
        if row[0] in figures:
            _account_row(figures[row[0]], row)
    for account_id, feature, last_30d, last_14d, previous_14d in conn.execute(
        _FEATURES_SQL, params
    ):
        if account_id in figures:
            figures[account_id].features[feature] = FeatureUsers(last_30d, last_14d, previous_14d)
    for account_id, first, second, top, total in conn.execute(_TOP_TWO_SQL, params):
        if account_id not in figures:
            continue
        found = figures[account_id]
        found.top_users = (first,) if second is None else (first, second)
        found.top_events, found.events_30d = int(top), int(total)
    conn.execute(f"DROP TABLE {GROUPS}")
    return figures


def mark_connected(db: Database, figures: dict[str, Figures], table: str, today: int) -> None:
    """Set ``has_usage`` for the peers with a row in ``table`` on or before the run day.

    "Not connected" is not "not used": an account that never had usage gets no signal.
    """
    for (account_id,) in db.conn.execute(
        f"SELECT p.account_id FROM {PEERS} p WHERE EXISTS (SELECT 1 FROM {table} u "
        "WHERE u.account_id = p.account_id AND u.day <= ?)",
        [today],
    ):
        figures[account_id].has_usage = True


def window_params(as_of: date) -> dict[str, int]:
    """The first day of each window, as stored day numbers, for the queries' parameters."""
    today = day_number(as_of)
    return {
        "today": today,
        "d90": today - 89,
        "d60": today - 59,
        "d30": today - 29,
        "d28": today - 27,
        "d14": today - 13,
    }


def _peers(db: Database, accounts: str, of_batch: bool) -> dict[str, Figures]:
    """Every account sharing a segment with an account of the batch (percentiles need them):
    every account of ``accounts`` when the batch is all of them (not ``of_batch``)."""
    conn = db.conn
    figures: dict[str, Figures] = {}
    batch = (
        f"{BATCH_TABLE} b CROSS JOIN {accounts} s WHERE s.account_id = b.account_id"
        if of_batch
        else f"{accounts} s"
    )
    for account_id, segment, purchased, assigned, core, since in conn.execute(
        f"""
        SELECT a.account_id, a.segment, a.seats_purchased, a.seats_assigned, a.core_features,
               a.customer_since
        FROM {accounts} a
        WHERE a.segment IN (SELECT s.segment FROM {batch})
        """
    ):
        figures[account_id] = Figures(
            account_id=account_id,
            segment=segment,
            seats_purchased=purchased,
            seats_assigned=assigned,
            core_features=tuple(msgspec.json.decode(core)),
            customer_since=date.fromisoformat(since) if since else None,
        )
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {PEERS} (account_id TEXT PRIMARY KEY)")
    conn.execute(f"DELETE FROM {PEERS}")
    conn.executemany(f"INSERT INTO {PEERS} VALUES (?)", ((a,) for a in figures))
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {CORE} "
        "(account_id TEXT, feature TEXT, PRIMARY KEY (account_id, feature))"
    )
    conn.execute(f"DELETE FROM {CORE}")
    conn.executemany(
        f"INSERT OR IGNORE INTO {CORE} VALUES (?, ?)",
        ((f.account_id, core) for f in figures.values() for core in f.core_features),
    )
    return figures


def _account_row(found: Figures, row: tuple[object, ...]) -> None:
    _, users_14d, users_30d, teams, logins_30d, *sums = row
    found.from_rows = True
    found.users_14d = int(users_14d)  # type: ignore[call-overload]
    found.users_30d = int(users_30d)  # type: ignore[call-overload]
    # group_concat(DISTINCT ...) takes no separator: each team is marked with \x1f instead.
    found.teams_30d = tuple(sorted(str(teams)[1:].split(",\x1f"))) if teams else ()
    found.logins_30d = int(logins_30d)  # type: ignore[call-overload]
    set_trends(found, sums)


def set_trends(found: Figures, sums: list[object]) -> None:
    """Σy and Σxy of core events, then of logins, over 90, 60 and 30 days, as trends."""
    values = [float(v) for v in sums]  # type: ignore[arg-type]
    for index, days in enumerate((90, 60, 30)):
        found.core_trends[days] = Trend(days, values[2 * index], values[2 * index + 1])
        found.login_trends[days] = Trend(days, values[6 + 2 * index], values[7 + 2 * index])


_GROUPS_SQL = f"""
CREATE TEMP TABLE {GROUPS[5:]} AS
SELECT u.account_id, u.user_id, u.feature, max(u.team) AS team, max(u.day) AS last_day,
       max(u.day >= :d28 AND u.day < :d14) AS prev14,
       total(u.events) FILTER (WHERE u.day >= :d30) AS events30,
       total(u.logins) FILTER (WHERE u.day >= :d30) AS logins30,
       total(u.events) AS y90, total(u.events * (u.day - :d90)) AS xy90,
       total(u.events) FILTER (WHERE u.day >= :d60) AS y60,
       total(u.events * (u.day - :d60)) FILTER (WHERE u.day >= :d60) AS xy60,
       total(u.events * (u.day - :d30)) FILTER (WHERE u.day >= :d30) AS xy30,
       total(u.logins) AS l90, total(u.logins * (u.day - :d90)) AS lxy90,
       total(u.logins) FILTER (WHERE u.day >= :d60) AS l60,
       total(u.logins * (u.day - :d60)) FILTER (WHERE u.day >= :d60) AS lxy60,
       total(u.logins * (u.day - :d30)) FILTER (WHERE u.day >= :d30) AS lxy30
FROM {{source}}
WHERE u.day BETWEEN :d90 AND :today {{peers}}
GROUP BY u.account_id, u.user_id, u.feature
"""

_ACCOUNTS_SQL = f"""
SELECT g.account_id,
       count(DISTINCT g.user_id) FILTER (WHERE g.last_day >= :d14),
       count(DISTINCT g.user_id) FILTER (WHERE g.last_day >= :d30),
       group_concat(DISTINCT char(31) || g.team) FILTER (WHERE g.last_day >= :d30 AND g.team != ''),
       total(g.logins30),
       total(g.y90) FILTER (WHERE c.feature IS NOT NULL),
       total(g.xy90) FILTER (WHERE c.feature IS NOT NULL),
       total(g.y60) FILTER (WHERE c.feature IS NOT NULL),
       total(g.xy60) FILTER (WHERE c.feature IS NOT NULL),
       total(g.events30) FILTER (WHERE c.feature IS NOT NULL),
       total(g.xy30) FILTER (WHERE c.feature IS NOT NULL),
       total(g.l90), total(g.lxy90), total(g.l60), total(g.lxy60),
       total(g.logins30), total(g.lxy30)
FROM {GROUPS} g LEFT JOIN {CORE} c ON c.account_id = g.account_id AND c.feature = g.feature
GROUP BY g.account_id
"""

_FEATURES_SQL = f"""
SELECT g.account_id, g.feature,
       count(*) FILTER (WHERE g.last_day >= :d30),
       count(*) FILTER (WHERE g.last_day >= :d14),
       count(*) FILTER (WHERE g.prev14)
FROM {GROUPS} g JOIN {CORE} c ON c.account_id = g.account_id AND c.feature = g.feature
GROUP BY g.account_id, g.feature
"""

_TOP_TWO_SQL = f"""
SELECT account_id,
       max(user_id) FILTER (WHERE rank = 1), max(user_id) FILTER (WHERE rank = 2),
       total(events) FILTER (WHERE rank <= 2), total(events)
FROM (
    SELECT account_id, user_id, sum(events30) AS events,
           row_number() OVER (
               PARTITION BY account_id ORDER BY sum(events30) DESC, user_id
           ) AS rank
    FROM {GROUPS} WHERE last_day >= :d30 GROUP BY account_id, user_id
)
GROUP BY account_id
"""
