"""Figures from counted usage, for accounts whose export counts users instead of naming them.

An account's figures come from its per-user rows when it has any in the 90 days to
the run day; otherwise from its daily counts. Counts are exact for what happens
within one day (events, logins, users active that day) but not across days: the
same person active on two days is one user, and counts cannot tell. So a figure
over a window that needs distinct users takes the honest bound, the busiest day
(at least that many users were active), and the account is marked ``counted`` so
every signal built on it says so. Figures that need people by name (teams, the two
most active users) are not made at all.

A day's total is the row with no feature when there is one (users active in any
feature), else the feature rows: their events and logins add up, and the busiest
feature is again a lower bound on the users.
"""

from __future__ import annotations

from datetime import date

from sqlite_utils import Database

from .figures import CORE, FeatureUsers, Figures, mark_connected, set_trends, window_params

COUNTED = "temp.telemetry_counted"


def add_counted(db: Database, figures: dict[str, Figures], as_of: date) -> None:
    """Fill the figures of the accounts with no per-user rows in the 90 days to ``as_of``.

    Runs after :func:`~.figures.compute_figures`, on the peers it found.
    """
    conn = db.conn
    params = window_params(as_of)
    mark_connected(db, figures, "telemetry_daily_counts", params["today"])
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {COUNTED[5:]} (account_id TEXT PRIMARY KEY)")
    conn.execute(f"DELETE FROM {COUNTED}")
    conn.executemany(
        f"INSERT INTO {COUNTED} VALUES (?)",
        ((a,) for a, found in figures.items() if found.has_usage and not found.from_rows),
    )
    for row in conn.execute(_ACCOUNTS_SQL, params):
        _account_row(figures[row[0]], row)
    for account_id, feature, last_30d, last_14d, previous_14d in conn.execute(
        _FEATURES_SQL, params
    ):
        figures[account_id].features[feature] = FeatureUsers(last_30d, last_14d, previous_14d)
    conn.execute(f"DELETE FROM {COUNTED}")


def _account_row(found: Figures, row: tuple[object, ...]) -> None:
    _, users_14d, users_30d, logins_30d, events_30d, *sums = row
    found.counted = True
    found.users_14d = int(users_14d or 0)  # type: ignore[call-overload]
    found.users_30d = int(users_30d or 0)  # type: ignore[call-overload]
    found.logins_30d = int(logins_30d)  # type: ignore[call-overload]
    found.events_30d = int(events_30d)  # type: ignore[call-overload]
    set_trends(found, sums)


_DAYS = f"""
SELECT c.account_id, c.day,
       coalesce(max(c.active_users) FILTER (WHERE c.feature = ''), max(c.active_users)) AS users,
       CASE WHEN count(*) FILTER (WHERE c.feature = '') THEN total(c.events) FILTER (WHERE
            c.feature = '') ELSE total(c.events) END AS events,
       CASE WHEN count(*) FILTER (WHERE c.feature = '') THEN total(c.logins) FILTER (WHERE
            c.feature = '') ELSE total(c.logins) END AS logins,
       total(c.events) FILTER (WHERE k.feature IS NOT NULL) AS core
FROM {COUNTED} a
CROSS JOIN telemetry_daily_counts c ON c.account_id = a.account_id
LEFT JOIN {CORE} k ON k.account_id = c.account_id AND k.feature = c.feature
WHERE c.day BETWEEN :d90 AND :today
GROUP BY c.account_id, c.day
"""

_ACCOUNTS_SQL = f"""
SELECT d.account_id,
       max(d.users) FILTER (WHERE d.day >= :d14),
       max(d.users) FILTER (WHERE d.day >= :d30),
       total(d.logins) FILTER (WHERE d.day >= :d30),
       total(d.events) FILTER (WHERE d.day >= :d30),
       total(d.core), total(d.core * (d.day - :d90)),
       total(d.core) FILTER (WHERE d.day >= :d60),
       total(d.core * (d.day - :d60)) FILTER (WHERE d.day >= :d60),
       total(d.core) FILTER (WHERE d.day >= :d30),
       total(d.core * (d.day - :d30)) FILTER (WHERE d.day >= :d30),
       total(d.logins), total(d.logins * (d.day - :d90)),
       total(d.logins) FILTER (WHERE d.day >= :d60),
       total(d.logins * (d.day - :d60)) FILTER (WHERE d.day >= :d60),
       total(d.logins) FILTER (WHERE d.day >= :d30),
       total(d.logins * (d.day - :d30)) FILTER (WHERE d.day >= :d30)
FROM ({_DAYS}) d
GROUP BY d.account_id
"""

_FEATURES_SQL = f"""
SELECT c.account_id, c.feature,
       coalesce(max(c.active_users) FILTER (WHERE c.day >= :d30), 0),
       coalesce(max(c.active_users) FILTER (WHERE c.day >= :d14), 0),
       coalesce(max(c.active_users) FILTER (WHERE c.day >= :d28 AND c.day < :d14), 0)
FROM {COUNTED} a
CROSS JOIN telemetry_daily_counts c ON c.account_id = a.account_id
JOIN {CORE} k ON k.account_id = c.account_id AND k.feature = c.feature
WHERE c.day BETWEEN :d30 AND :today
GROUP BY c.account_id, c.feature
"""
