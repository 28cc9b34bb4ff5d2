"""Which days a run may compute: one rule for ``telltales run`` and ``POST /v1/runs``.

A run for a day whose data has not arrived reads silence as collapse and writes a
status history that every later, real run then has to skip. So a day in the
future is refused, with the reason, before anything is run; tomorrow (UTC) is
allowed, for a team whose time zone is ahead of UTC.
"""

from __future__ import annotations

from datetime import date, timedelta

from telltales import clock
from telltales.models import FIRST_DAY


def latest_run_day(today: date | None = None) -> date:
    """The last day a run may compute: tomorrow in UTC."""
    return (today or clock.today()) + timedelta(days=1)


def run_day_problem(day: date, today: date | None = None) -> str | None:
    """Why a run may not compute ``day``, in words, or None when it may."""
    if day < FIRST_DAY:
        return f"{day} is before {FIRST_DAY}"
    latest = latest_run_day(today)
    if day > latest:
        return (
            f"{day} is in the future: a run computes a day whose data has arrived "
            f"(at the latest {latest}, tomorrow in UTC)"
        )
    return None
