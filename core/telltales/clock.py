"""The clock: what time it is, how a moment is stored, and when a replayed day happened.

Every stored timestamp is ISO 8601 in UTC (``stamp``), whatever zone a caller's
clock gave, so text order is time order in SQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in UTC: the default day of runs, reads and metrics."""
    return now().date()


def stamp(moment: datetime) -> str:
    """``moment`` as stored: ISO 8601 in UTC, whatever zone it was given in."""
    return moment.astimezone(UTC).isoformat()


def moment(as_of: date, current: datetime) -> datetime:
    """When something found by a run as of ``as_of`` happened: now, kept within that day.

    A run for today stamps the current time; a replay of a past day stamps the end of
    that day, so time-to-acknowledge and similar figures are measured from the day
    the data showed it, not from the day someone replayed it.
    """
    start = datetime.combine(as_of, time.min, tzinfo=UTC)
    end = start + timedelta(days=1) - timedelta(microseconds=1)
    return min(max(current, start), end)
