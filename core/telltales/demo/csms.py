"""Simulated CSMs: they work the tasks live playbooks give them, and their work helps.

Each CSM has a pace (a median delay before they act on a task, between half a day
and three days) and now and then dismisses a task instead (the customer is already
in a renewal conversation, the drop is a known seasonal dip). A completed task on an
At-Risk account lifts the account's hidden health over the following weeks in most
cases, a Concern check-in less so: **this is where the pilot's effect comes from in
the demo**; nothing in telltales knows about it. Accounts outside the pilot cohort get
no tasks, so only the rare unprompted recovery (world.evolve) helps them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from telltales.demo.behaviour import WeekRecords
from telltales.demo.world import DemoAccount
from telltales.playbooks.tasks import complete_task, dismiss_task
from telltales.store import Store

DISMISS_REASONS = (
    "Already in a renewal conversation with the sponsor",
    "Known seasonal dip, customer confirmed",
    "Usage moved to a second workspace we do not track",
)


@dataclass(frozen=True)
class TaskWork:
    """What a CSM did with one task, and when."""

    task_id: int
    account_id: str
    done: bool
    at: datetime


class CsmTeam:
    """Every CSM's pace, drawn once, and the tasks they have not acted on yet."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._median_hours: dict[str, float] = {}
        self.last_task_id = 0

    def _pace(self, owner: str) -> float:
        if owner not in self._median_hours:
            self._median_hours[owner] = math.exp(self._rng.uniform(math.log(10), math.log(70)))
        return self._median_hours[owner]

    def work_new_tasks(
        self,
        store: Store,
        accounts: dict[str, DemoAccount],
        until: datetime,
        rows: WeekRecords,
    ) -> list[TaskWork]:
        """Act on every task created since the last call, if the CSM gets to it by ``until``.

        A task the CSM would reach after ``until`` (the end of the demo) stays open.
        """
        new = store.db.execute(
            "SELECT t.task_id, t.account_id, t.assignee, t.created_at, "
            "COALESCE(p.status, '') FROM tasks t "
            "LEFT JOIN playbook_runs p ON p.playbook_run_id = t.playbook_run_id "
            "WHERE t.task_id > ? AND t.kind = 'work' ORDER BY t.task_id",
            [self.last_task_id],
        ).fetchall()
        work = []
        for task_id, account_id, assignee, created_at, status in new:
            self.last_task_id = task_id
            hours = self._rng.lognormvariate(math.log(self._pace(assignee)), 0.8)
            at = datetime.fromisoformat(created_at) + timedelta(hours=min(max(hours, 0.5), 24 * 14))
            if at > until:
                continue
            account = accounts[account_id]
            if self._rng.random() < 0.12:
                reason = self._rng.choice(DISMISS_REASONS)
                dismiss_task(store, task_id, by=assignee, reason=reason, at=at)
                work.append(TaskWork(task_id, account_id, False, at))
                continue
            complete_task(store, task_id, by=assignee, at=at)
            work.append(TaskWork(task_id, account_id, True, at))
            helps, lift = (0.7, 0.045) if status == "at_risk" else (0.5, 0.03)
            if self._rng.random() < helps:
                account.recovery = [lift] * 5
            rows.add(
                "engagement.activities",
                {
                    "activity_id": f"{account_id}-task{task_id}",
                    "account_id": account_id,
                    "day": at.date().isoformat(),
                    "kind": "call",
                    "by": assignee,
                    "summary": f"Worked task {task_id}: reviewed usage and risks with the champion",
                },
            )
        return work
