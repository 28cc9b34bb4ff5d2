"""The support signal source: every account of a batch in one query over its tickets."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from telltales import BATCH_TABLE, DataDays, Freshness, Signal, SignalBatch, SignalSpec

from .records import PRIORITIES, Priority
from .settings import Settings

SECONDS_PER_DAY = 86_400

# Still open at the end of the run day: a ticket closed later was open then.
_OPEN = "(t.closed_at IS NULL OR t.closed_at >= :next_day)"

# Per priority: tickets opened in the window, and tickets open on the run day with the
# oldest of them. Built from PRIORITIES (constants, never input), so the query text is
# fixed and the configured high priorities are summed in Python.
_PER_PRIORITY = ",\n".join(
    f"count(*) FILTER (WHERE t.priority = '{p}' AND t.opened_at >= :window_start) "
    f"AS window_{p},\n"
    f"count(*) FILTER (WHERE t.priority = '{p}' AND {_OPEN}) AS open_{p},\n"
    f"min(t.opened_at) FILTER (WHERE t.priority = '{p}' AND {_OPEN}) AS oldest_open_{p}"
    for p in PRIORITIES
)

# Timestamps are UTC ISO text, so "< :next_day" means "on or before the run day".
QUERY = f"""
SELECT t.account_id,
       count(*) AS tickets,
       min(t.opened_at) AS first_opened,
       count(*) FILTER (
           WHERE t.opened_at >= :baseline_start AND t.opened_at < :window_start
       ) AS baseline,
       group_concat(
           CAST(round((julianday(t.closed_at) - julianday(t.opened_at)) * {SECONDS_PER_DAY})
                AS INTEGER)
       ) FILTER (
           WHERE t.closed_at >= :resolution_start AND t.closed_at < :next_day
       ) AS resolution_seconds,
       {_PER_PRIORITY}
FROM {BATCH_TABLE} b CROSS JOIN support_tickets t
WHERE t.account_id = b.account_id AND t.opened_at < :next_day
GROUP BY t.account_id
"""


class SupportSource:
    """Ticket load as a current-state risk: high-priority volume, spikes, backlog, speed.

    Every account with at least one ticket opened on or before the run day gets the
    volume and backlog signals, zero included: once the helpdesk has reported on an
    account, no ticket in the window is a true observation, not missing data.
    """

    name = "support"
    freshness = Freshness(
        tables=(DataDays(table="support_tickets", day_column="opened_at"),),
        stale_after_days=14,
    )
    """A helpdesk export silent for two weeks across every account has stopped: a
    quiet fortnight is not "no tickets"."""
    settings_type = Settings
    signals = (
        SignalSpec(
            key="support.high_priority_30d",
            dimension="current_state",
            description="high-priority tickets opened in the window ending on the run day (count)",
            higher_is_better=False,
        ),
        SignalSpec(
            key="support.ticket_spike",
            dimension="current_state",
            description=(
                "tickets opened in the window / the account's baseline tickets per window "
                "(ratio, 1.0 = usual)"
            ),
            higher_is_better=False,
        ),
        SignalSpec(
            key="support.open_high_priority",
            dimension="current_state",
            description="high-priority tickets still open at the end of the run day (count)",
            higher_is_better=False,
        ),
        SignalSpec(
            key="support.median_resolution_days_90d",
            dimension="current_state",
            description="median time from open to close of tickets closed recently (days)",
            higher_is_better=False,
        ),
    )

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        settings: Settings = batch.settings
        day = batch.as_of
        window_start = day - timedelta(days=settings.window_days - 1)
        cursor = batch.db.execute(
            QUERY,
            {
                "next_day": (day + timedelta(days=1)).isoformat(),
                "window_start": window_start.isoformat(),
                "baseline_start": (
                    window_start - timedelta(days=settings.baseline_days)
                ).isoformat(),
                "resolution_start": (
                    day - timedelta(days=settings.resolution_window_days - 1)
                ).isoformat(),
            },
        )
        columns = [d[0] for d in cursor.description]
        for values in cursor:
            row = dict(zip(columns, values, strict=True))
            yield from _account_signals(row, day, settings)


def _account_signals(row: dict[str, Any], day: date, settings: Settings) -> Iterator[Signal]:
    account_id: str = row["account_id"]
    high = [p for p in PRIORITIES if p in settings.high_priorities]
    window = settings.window_days
    history = f"{_tickets(row['tickets'])} on record since {_utc_day(row['first_opened'])}"

    high_opened = {p: row[f"window_{p}"] for p in high}
    count = sum(high_opened.values())
    detail = _breakdown(high_opened) if count else history
    yield Signal(
        account_id=account_id,
        key="support.high_priority_30d",
        value=count,
        dimension="current_state",
        evidence=(
            f"{_tickets(count, 'high-priority ')} opened in the {window} days to {day} ({detail})"
        ),
    )

    yield _spike(account_id, row, day, settings)

    open_high = {p: row[f"open_{p}"] for p in high}
    still_open = sum(open_high.values())
    if still_open:
        oldest: str = min(row[f"oldest_open_{p}"] for p in high if open_high[p])
        opened = _utc_day(oldest)
        age = (day - opened).days
        detail = (
            f"{_breakdown(open_high)}; the oldest, opened {opened}, "
            f"is {age} {'day' if age == 1 else 'days'} old"
        )
    else:
        detail = history
    yield Signal(
        account_id=account_id,
        key="support.open_high_priority",
        value=still_open,
        dimension="current_state",
        evidence=f"{_tickets(still_open, 'high-priority ')} open on {day} ({detail})",
    )

    if row["resolution_seconds"] is not None:
        days = [int(s) / SECONDS_PER_DAY for s in row["resolution_seconds"].split(",")]
        median = statistics.median(days)
        spread = (
            f" (fastest {min(days):.1f}, slowest {max(days):.1f} days)" if len(days) > 1 else ""
        )
        yield Signal(
            account_id=account_id,
            key="support.median_resolution_days_90d",
            value=round(median, 2),
            dimension="current_state",
            evidence=(
                f"Median {median:.1f} days from open to close over {_tickets(len(days))} "
                f"closed in the {settings.resolution_window_days} days to {day}{spread}"
            ),
        )


def _spike(account_id: str, row: dict[str, Any], day: date, settings: Settings) -> Signal:
    window, baseline_days = settings.window_days, settings.baseline_days
    recent = sum(row[f"window_{p}"] for p in PRIORITIES)
    earlier = row["baseline"]
    rate = earlier * window / baseline_days
    if rate >= settings.min_baseline:
        baseline = rate
        against = (
            f"a baseline of {_number(rate)} per {window} days over the {baseline_days} days before"
        )
    else:
        baseline = settings.min_baseline
        had = f"only {_tickets(earlier)}, {_number(rate)} per {window} days" if earlier else "none"
        against = (
            f"the minimum baseline of {_number(baseline)} per {window} days, as the "
            f"{baseline_days} days before had {had}"
        )
    ratio = recent / baseline
    return Signal(
        account_id=account_id,
        key="support.ticket_spike",
        value=round(ratio, 2),
        dimension="current_state",
        evidence=f"{_tickets(recent)} in the {window} days to {day} against {against} "
        f"({_number(ratio)}x)",
    )


def _utc_day(timestamp: str) -> date:
    return datetime.fromisoformat(timestamp).date()


def _tickets(count: int, kind: str = "") -> str:
    return f"{count} {kind}{'ticket' if count == 1 else 'tickets'}"


def _breakdown(counts: dict[Priority, int]) -> str:
    return ", ".join(f"{n} {p}" for p, n in counts.items())


def _number(value: float) -> str:
    """Two decimals less a trailing zero (1.5, 6.0, 0.17): a small rate must not read as 0."""
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text
