"""When an account stops being live: its status episode ends, its open work is dismissed.

An account that churned or was paused (or whose customer-since day is still ahead)
is not scored any more. What it was in does not just stop being updated: the run of
the first day it is not live records a transition to ``inactive`` with the reason
(cause ``lifecycle``), ends an override still pinning its status, and dismisses its
open tasks with the same reason, which closes their playbook runs. Nothing is
rewritten: the episode's history stays as it was, and this is its last entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import msgspec
from sqlite_utils import Database

from telltales.playbooks.statuses import insert_transition
from telltales.playbooks.tasks import dismiss_open_tasks
from telltales.store.history import not_live_reason, versions_on

INACTIVE = "inactive"


def end_accounts(
    db: Database, as_of: date, account_ids: Sequence[str], *, run_id: int, at: datetime
) -> int:
    """Close the open status of each of ``account_ids`` (none live on ``as_of``); how many.

    An account without a status yet, already ``inactive``, or whose status history goes
    past ``as_of`` (history only goes forward) is left as it is.
    """
    if not account_ids:
        return 0
    day = as_of.isoformat()
    ids = msgspec.json.encode(sorted(account_ids)).decode()
    rows = db.execute(
        """
        SELECT t.account_id, t.to_status, t.as_of, t.cohort, t.pilot_id,
               (SELECT r.last_day FROM rule_accounts r WHERE r.account_id = t.account_id)
        FROM transitions t
        WHERE t.transition_id = (
            SELECT l.transition_id FROM transitions l WHERE l.account_id = t.account_id
            ORDER BY l.as_of DESC, l.at DESC, l.transition_id DESC LIMIT 1
        ) AND t.account_id IN (SELECT value FROM json_each(?))
        """,
        [ids],
    ).fetchall()
    open_ones = [
        row
        for row in rows
        if row[1] != INACTIVE and row[2] <= day and (row[5] is None or row[5] <= day)
    ]
    versions = versions_on(db, as_of, [row[0] for row in open_ones], earliest_otherwise=True)
    for account_id, status, _since, cohort, pilot_id, _last in open_ones:
        account = versions[account_id]
        reason = f"not live on {day}: {not_live_reason(account, as_of)}"
        insert_transition(
            db,
            account=account,
            as_of=as_of,
            at=at,
            from_status=status,
            to_status=INACTIVE,
            cause="lifecycle",
            rules=(),
            evidence=reason,
            run_id=run_id,
            cohort=cohort,
            pilot_id=pilot_id,
        )
        db.execute(
            "UPDATE overrides SET ended_at = ?, end_reason = ? "
            "WHERE account_id = ? AND ended_at IS NULL",
            [at.isoformat(), "account not live", account_id],
        )
        dismiss_open_tasks(db, account_id, reason=f"account {reason}", at=at)
    return len(open_ones)
