"""The demo's synthetic book of business and the hidden health that drives it.

Every account has a ``health`` between 0 and 1 that no scorer ever reads. It moves a
little each week, falls for the accounts that start to decline and after shocks (a
sponsor leaving, layoffs, an acquisition), and rises when a simulated CSM's work
pays off. Usage, contacts, tickets and success plans are drawn from it, and so is
the renewal outcome: the signals telltales computes can only predict churn as well
as the behaviour they read reflects this number.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

REGIONS = ("na", "emea", "apac")
SEGMENTS = ("smb", "mid-market", "enterprise")
GROUPS: tuple[tuple[str, str, str], ...] = (
    ("na-enterprise", "NA", "enterprise"),
    ("na-midmarket", "NA", "mid-market"),
    ("na-smb", "NA", "smb"),
    ("emea-enterprise", "EMEA", "enterprise"),
    ("emea-midmarket", "EMEA", "mid-market"),
    ("emea-smb", "EMEA", "smb"),
    ("apac-midmarket", "APAC", "mid-market"),
    ("apac-smb", "APAC", "smb"),
)
"""Eight CSM groups: (group, region, segment)."""

SEGMENT_SHARE = {"smb": 0.55, "mid-market": 0.35, "enterprise": 0.10}
PLANS = {"smb": "team", "mid-market": "business", "enterprise": "enterprise"}
NEW_SHARE = 0.08
"""The share of the book that becomes a customer during the replayed period."""
SEATS = {"smb": (4, 10), "mid-market": (10, 30), "enterprise": (30, 80)}
ARR_PER_SEAT = {"smb": 600.0, "mid-market": 900.0, "enterprise": 1400.0}
BOOK_SIZE = {"smb": 90, "mid-market": 45, "enterprise": 18}
"""Accounts per CSM in each segment: how many owners a group gets."""

FEATURES = (
    "alerts",
    "api",
    "audit",
    "dashboards",
    "exports",
    "reporting",
    "sharing",
    "templates",
    "workflows",
)
TEAMS = ("finance", "operations", "sales", "support", "engineering", "marketing", "legal")
INDUSTRIES = (
    "logistics",
    "healthcare",
    "retail",
    "manufacturing",
    "financial services",
    "software",
    "education",
)
NAME_PARTS = (
    ("North", "Blue", "Iron", "Silver", "Cedar", "Harbor", "Summit", "Red", "Clear", "Bright"),
    ("wind", "peak", "field", "stone", "line", "gate", "works", "bridge", "brook", "point"),
    ("Logistics", "Health", "Retail", "Industries", "Capital", "Systems", "Labs", "Group"),
)
FIRST_NAMES = ("Ana", "Ben", "Chen", "Dana", "Emeka", "Farah", "Gita", "Hugo", "Ines", "Jon")
LAST_NAMES = ("Adler", "Baker", "Costa", "Dube", "Eriksen", "Fischer", "Garcia", "Haddad")


@dataclass
class Person:
    """A customer contact: the sponsor or the champion of an account."""

    contact_id: str
    name: str
    role: str
    """``executive_sponsor`` or ``champion``."""
    since: date


@dataclass
class DemoAccount:
    """One account of the book, with the state the simulation keeps and hides."""

    account_id: str
    name: str
    csm_group: str
    region: str
    segment: str
    owner: str
    industry: str
    employees: int
    seats: int
    arr: float
    core_features: tuple[str, ...]
    other_features: tuple[str, ...]
    renewal_date: date
    customer_since: date
    """The first day as a customer: accounts new in the period start mid-year."""
    discount: float
    """The discount (percent) on the list price of the term in force."""
    monthly: bool
    """Billed each month (ARR given as MRR), else each year."""
    health: float
    """Hidden: 0 (about to leave) to 1 (thriving). No scorer reads it."""
    decline_from: date | None
    """The day a slow decline starts, for the accounts that have one."""
    users: list[tuple[str, str, float, str]]
    """(user id, team, how often they use the product: expected active days a week, the
    core feature they mostly work in)."""
    power_user: bool
    """Whether one person carries most of the usage (set while health is low)."""
    sponsor: Person
    champion: Person
    recovery: list[float] = field(default_factory=list)
    """Health still to be gained, one entry per week to come (a CSM's work pays off
    gradually)."""
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    """Success-plan outcomes planned and not yet due, as last sent."""
    dormant: set[int] = field(default_factory=set)
    """Users (by index) who stopped using their seat; sticky, so one week's noise in
    health does not switch a user off and on again."""
    churned_on: date | None = None
    people_seq: int = 0


def _name(rng: random.Random) -> str:
    first, second, third = (rng.choice(part) for part in NAME_PARTS)
    return f"{first}{second} {third}"


def new_person(rng: random.Random, account: str, seq: int, role: str, since: date) -> Person:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return Person(f"{account}-p{seq}", f"{first} {last}", role, since)


def _owners(counts: dict[str, int]) -> dict[str, list[str]]:
    """Each group's CSMs, enough for a book of BOOK_SIZE accounts each."""
    owners: dict[str, list[str]] = {}
    for group, _region, segment in GROUPS:
        needed = max(1, math.ceil(counts.get(group, 0) / BOOK_SIZE[segment]))
        owners[group] = [f"csm{n + 1}.{group}@vendor.example" for n in range(needed)]
    return owners


def _group_for(rng: random.Random) -> tuple[str, str, str]:
    pick = rng.random()
    for segment in SEGMENTS:
        if pick < SEGMENT_SHARE[segment]:
            break
        pick -= SEGMENT_SHARE[segment]
    choices = [g for g in GROUPS if g[2] == segment]
    return rng.choice(choices)


def make_book(rng: random.Random, count: int, first_day: date, last_day: date) -> list[DemoAccount]:
    """``count`` accounts whose renewals fall between the first replayed day and the last.

    ``first_day`` is the first day of usage; renewals are spread over the replayed part
    of the period (after the warm-up the engine needs for its 90-day windows).
    """
    drawn = [(n, _group_for(rng)) for n in range(count)]
    counts: dict[str, int] = {}
    for _n, (group, _region, _segment) in drawn:
        counts[group] = counts.get(group, 0) + 1
    owners = _owners(counts)
    renewals_from = min(first_day + timedelta(days=120), last_day)
    span = max(1, (last_day - renewals_from).days)
    # New customers start on a Monday of the replayed period, at least a month before
    # its end: they have days before they existed, which no window may read.
    starts = [
        first_day + timedelta(days=7 * w) for w in range(14, (last_day - first_day).days // 7 - 4)
    ]
    book = []
    for n, (group, region, segment) in drawn:
        account_id = f"acct-{n:05d}"
        low, high = SEATS[segment]
        seats = rng.randint(low, high)
        health = min(0.97, max(0.05, rng.betavariate(5, 2)))
        declines = rng.random() < 0.3
        decline_from = (
            first_day + timedelta(days=rng.randint(60, max(61, span))) if declines else None
        )
        assigned = max(2, round(seats * min(1.0, 0.55 + 0.45 * health)))
        features = list(FEATURES)
        rng.shuffle(features)
        core = tuple(sorted(features[: rng.randint(2, 3) if segment == "smb" else 4]))
        others = tuple(sorted(features[5:7]))
        teams = rng.randint(2, len(TEAMS))
        users = [
            (
                f"u{u:03d}@{account_id}.example",
                TEAMS[u % teams],
                rng.lognormvariate(0.55, 0.35),
                core[u % len(core)],
            )
            for u in range(assigned)
        ]
        since = first_day - timedelta(days=rng.randint(30, 700))
        renewal = renewals_from + timedelta(days=rng.randrange(span))
        if starts and rng.random() < NEW_SHARE:
            since = rng.choice(starts)
            renewal = since + timedelta(days=365)
        book.append(
            DemoAccount(
                account_id=account_id,
                name=_name(rng),
                csm_group=group,
                region=region,
                segment=segment,
                owner=owners[group][n % len(owners[group])],
                industry=rng.choice(INDUSTRIES),
                employees=round(seats * rng.uniform(8, 40)),
                seats=seats,
                arr=round(seats * ARR_PER_SEAT[segment] * rng.uniform(0.85, 1.15), -2),
                core_features=core,
                other_features=others,
                renewal_date=renewal,
                customer_since=since,
                discount=round(rng.uniform(0, 15), 1) if rng.random() < 0.4 else 0.0,
                monthly=segment == "smb" and rng.random() < 0.5,
                health=health,
                decline_from=decline_from,
                users=users,
                power_user=False,
                sponsor=new_person(rng, account_id, 1, "executive_sponsor", since),
                champion=new_person(rng, account_id, 2, "champion", since),
                people_seq=2,
            )
        )
    return book


def churn_probability(health: float) -> float:
    """The chance an account leaves at renewal, from its hidden health.

    About 80% at health 0.2, even at 0.35, 10% at 0.5, 1% at 0.7. On top of it a flat
    3% leave for reasons no signal shows (a budget cut, a new CFO).
    """
    return 0.03 + 0.97 / (1 + math.exp(12 * (health - 0.35)))
