"""What the accounts of the demo do in a week, drawn from their hidden health.

Some of it follows health and so predicts churn: seats going dormant, core-feature
use giving way while logins hold, one power user carrying the account, high-priority
ticket spikes, sponsors leaving, success-plan outcomes missed. Some of it does not:
the CSM's own touch cadence, ordinary tickets, headcount drift, leadership news. A
few events hit health from outside (layoffs, an acquisition, a sponsor leaving).
Records come out as the plugins' ingesters take them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from telltales.demo.world import DemoAccount, Person, new_person

Record = dict[str, Any]


@dataclass
class WeekRecords:
    """One week's records, by ingester name; usage rows as plain tuples for speed."""

    usage: list[tuple[str, str, str, date, str, int, int]] = field(default_factory=list)
    """(account_id, user_id, feature, day, team, events, logins)."""
    by_ingester: dict[str, list[Record]] = field(default_factory=dict)

    def add(self, ingester: str, record: Record) -> None:
        self.by_ingester.setdefault(ingester, []).append(record)


WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.9, 0.15, 0.1)
CADENCE_DAYS = {"enterprise": 14, "mid-market": 30, "smb": 60}
NEWS_WEEKLY = 0.0012
"""The chance an account is in the news in a given week."""
NEWS_KINDS: tuple[tuple[str, float, float], ...] = (
    ("layoffs", 0.30, -0.12),
    ("acquired", 0.15, -0.15),
    ("acquirer", 0.15, 0.0),
    ("leadership_change", 0.25, 0.0),
    ("merger", 0.10, -0.05),
    ("industry_disruption", 0.05, -0.05),
)
"""(kind, share of news, effect on health): leadership news changes nothing here."""


def evolve(account: DemoAccount, rng: random.Random, week_start: date) -> None:
    """Move the hidden health one week: drift, the slow decline, a CSM's work paying off."""
    change = rng.gauss(0.0, 0.015) + 0.01 * (0.62 - account.health)
    if account.decline_from is not None and week_start >= account.decline_from:
        change -= 0.014
        if rng.random() < 0.015:
            account.decline_from = None  # the customer sorted it out on their own
    if account.recovery:
        change += account.recovery.pop(0)
    elif account.health < 0.45 and rng.random() < 0.015:
        account.recovery = [0.025] * 5  # fixed without anyone from the vendor
    account.health = min(0.98, max(0.02, account.health + change))
    account.power_user = account.health < 0.38


def _active_days(rng: random.Random, rate: float) -> list[int]:
    """Weekdays (0..6) a user was active, for ``rate`` expected active days."""
    # Poisson draw by inverse transform: one random number per user-week.
    pick, k, term = rng.random(), 0, math.exp(-rate)
    total = term
    while pick > total and k < 7:
        k += 1
        term *= rate / k
        total += term
    if k == 0:
        return []
    if k >= 7:
        return list(range(7))
    return sorted(rng.choices(range(7), weights=WEEKDAY_WEIGHTS, k=k))


def usage_week(
    account: DemoAccount, rng: random.Random, week_start: date, rows: WeekRecords
) -> None:
    """Each user's active days, feature by feature, from the account's health."""
    health = account.health
    active_share = 0.3 + 0.8 * health
    core_share = 0.92 * min(1.0, health / 0.55)
    engagement = 0.35 + 0.65 * health
    count = len(account.users)
    for index, (user, team, rate, primary) in enumerate(account.users):
        place = index / count
        if place > active_share + 0.05:
            account.dormant.add(index)  # the seat is assigned and unused
        elif place < active_share - 0.05:
            account.dormant.discard(index)
        if index in account.dormant:
            continue
        user_rate = rate * engagement
        power = account.power_user and index == 0
        if account.power_user:
            user_rate = min(6.0, user_rate * 3) if power else user_rate * 0.5
        for weekday in sorted(set(_active_days(rng, user_rate))):
            day = week_start + timedelta(days=weekday)
            scale = 8 if power else 1
            # Healthy users work in their core feature; as health falls they drift away.
            feature = primary if rng.random() < core_share else rng.choice(account.other_features)
            rows.usage.append(
                (account.account_id, user, feature, day, team, scale * rng.randint(1, 12), 1)
            )
            if power and rng.random() < 0.5:
                extra = rng.choice(account.core_features)
                if extra != feature:
                    rows.usage.append(
                        (account.account_id, user, extra, day, team, scale * rng.randint(1, 8), 0)
                    )


def person_record(account: DemoAccount, person: Person, status: str, day: date) -> Record:
    return {
        "contact_id": person.contact_id,
        "account_id": account.account_id,
        "as_of": day.isoformat(),
        "name": person.name,
        "email": f"{person.name.lower().replace(' ', '.')}@{account.account_id}.example",
        "roles": [person.role],
        "status": status,
    }


def first_records(account: DemoAccount, rng: random.Random, day: date, rows: WeekRecords) -> None:
    """What is known of an account on the first day: people and a firmographics snapshot."""
    for person in (account.sponsor, account.champion):
        rows.add("contacts.people", person_record(account, person, "active", day))
    rows.add("firmographics.snapshots", _snapshot(account, day))
    if account.segment != "smb" or rng.random() < 0.3:
        _plan_outcomes(account, rng, day, rows)


def _snapshot(account: DemoAccount, day: date) -> Record:
    return {
        "account_id": account.account_id,
        "as_of": day.isoformat(),
        "employee_count": account.employees,
        "industry": account.industry,
        "region": account.region,
        "products": ["core"] if account.segment == "smb" else ["core", "analytics"],
        "source": "demo",
    }


def _plan_outcomes(account: DemoAccount, rng: random.Random, day: date, rows: WeekRecords) -> None:
    for n in range(rng.randint(1, 3)):
        due = day + timedelta(days=rng.randint(45, 240))
        outcome: Record = {
            "outcome_id": f"{account.account_id}-o{day.isoformat()}-{n}",
            "account_id": account.account_id,
            "title": f"Outcome {n + 1}: {rng.choice(account.core_features)} rolled out",
            "planned_on": day.isoformat(),
            "due": due.isoformat(),
            "status": "planned",
            "metric": "teams using it weekly",
        }
        account.outcomes.append(outcome)
        rows.add("engagement.outcomes", outcome)


def people_week(
    account: DemoAccount, rng: random.Random, week_start: date, rows: WeekRecords
) -> None:
    """Sponsors and champions leave more often from unhealthy accounts; leaving hurts."""
    weakness = (1 - account.health) ** 2
    for role in ("executive_sponsor", "champion"):
        if rng.random() < 0.0015 + 0.012 * weakness:
            person = account.sponsor if role == "executive_sponsor" else account.champion
            day = week_start + timedelta(days=rng.randrange(5))
            rows.add("contacts.people", person_record(account, person, "left", day))
            account.health = max(
                0.02, account.health - (0.10 if role == "executive_sponsor" else 0.05)
            )
            account.people_seq += 1
            successor_day = day + timedelta(days=rng.randint(14, 60))
            successor = new_person(rng, account.account_id, account.people_seq, role, successor_day)
            if role == "executive_sponsor":
                account.sponsor = successor
            else:
                account.champion = successor
            rows.add("contacts.people", person_record(account, successor, "active", successor_day))


def tickets_week(
    account: DemoAccount, rng: random.Random, week_start: date, rows: WeekRecords
) -> None:
    """Ordinary tickets scale with seats, not health; high-priority ones spike when unhealthy."""
    ordinary = account.seats / 120
    urgent = 0.04 + 1.6 * (1 - account.health) ** 3
    if rng.random() < 0.004:
        urgent += 3.0  # a bad release hits a healthy account too
    for priority, rate in (("normal", ordinary), ("high", urgent)):
        for n in range(_poisson(rng, rate)):
            opened = datetime.combine(
                week_start + timedelta(days=rng.randrange(7)), time(rng.randint(7, 19)), tzinfo=UTC
            )
            closed = opened + timedelta(hours=rng.uniform(2, 120))
            rows.add(
                "support.tickets",
                {
                    "ticket_id": f"{account.account_id}-{week_start.isoformat()}-{priority[0]}{n}",
                    "account_id": account.account_id,
                    "priority": priority,
                    "opened_at": opened.isoformat(),
                    "closed_at": closed.isoformat(),
                    "subject": f"{rng.choice(account.core_features)}: {priority} issue",
                    "status": "solved",
                },
            )


def _poisson(rng: random.Random, rate: float) -> int:
    pick, k, term = rng.random(), 0, math.exp(-rate)
    total = term
    while pick > total and k < 50:
        k += 1
        term *= rate / k
        total += term
    return k


def engagement_week(
    account: DemoAccount, rng: random.Random, week_start: date, rows: WeekRecords
) -> None:
    """The CSM's routine touches (on cadence, whatever the health) and sponsor meetings."""
    cadence = CADENCE_DAYS[account.segment]
    if rng.random() < 7 / cadence:
        day = week_start + timedelta(days=rng.randrange(5))
        kind = rng.choice(("call", "email", "meeting", "value_review", "business_review"))
        rows.add(
            "engagement.activities",
            {
                "activity_id": f"{account.account_id}-a{day.isoformat()}",
                "account_id": account.account_id,
                "day": day.isoformat(),
                "kind": kind,
                "by": account.owner,
                "summary": f"Routine {kind.replace('_', ' ')}",
            },
        )
        if kind in ("meeting", "value_review", "business_review") and rng.random() < account.health:
            rows.add(
                "contacts.meetings",
                {
                    "meeting_id": f"{account.account_id}-m{day.isoformat()}",
                    "account_id": account.account_id,
                    "day": day.isoformat(),
                    "kind": kind,
                    "contact_ids": [account.sponsor.contact_id],
                },
            )


def outcomes_week(
    account: DemoAccount, rng: random.Random, week_start: date, rows: WeekRecords
) -> None:
    """Outcomes due this week are verified or missed, mostly by health; a quarter's start
    brings new ones for mid-market and enterprise accounts."""
    waiting = []
    end = week_start + timedelta(days=6)
    for outcome in account.outcomes:
        due = date.fromisoformat(outcome["due"])
        if due > end:
            waiting.append(outcome)
            continue
        verified = rng.random() < 0.15 + 0.8 * account.health
        update = {**outcome, "status": "verified" if verified else "missed"}
        if verified:
            update["verified_on"] = min(due, end).isoformat()
        rows.add("engagement.outcomes", update)
    account.outcomes = waiting
    if week_start.day <= 7 and week_start.month % 3 == 1 and account.segment != "smb":
        _plan_outcomes(account, rng, week_start, rows)


def _news_kind(pick: float) -> tuple[str, float]:
    """The kind of news a uniform draw falls on, and its effect on health."""
    for kind, share, effect in NEWS_KINDS:
        if pick < share:
            return kind, effect
        pick -= share
    kind, _, effect = NEWS_KINDS[-1]
    return kind, effect


def news_week(
    account: DemoAccount, rng: random.Random, week_start: date, rows: WeekRecords
) -> None:
    if rng.random() >= NEWS_WEEKLY:
        return
    kind, effect = _news_kind(rng.random())
    day = week_start + timedelta(days=rng.randrange(7))
    rows.add(
        "news.items",
        {
            "item_id": f"{account.account_id}-n{day.isoformat()}",
            "account_id": account.account_id,
            "kind": kind,
            "day": day.isoformat(),
            "headline": f"{account.name}: {kind.replace('_', ' ')}",
            "url": f"https://news.example/{account.account_id}/{day.isoformat()}",
            "source": "Demo Wire",
            "severity": round(rng.uniform(0.4, 1.0), 2),
        },
    )
    if effect and rng.random() < 0.6:
        account.health = max(0.02, account.health + effect)
    if kind == "layoffs":
        account.employees = round(account.employees * rng.uniform(0.75, 0.92))


def quarterly_snapshot(
    account: DemoAccount, rng: random.Random, week_start: date, rows: WeekRecords
) -> None:
    """A firmographics refresh each quarter: headcount drifts, unrelated to health."""
    if week_start.day <= 7 and week_start.month % 3 == 1:
        account.employees = max(10, round(account.employees * rng.uniform(0.96, 1.08)))
        rows.add("firmographics.snapshots", _snapshot(account, week_start))


def weeks(first: date, last: date) -> Iterator[date]:
    """Week starts from ``first`` while the week ends on or before ``last``."""
    start = first
    while start + timedelta(days=6) <= last:
        yield start
        start += timedelta(days=7)
