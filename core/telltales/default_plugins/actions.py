"""The core's playbook actions: a task for a person, and a flag on the renewal.

Both write into telltales' own database (``record``), in the transaction that starts
the playbook run, so a run never exists without its task. The renewal flag is then
pushed to the CRM through the configured adapter (``execute``, via the outbox).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import msgspec

from telltales.contracts import ActionOutcome, ActionRequest, PlaybookAction, RenewalFlag
from telltales.hookspecs import hookimpl
from telltales.playbooks.plan import Crm
from telltales.playbooks.rules import describe_match
from telltales.playbooks.tasks import add_business_days, create_task

RENEWAL_AT_RISK = "Renewal At Risk"


class TaskParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str = ""
    """The task's title; empty gives "<account>: <status> - <rule description>"."""
    due_business_days: Annotated[int, msgspec.Meta(ge=0, le=60)] = 3
    assignee: Annotated[str, msgspec.Meta(min_length=1)] = "owner"
    """``owner`` (the account's CSM), ``manager`` (of its CSM group) or a name/address."""


class TaskAction:
    """Creates a task that says which rule fired, on which metric, with which values."""

    name = "task"
    reaches_customer = False
    params_type = TaskParams

    def record(self, request: ActionRequest) -> str:
        params: TaskParams = request.params
        assert request.db is not None
        assert request.as_of is not None
        account = request.account
        assignee = {"owner": account.owner, "manager": request.manager}.get(
            params.assignee, params.assignee
        )
        if not assignee:
            raise ValueError(
                f"task assignee {params.assignee!r} is unknown for account {account.account_id!r} "
                f"(set its owner, or [csm_groups.{account.csm_group}] manager)"
            )
        due = add_business_days(request.as_of, params.due_business_days)
        title = params.title or _default_title(request)
        task_id = create_task(
            request.db,
            account_id=account.account_id,
            playbook_run_id=request.playbook_run_id,
            step=request.step,
            kind="work",
            title=title,
            body=task_body(request),
            assignee=assignee,
            due_on=due,
            at=request.started_at or datetime.now(UTC),
            idempotency_key=request.idempotency_key,
        )
        return f"task {task_id} for {assignee}, due {due}"


def _default_title(request: ActionRequest) -> str:
    first = request.firings[0].description if request.firings else request.reason
    return f"{request.account.name}: {request.status_label} - {first}"


def task_body(request: ActionRequest) -> str:
    """What the CSM reads: each rule, each metric with its value and comparison, the link."""
    lines = [
        f"{request.account.name} ({request.account.account_id}) entered {request.status_label} "
        f"as of {request.as_of} (playbook {request.playbook}).",
    ]
    for firing in request.firings:
        lines.append(
            f"Rule {firing.rule} ({firing.severity}): {firing.description}; "
            f"holding since {firing.held_since}."
        )
        lines.extend(f"- {describe_match(match)}" for match in firing.matches)
    if request.account_url:
        lines.append(f"Account: {request.account_url}")
    return "\n".join(lines)


class FlagParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    flag: Annotated[str, msgspec.Meta(min_length=1)] = RENEWAL_AT_RISK
    within_days: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Flag only a renewal due within this many days; None flags any open renewal."""


class RenewalFlagAction:
    """Marks the account's open renewal "Renewal At Risk", here and in the CRM.

    The open renewal is the account's renewal date, when it is on or after the day
    of the run. Its settings are the configured CRM adapter (``[crm]``); without one
    the flag is kept in telltales only, and the delivery says so.
    """

    name = "renewal.flag"
    reaches_customer = False
    params_type = FlagParams

    def record(self, request: ActionRequest) -> str:
        assert request.db is not None
        skip = _why_not_flagged(request)
        if skip:
            return skip
        renewal = request.account.renewal_date
        request.db.execute(
            "INSERT INTO renewal_flags (account_id, renewal_date, flag, playbook_run_id, "
            "flagged_at, reason, evidence, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (idempotency_key) DO NOTHING",
            [
                request.account.account_id,
                str(renewal),
                request.params.flag,
                request.playbook_run_id,
                (request.started_at or datetime.now(UTC)).isoformat(),
                request.reason,
                request.evidence,
                request.idempotency_key,
            ],
        )
        return f"renewal of {renewal} flagged {request.params.flag!r}"

    def execute(self, request: ActionRequest) -> ActionOutcome:
        skip = _why_not_flagged(request)
        if skip:
            return ActionOutcome(delivered=True, detail=f"nothing to push: {skip}")
        crm = request.settings
        if not isinstance(crm, Crm):
            return ActionOutcome(
                delivered=True, detail="no CRM adapter configured ([crm]); flag kept in telltales"
            )
        account = request.account
        return crm.adapter.push(
            RenewalFlag(
                idempotency_key=request.idempotency_key,
                account_id=account.account_id,
                account_name=account.name,
                renewal_date=account.renewal_date,
                flag=request.params.flag,
                reason=request.reason,
                evidence=request.evidence,
                flagged_at=request.started_at or datetime.now(UTC),
                account_url=request.account_url,
                settings=crm.settings,
            )
        )


def _why_not_flagged(request: ActionRequest) -> str:
    renewal, as_of = request.account.renewal_date, request.as_of
    if renewal is None or as_of is None:
        return "the account has no renewal date"
    if renewal < as_of:
        return f"no open renewal: the renewal date {renewal} has passed"
    within = request.params.within_days
    if within is not None and (renewal - as_of).days > within:
        return f"the renewal on {renewal} is more than {within} days away"
    return ""


@hookimpl
def register_playbook_actions(register: Callable[[PlaybookAction], None]) -> None:
    register(TaskAction())
    register(RenewalFlagAction())
