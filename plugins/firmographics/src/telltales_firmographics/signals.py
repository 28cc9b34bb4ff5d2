"""The ``firmographics`` signal source: ICP fit, headcount change and products owned.

Every signal reads the latest snapshot on or before the run day, so a replay of past
days never sees a snapshot from its future. A snapshot older than
``stale_after_days`` gives no signal: a stale profile read as a fit would be
missing data passed off as healthy.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import msgspec
from telltales import BATCH_TABLE, DataDays, Freshness, Signal, SignalBatch, SignalSpec

from .icp import criteria, fit
from .settings import Settings

ICP_FIT = "firmographics.icp_fit"
EMPLOYEE_CHANGE = "firmographics.employee_change_180d"
PRODUCTS_OWNED = "firmographics.products_owned"

# CROSS JOIN makes SQLite drive from the batch (a primary-key search per account)
# rather than scan every snapshot ever stored when the batch is a handful of accounts.
_LATEST = f"""
    SELECT s.account_id, s.as_of, s.employee_count, s.industry, s.region, s.products
    FROM {BATCH_TABLE} b
    CROSS JOIN firmographics_snapshots s
        ON s.account_id = b.account_id
        AND s.as_of = (
            SELECT max(x.as_of) FROM firmographics_snapshots x
            WHERE x.account_id = b.account_id AND x.as_of <= :day
        )
    WHERE s.as_of >= :fresh_since
"""

# The latest snapshot that reports a headcount, and the latest one with a headcount at
# least :min_days older. An earlier count of 0 has no relative change, so no pair.
_HEADCOUNT_PAIRS = f"""
    WITH latest AS (
        SELECT s.account_id, max(s.as_of) AS as_of
        FROM {BATCH_TABLE} b
        CROSS JOIN firmographics_snapshots s ON s.account_id = b.account_id
        WHERE s.as_of <= :day AND s.employee_count IS NOT NULL
        GROUP BY s.account_id
    ),
    earlier AS (
        SELECT l.account_id, l.as_of AS latest_day, max(s.as_of) AS earlier_day
        FROM latest l
        JOIN firmographics_snapshots s ON s.account_id = l.account_id
        WHERE l.as_of >= :fresh_since
          AND s.employee_count IS NOT NULL
          AND s.as_of <= date(l.as_of, '-' || :min_days || ' days')
        GROUP BY l.account_id
    )
    SELECT e.account_id, e.earlier_day, p.employee_count, e.latest_day, n.employee_count
    FROM earlier e
    JOIN firmographics_snapshots p ON p.account_id = e.account_id AND p.as_of = e.earlier_day
    JOIN firmographics_snapshots n ON n.account_id = e.account_id AND n.as_of = e.latest_day
    WHERE p.employee_count > 0
"""


class FirmographicsSource:
    """Fit of each account against the configured ICP, from its snapshot history."""

    name = "firmographics"
    freshness = Freshness(tables=(DataDays(table="firmographics_snapshots", day_column="as_of"),))
    """Snapshots come when a provider has news: never stale by default."""
    settings_type = Settings
    signals = (
        SignalSpec(
            key=ICP_FIT,
            dimension="fit",
            description="weighted share of the ICP criteria the latest snapshot meets (0..1)",
        ),
        SignalSpec(
            key=EMPLOYEE_CHANGE,
            dimension="current_state",
            description=(
                "relative change of employee count against a snapshot at least "
                "employee_change_min_days (180) days older (fraction, -0.12 = 12% fewer)"
            ),
        ),
        SignalSpec(
            key=PRODUCTS_OWNED,
            dimension="fit",
            description="our products the account owns per the latest snapshot (count)",
        ),
    )

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        settings: Settings = batch.settings
        day = batch.as_of
        params = {
            "day": day.isoformat(),
            "fresh_since": (day - timedelta(days=settings.stale_after_days)).isoformat(),
            "min_days": settings.employee_change_min_days,
        }
        for account_id, as_of, employees, industry, region, products_json in batch.db.execute(
            _LATEST, params
        ):
            snapshot_day = date.fromisoformat(as_of)
            products = msgspec.json.decode(products_json, type=list[str])
            counted = criteria(
                settings,
                industry=industry,
                region=region,
                employee_count=employees,
                products=products,
            )
            share, evidence = fit(snapshot_day, counted)
            yield Signal(
                account_id=account_id,
                key=ICP_FIT,
                value=round(share, 4),
                dimension="fit",
                evidence=evidence,
            )
            yield Signal(
                account_id=account_id,
                key=PRODUCTS_OWNED,
                value=len(products),
                dimension="fit",
                evidence=_products_evidence(snapshot_day, products),
            )
        for account_id, earlier_day, before, latest_day, after in batch.db.execute(
            _HEADCOUNT_PAIRS, params
        ):
            change = (after - before) / before
            yield Signal(
                account_id=account_id,
                key=EMPLOYEE_CHANGE,
                value=round(change, 4),
                dimension="current_state",
                evidence=_change_evidence(
                    date.fromisoformat(earlier_day), before, date.fromisoformat(latest_day), after
                ),
            )


def _products_evidence(snapshot_day: date, products: list[str]) -> str:
    if not products:
        return (
            f"owns none of our products per the snapshot of {snapshot_day.isoformat()} "
            "(its product list is empty)"
        )
    return (
        f"owns {len(products)} of our products per the snapshot of {snapshot_day.isoformat()}: "
        f"{', '.join(products)}"
    )


def _change_evidence(earlier_day: date, before: int, latest_day: date, after: int) -> str:
    days = (latest_day - earlier_day).days
    if after == before:
        return (
            f"employee count unchanged at {after:,} between {earlier_day.isoformat()} and "
            f"{latest_day.isoformat()} ({days} days apart)"
        )
    verb = "fell" if after < before else "rose"
    change = (after - before) / before
    return (
        f"employee count {verb} from {before:,} on {earlier_day.isoformat()} to {after:,} on "
        f"{latest_day.isoformat()} ({change:+.1%} over {days} days)"
    )
