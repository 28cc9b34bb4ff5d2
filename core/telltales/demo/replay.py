"""Build the demo database: generate the book week by week and replay it through telltales.

The first 13 weeks only generate data (the engine's longest window is 90 days). From
then on, each simulated week is ingested through the plugins' ingesters and the
engine runs for its last day with the demo's rules and playbooks, exactly as
``telltales run --as-of`` would, one pilot covering one CSM group with a hold-out.
Simulated CSMs then work the tasks the pilot's playbooks gave them, renewals due that
week are decided from each account's hidden health and recorded, and the next week
is drawn from the health as it now stands.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from telltales.demo.behaviour import (
    WeekRecords,
    engagement_week,
    evolve,
    first_records,
    news_week,
    outcomes_week,
    people_week,
    quarterly_snapshot,
    tickets_week,
    usage_week,
    weeks,
)
from telltales.demo.csms import CsmTeam
from telltales.demo.world import DemoAccount, churn_probability, make_book
from telltales.engine import pipeline
from telltales.errors import InputError
from telltales.outcomes.renewals import RenewalOutcome, record_renewals
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.playbooks.plan import Plan
from telltales.plugins import Registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store

WARM_UP_DAYS = 91
"""Days of data before the first run: the engine's longest window is 90 days."""
PILOT_ID = "emea-midmarket-pilot"
PILOT_GROUP = "emea-midmarket"
PILOT_HOLDOUT = 0.3
RECORDED_BY = "demo (simulated CRM)"
INGEST_ORDER = (
    "contacts.people",
    "contacts.meetings",
    "firmographics.snapshots",
    "news.items",
    "support.tickets",
    "engagement.activities",
    "engagement.outcomes",
)
"""The plugins' record types the demo writes, besides accounts and usage."""
NEEDED = ("telemetry.usage", *INGEST_ORDER)


@dataclass(frozen=True)
class DemoOptions:
    accounts: int = 2000
    days: int = 400
    seed: int = 7
    end: date = date(2026, 11, 20)


@dataclass
class DemoResult:
    """What the build did, for the summary."""

    first_day: date
    first_run: date
    """The first day the engine ran for (the metrics' period starts here)."""
    end: date
    runs: int
    usage_rows: int
    records: int
    tasks_completed: int
    tasks_dismissed: int
    renewals: int
    churned: int
    book: list[DemoAccount]


Progress = Callable[[int, int, str], None]
"""(weeks done, weeks in all, what is happening)."""


def account_record(account: DemoAccount) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "name": account.name,
        "owner": account.owner,
        "csm_group": account.csm_group,
        "segment": account.segment,
        "industry": account.industry,
        "employee_count": account.employees,
        "arr": account.arr,
        "seats_purchased": account.seats,
        "seats_assigned": len(account.users),
        "products": ["core"] if account.segment == "smb" else ["core", "analytics"],
        "lifecycle_stage": "adoption",
        "renewal_date": account.renewal_date.isoformat(),
        "core_features": list(account.core_features),
    }


def check_plugins(registry: Registry) -> None:
    """The demo writes every built-in plugin's records: say which are missing."""
    missing = [name for name in NEEDED if name not in registry.ingesters]
    if missing:
        raise InputError(
            "the demo needs the built-in plugins' record types "
            f"{', '.join(missing)}: install telltales with its plugins (python3 dev.py demo)"
        )


def build(
    store: Store,
    registry: Registry,
    plan: Plan,
    options: DemoOptions,
    *,
    source_settings: dict[str, Any],
    scorer_settings: dict[str, Any],
    progress: Progress | None = None,
) -> DemoResult:
    """Generate and replay the whole demo into ``store`` (a new, empty database)."""
    check_plugins(registry)
    rng = random.Random(options.seed)
    # Whole weeks, the last one ending on the last day.
    first_day = options.end - timedelta(days=7 * (options.days // 7) - 1)
    book = make_book(rng, options.accounts, first_day, options.end)
    accounts = {a.account_id: a for a in book}
    _ingest(store, registry, "accounts", [account_record(a) for a in book])
    all_weeks = list(weeks(first_day, options.end))
    first_run = first_day + timedelta(days=WARM_UP_DAYS - 1)
    run_weeks = [w for w in all_weeks if w + timedelta(days=6) >= first_run]
    if run_weeks:
        create_pilot(
            store,
            plan,
            NewPilot(
                pilot_id=PILOT_ID,
                csm_groups=[PILOT_GROUP],
                rules=sorted(plan.rules),
                playbooks=sorted(plan.playbooks),
                starts_on=run_weeks[0],
                holdout_share=PILOT_HOLDOUT,
                description="Live playbooks for EMEA mid-market, 30% held out as control",
            ),
            by="ops@vendor.example",
        )
    team = CsmTeam(rng)
    end_moment = datetime.combine(options.end, time(23, 59), tzinfo=UTC)
    first_run_day = run_weeks[0] + timedelta(days=6) if run_weeks else options.end
    result = DemoResult(first_day, first_run_day, options.end, 0, 0, 0, 0, 0, 0, 0, book)
    pending = WeekRecords()
    for account in book:
        first_records(account, rng, first_day, pending)
    for number, week_start in enumerate(all_weeks):
        week_end = week_start + timedelta(days=6)
        live = [a for a in book if a.churned_on is None]
        for account in live:
            evolve(account, rng, week_start)
            usage_week(account, rng, week_start, pending)
            people_week(account, rng, week_start, pending)
            tickets_week(account, rng, week_start, pending)
            engagement_week(account, rng, week_start, pending)
            outcomes_week(account, rng, week_start, pending)
            news_week(account, rng, week_start, pending)
            quarterly_snapshot(account, rng, week_start, pending)
        _store_week(store, registry, pending, result)
        pending = WeekRecords()
        if week_start not in run_weeks:
            if progress:
                progress(number + 1, len(all_weeks), f"generating {week_end}")
            continue
        pipeline.run(
            store,
            registry,
            week_end,
            settings=source_settings,
            scorer_settings=scorer_settings,
            account_ids=[a.account_id for a in live],
            plan=plan,
            now=datetime.combine(week_end, time(18), tzinfo=UTC),
        )
        result.runs += 1
        for work in team.work_new_tasks(store, accounts, end_moment, pending):
            if work.done:
                result.tasks_completed += 1
            else:
                result.tasks_dismissed += 1
        _renew(
            store,
            registry,
            rng,
            [a for a in live if week_start <= a.renewal_date <= week_end],
            result,
        )
        if progress:
            progress(number + 1, len(all_weeks), f"replayed {week_end}")
    return result


def _ingest(store: Store, registry: Registry, name: str, objects: list[Any]) -> int:
    return ingest(store, registry, name, convert_records(registry, name, objects)).stored


def _store_week(store: Store, registry: Registry, week: WeekRecords, result: DemoResult) -> None:
    for name in INGEST_ORDER:
        records = week.by_ingester.get(name)
        if records:
            result.records += _ingest(store, registry, name, records)
    if week.usage:
        # Usage rows are built as the plugin's record type directly rather than decoded
        # from dicts: the generator's values are valid by construction, and these are
        # most of the rows the demo writes. They still go through the plugin's ingester.
        usage_type = registry.ingesters["telemetry.usage"].obj.record_type
        rows = [
            usage_type(account_id=a, user_id=u, feature=f, day=d, team=t, events=e, logins=n)
            for a, u, f, d, t, e, n in week.usage
        ]
        result.usage_rows += ingest(store, registry, "telemetry.usage", rows).stored


def _renew(
    store: Store,
    registry: Registry,
    rng: random.Random,
    due: list[DemoAccount],
    result: DemoResult,
) -> None:
    """Decide this week's renewals from hidden health and record them as a CRM would."""
    if not due:
        return
    outcomes = []
    for account in due:
        health = account.health
        if rng.random() < churn_probability(health):
            outcomes.append(
                RenewalOutcome(
                    account_id=account.account_id,
                    renewal_date=account.renewal_date,
                    arr_before=account.arr,
                    arr_after=0.0,
                    outcome="churned",
                )
            )
            account.churned_on = account.renewal_date
            result.churned += 1
            continue
        if health > 0.7:
            change = rng.uniform(1.0, 1.3) if rng.random() < 0.5 else 1.0
        elif health > 0.45:
            change = rng.uniform(0.9, 1.05)
        else:
            change = rng.uniform(0.65, 0.95)
        discount = 0.0
        if health < 0.5 and rng.random() < 0.7:
            discount = round(rng.uniform(5, 25), 1)
        elif rng.random() < 0.15:
            discount = round(rng.uniform(1, 10), 1)
        after = round(account.arr * change, -2)
        outcomes.append(
            RenewalOutcome(
                account_id=account.account_id,
                renewal_date=account.renewal_date,
                arr_before=account.arr,
                arr_after=after,
                outcome="renewed",
                discount_percent=discount,
            )
        )
        account.arr = after
        account.renewal_date = account.renewal_date + timedelta(days=365)
    record_renewals(store, outcomes, source="import", by=RECORDED_BY)
    result.renewals += len(outcomes)
    renewed = [a for a in due if a.churned_on is None]
    if renewed:
        _ingest(store, registry, "accounts", [account_record(a) for a in renewed])
