"""The bare SQL that computes the telemetry plugin's figures, run on plain sqlite3.

This is what the plugin's run is measured against: the same aggregation over the
same table, every per-account figure (active users, teams, logins, core-feature
users and trend sums, top-two-user events, segment percentiles) computed in SQL
and fetched, with no plugin, engine, signal or score around it.
"""

from __future__ import annotations

import sqlite3
from datetime import date

EPOCH = date(1970, 1, 1).toordinal()

GROUPS = """
CREATE TEMP TABLE g AS
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
FROM telemetry_usage u
WHERE u.day BETWEEN :d90 AND :today
GROUP BY u.account_id, u.user_id, u.feature
"""

CORE = """
CREATE TEMP TABLE core AS
SELECT a.account_id, j.value AS feature FROM accounts a, json_each(a.core_features) j
"""

PER_ACCOUNT = """
CREATE TEMP TABLE per_account AS
SELECT a.account_id, a.segment, a.seats_purchased,
       1.0 * a.seats_assigned / nullif(a.seats_purchased, 0) AS deployment,
       f.users14, f.users30, f.teams30, f.logins30, f.core_y90, f.core_xy90, f.core_y60,
       f.core_xy60, f.core_y30, f.core_xy30, f.l90, f.lxy90, f.l60, f.lxy60, f.l30, f.lxy30,
       1.0 * f.users14 / nullif(a.seats_purchased, 0) AS util14,
       1.0 * f.users30 / nullif(a.seats_purchased, 0) AS util30,
       f.logins30 / (30.0 / 7) / nullif(f.users30, 0) AS weekly_logins
FROM accounts a LEFT JOIN (
    SELECT g.account_id,
           count(DISTINCT g.user_id) FILTER (WHERE g.last_day >= :d14) AS users14,
           count(DISTINCT g.user_id) FILTER (WHERE g.last_day >= :d30) AS users30,
           count(DISTINCT g.team) FILTER (WHERE g.last_day >= :d30 AND g.team != '') AS teams30,
           total(g.logins30) FILTER (WHERE g.last_day >= :d30) AS logins30,
           total(g.y90) FILTER (WHERE c.feature IS NOT NULL) AS core_y90,
           total(g.xy90) FILTER (WHERE c.feature IS NOT NULL) AS core_xy90,
           total(g.y60) FILTER (WHERE c.feature IS NOT NULL) AS core_y60,
           total(g.xy60) FILTER (WHERE c.feature IS NOT NULL) AS core_xy60,
           total(g.events30) FILTER (WHERE c.feature IS NOT NULL) AS core_y30,
           total(g.xy30) FILTER (WHERE c.feature IS NOT NULL) AS core_xy30,
           total(g.l90) AS l90, total(g.lxy90) AS lxy90, total(g.l60) AS l60,
           total(g.lxy60) AS lxy60, total(g.logins30) AS l30, total(g.lxy30) AS lxy30
    FROM g LEFT JOIN core c ON c.account_id = g.account_id AND c.feature = g.feature
    GROUP BY g.account_id
) f ON f.account_id = a.account_id
"""

PER_FEATURE = """
SELECT g.account_id, g.feature,
       count(*) FILTER (WHERE g.last_day >= :d30),
       count(*) FILTER (WHERE g.last_day >= :d14),
       total(g.prev14)
FROM g JOIN core c ON c.account_id = g.account_id AND c.feature = g.feature
GROUP BY g.account_id, g.feature
"""

TOP_TWO = """
SELECT account_id, total(events) FILTER (WHERE rank <= 2), total(events)
FROM (
    SELECT account_id, sum(events30) AS events,
           row_number() OVER (PARTITION BY account_id ORDER BY sum(events30) DESC) AS rank
    FROM g WHERE last_day >= :d30 GROUP BY account_id, user_id
)
GROUP BY account_id
"""

PERCENTILES = """
SELECT account_id,
       {ranks}
FROM per_account
"""

RANKED = ("util14", "util30", "deployment", "weekly_logins", "teams30")


def _rank(column: str) -> str:
    return (
        f"100.0 * ((rank() OVER (PARTITION BY segment ORDER BY {column}) - 1) "
        f"+ 0.5 * count(*) OVER (PARTITION BY segment, {column})) "
        f"/ count({column}) OVER (PARTITION BY segment)"
    )


def compute(path: str, as_of: date) -> dict[str, dict[str, object]]:
    """Every figure, per account; also what the benchmark checks the plugin against."""
    today = as_of.toordinal() - EPOCH
    params = {
        "today": today,
        "d90": today - 89,
        "d60": today - 59,
        "d30": today - 29,
        "d28": today - 27,
        "d14": today - 13,
    }
    conn = sqlite3.connect(path)
    try:
        conn.execute(GROUPS, params)
        conn.execute(CORE)
        conn.execute("CREATE INDEX temp.core_key ON core (account_id, feature)")
        conn.execute(PER_ACCOUNT, params)
        figures: dict[str, dict[str, object]] = {}
        for row in conn.execute("SELECT * FROM per_account"):
            figures[row[0]] = {"users14": row[4], "users30": row[5], "teams30": row[6]}
        for account_id, feature, users30, users14, prev14 in conn.execute(PER_FEATURE, params):
            figures[account_id][f"feature:{feature}"] = (users30, users14, prev14)
        for account_id, top, total in conn.execute(TOP_TWO, params):
            figures[account_id]["top_two"] = (top, total)
        ranks = ",\n       ".join(f"{_rank(c)} AS {c}_pctl" for c in RANKED)
        for row in conn.execute(PERCENTILES.format(ranks=ranks)):
            figures[row[0]]["pctl"] = row[1:]
        return figures
    finally:
        conn.close()
