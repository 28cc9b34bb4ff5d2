"""Which renewals were flagged At-Risk before they came due, and whether a playbook ran.

Shared by the renewal-by-cohort and discounting metrics so that both split renewals
by the same definition.
"""

from __future__ import annotations

from typing import NamedTuple

from telltales.metrics.common import MetricFilter, MetricInputError, conditions, group_column
from telltales.store import Store

DEFAULT_LOOKBACK_DAYS = 90
MAX_LOOKBACK_DAYS = 730
FLAG_DEFINITION = (
    "A renewal is flagged when its account was At-Risk at any time in the lookback window "
    "[renewal date - N days, renewal date]: it entered At-Risk within the window, or it "
    "entered before and was still At-Risk when the window opened."
)
PLAYBOOK_RAN_DEFINITION = (
    "A playbook ran when a live playbook run for At-Risk started for the account on or "
    "before the renewal date and no earlier than that stretch At-Risk began (for an account "
    "At-Risk when the window opened, the day of its last other status before; otherwise the "
    "window's first day). Shadow runs, runs held back by the weekly cap and control-group "
    "accounts ran none."
)


class FlaggedRenewal(NamedTuple):
    group: str | None
    outcome: str
    arr_before: float
    arr_after: float
    discount_percent: float
    flagged: bool
    treated: bool
    """Flagged, and a live At-Risk playbook ran for it."""


def check_lookback(lookback_days: int) -> None:
    if not 1 <= lookback_days <= MAX_LOOKBACK_DAYS:
        raise MetricInputError(
            "lookback_days", f"must be between 1 and {MAX_LOOKBACK_DAYS}, got {lookback_days}"
        )


def flagged_renewals(
    store: Store, applied: MetricFilter, lookback_days: int
) -> list[FlaggedRenewal]:
    """Every renewal due in the (resolved) filter's period, flagged or not, in one query.

    Each lookup of transitions reads the account's own (``INDEXED BY``): left to
    itself, SQLite picks the status index and scans every account's At-Risk entries
    of the window once per renewal. ``state`` is materialized so that its lookups run
    once per renewal, not once for each column that uses them.
    """
    where, params = conditions(applied, "r", "renewal_date")
    rows = store.reader.execute(
        f"""
        WITH due AS (
            SELECT r.account_id, r.renewal_date, r.outcome, r.arr_before, r.arr_after,
                r.discount_percent, {group_column(applied, "r")} AS grp,
                date(r.renewal_date, ?) AS opens
            FROM renewals r WHERE {where}
        ), state AS MATERIALIZED (
            SELECT due.*, coalesce((
                SELECT t.to_status = 'at_risk' FROM transitions t INDEXED BY transitions_account
                WHERE t.account_id = due.account_id AND t.as_of < due.opens
                ORDER BY t.as_of DESC, t.at DESC, t.transition_id DESC LIMIT 1
            ), 0) AS at_risk_when_opened, EXISTS (
                SELECT 1 FROM transitions t INDEXED BY transitions_account
                WHERE t.account_id = due.account_id AND t.to_status = 'at_risk'
                  AND t.as_of BETWEEN due.opens AND due.renewal_date
            ) AS entered_within, coalesce((
                SELECT max(t.as_of) FROM transitions t INDEXED BY transitions_account
                WHERE t.account_id = due.account_id AND t.as_of < due.opens
                  AND t.to_status != 'at_risk'
            ), '') AS last_other_before
            FROM due
        )
        SELECT grp, outcome, arr_before, arr_after, discount_percent,
            at_risk_when_opened OR entered_within AS flagged,
            (at_risk_when_opened OR entered_within) AND EXISTS (
                SELECT 1 FROM playbook_runs p
                WHERE p.account_id = state.account_id AND p.mode = 'live'
                  AND p.status = 'at_risk' AND p.as_of <= state.renewal_date
                  AND p.as_of >= CASE WHEN at_risk_when_opened THEN last_other_before
                      ELSE opens END
            ) AS treated
        FROM state
        """,
        [f"-{lookback_days} days", *params],
    ).fetchall()
    return [
        FlaggedRenewal(grp, outcome, before, after, discount, bool(flagged), bool(treated))
        for grp, outcome, before, after, discount, flagged, treated in rows
    ]
