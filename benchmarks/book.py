"""A synthetic book of business for the benchmarks: accounts and 90 days of usage.

Each account has a hidden health that decides how many of its seats are used, how
often, and whether core-feature use decays over the period; some accounts lean on
one power user. The generator is deterministic for a seed and yields rows in the
usage table's key order (account, user, feature, day), so loading twenty million
rows is a sequential write.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from telltales.demo.world import FEATURES

SEGMENTS = (("smb", 0.55, 5, 40), ("mid-market", 0.35, 40, 250), ("enterprise", 0.10, 250, 900))
TEAMS = ("finance", "operations", "sales", "support", "engineering", "marketing")
AS_OF = date(2026, 11, 20)
DAYS = 90


@dataclass(frozen=True, slots=True)
class BookAccount:
    account_id: str
    segment: str
    seats_purchased: int
    seats_assigned: int
    core_features: tuple[str, ...]
    health: float
    """Hidden from the scorer: 0 (churning) .. 1 (thriving)."""
    users: int


def _segment(pick: float) -> tuple[str, int, int]:
    """The segment a uniform draw falls in, with its range of seats."""
    for segment, share, low, high in SEGMENTS:
        if pick < share:
            return segment, low, high
        pick -= share
    segment, _, low, high = SEGMENTS[-1]
    return segment, low, high


def accounts(count: int, seed: int = 7) -> list[BookAccount]:
    rng = random.Random(seed)
    made = []
    for n in range(count):
        segment, low, high = _segment(rng.random())
        seats = rng.randint(low, high)
        health = rng.betavariate(4, 2)
        assigned = max(1, round(seats * min(1.0, 0.3 + 0.8 * health)))
        made.append(
            BookAccount(
                account_id=f"acct-{n:06d}",
                segment=segment,
                seats_purchased=seats,
                seats_assigned=assigned,
                core_features=tuple(sorted(rng.sample(FEATURES, rng.randint(3, 5)))),
                health=health,
                users=assigned,
            )
        )
    return made


def account_records(book: list[BookAccount]) -> list[dict[str, object]]:
    """The accounts as `accounts` ingester records."""
    renewal = AS_OF + timedelta(days=30)
    return [
        {
            "account_id": a.account_id,
            "name": f"Account {a.account_id[5:]}",
            "csm_group": f"group-{int(a.account_id[5:]) % 8}",
            "segment": a.segment,
            "arr": float(a.seats_purchased * 400),
            "seats_purchased": a.seats_purchased,
            "seats_assigned": a.seats_assigned,
            "core_features": list(a.core_features),
            "renewal_date": (renewal + timedelta(days=int(a.account_id[5:]) % 365)).isoformat(),
        }
        for a in book
    ]


def usage_rows(
    book: list[BookAccount], rows_wanted: int, seed: int = 11
) -> Iterator[tuple[str, str, str, int, str, int, int]]:
    """Rows ``(account_id, user_id, feature, day_number, team, events, logins)``.

    About ``rows_wanted`` in all, in key order. Day numbers are days since 1970-01-01.
    """
    rng = random.Random(seed)
    first = (AS_OF - timedelta(days=DAYS - 1)).toordinal() - date(1970, 1, 1).toordinal()
    # Expected rows of an account: active users x features each x active days each.
    weights = [a.users * (0.2 + a.health) for a in book]
    scale = rows_wanted / sum(weights)
    for account, weight in zip(book, weights, strict=True):
        budget = weight * scale
        users = max(1, min(account.users, round(budget / 20) or 1))
        per_user = budget / users
        power = account.health < 0.35 and rng.random() < 0.5
        declining = account.health < 0.45
        for u in range(users):
            user = f"u{u:04d}"
            team = TEAMS[u % (1 + round(account.health * 5))]
            features = sorted(rng.sample(FEATURES, 3))
            logins_feature = features[0]
            days_each = per_user / 3
            if power:
                days_each *= 4 if u == 0 else 0.5
            for feature in features:
                k = min(DAYS, max(0, round(days_each * (0.5 + rng.random()))))
                chosen = sorted(rng.sample(range(DAYS), k))
                if declining and feature in account.core_features:
                    chosen = [d for d in chosen if rng.random() < 1.1 - d / DAYS]
                for d in chosen:
                    yield (
                        account.account_id,
                        user,
                        feature,
                        first + d,
                        team,
                        1 + (d * 7 + u) % 23,
                        1 if feature == logins_feature else 0,
                    )
