"""An account's health as of a day, for a person: the status, the score, why, what to do.

A CSM opening an account should be able to say within two minutes whether it is
realising value, why (the exact metric and its values) and one action to take.
This module composes that answer from what runs stored (scores with their
breakdown, rule hits, transitions, playbook runs, tasks), so the API and the
command line give the same answer from the same data, with every sentence naming
the metric, its value and what it was compared with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import msgspec

from telltales.contracts import RuleFiring, RuleMatch
from telltales.models import (
    Account,
    AccountStatus,
    HealthStatus,
    MeasureResult,
    Score,
    StatusTransition,
)
from telltales.playbooks.plan import Plan
from telltales.playbooks.rules import (
    SEVERITY_RANK,
    STATUS_RANK,
    describe_firing,
    grade_disagreement,
)
from telltales.playbooks.runs import PlaybookRun, list_runs
from telltales.playbooks.statuses import ACTIVE_STATES, status_as_of
from telltales.playbooks.tasks import Task, list_tasks
from telltales.signals.freshness import SourceFreshness, account_freshness
from telltales.signals.scorecards import HEALTH_SCORER, Scoring
from telltales.signals.scorecards.card import Linear, Thresholds
from telltales.signals.scorecards.reading import describe_score, weakest_dimension
from telltales.store import Store, queries

ActionKind = Literal["task", "playbook", "rule", "status", "data", "measure", "none"]


class StatusView(msgspec.Struct, kw_only=True, frozen=True):
    """The status as of the day, and the transition that set it (cause, rules, evidence)."""

    status: AccountStatus
    label: str
    since: date
    """The day whose data set it (the transition's ``as_of``)."""
    transition: StatusTransition


class RuleHolding(msgspec.Struct, kw_only=True, frozen=True):
    """A rule that held for the account on the day scored, with every condition's value."""

    rule: str
    description: str
    status: HealthStatus
    """The status the rule sets while it is active."""
    label: str
    severity: str
    state: str
    """``fired`` (became active that day), ``active`` (still holding since it fired),
    ``pending`` (holding, not yet for its hold days), ``cooldown`` (fired too recently)."""
    held_since: date
    mode: Literal["live", "shadow"]
    """``live``: its playbooks act (a pilot enables it); ``shadow``: recorded only."""
    matches: tuple[RuleMatch, ...]
    evidence: str
    """The rule and each condition's metric, value, test and evidence, in one line."""


class NextAction(msgspec.Struct, kw_only=True, frozen=True):
    """The one thing to do next, and why, naming the metric, its value and the comparison."""

    kind: ActionKind
    """``task``: an open task; ``playbook``: the playbook of the strongest active rule;
    ``rule``: an active rule no playbook answers; ``status``: a status set by a person
    or by imported history; ``data``: no score, or too little data to grade; ``measure``:
    the measure costing the score most; ``none``: healthy."""
    action: str
    why: str
    task_id: int | None = None
    rule: str | None = None
    playbook: str | None = None
    measure: str | None = None


class AccountHealth(msgspec.Struct, kw_only=True, frozen=True):
    """Everything a CSM needs about one account as of one day."""

    account: Account
    """The account's version in force on the day asked for (today when none was)."""
    as_of: date | None
    """The day asked for, else the latest day the account was scored; None before any."""
    status: StatusView | None
    """The status in force on the day asked for; without one, the current status (a
    person's override of today counts even if the latest score is older)."""
    score: Score | None
    """The health score of ``as_of`` (or the latest before it), with its full breakdown
    (every measure's value, points, weight and evidence) and its 7- and 30-day trend."""
    other_scores: list[Score]
    """Scores of the same day from other installed scorers."""
    rules: list[RuleHolding]
    """Rules that held on the score's day, strongest first."""
    playbook_runs: list[PlaybookRun]
    """Playbook runs open now (live), newest first, whatever the day asked for."""
    tasks: list[Task]
    """Tasks open now, soonest due first, whatever the day asked for: the work to do."""
    next_action: NextAction
    freshness: list[SourceFreshness] = msgspec.field(default_factory=list)
    """How fresh each source's data was on the score's day: its latest day over all
    accounts (as the run recorded it), the account's own latest day, and whether it
    was past its limit, so its signals were left out of the score (not read as zero)."""


def account_health(
    store: Store,
    plan: Plan,
    account_id: str,
    as_of: date | None = None,
    *,
    scoring: Scoring | None = None,
) -> AccountHealth:
    """Compose the account's health as of ``as_of`` (default: its latest scored day).

    ``scoring`` (the checked scorecards of the configuration) lets the weakest measure
    be compared with the value that earns full points, when the stored score came
    from the same card; without it the measure is explained by its value and points.
    Raises :class:`UnknownAccountError` for an unknown account.
    """
    account = queries.get_account(store, account_id, as_of)
    score_day = queries.latest_score_day(store, account_id, as_of)
    day = as_of or score_day
    scores = queries.scores_for(store, account_id, score_day) if score_day else []
    health = next((s for s in scores if s.scorer == HEALTH_SCORER), None)
    transition = status_as_of(store, account_id, as_of or date.max)
    status = (
        StatusView(
            status=transition.to_status,
            label=plan.labels[transition.to_status],
            since=transition.as_of,
            transition=transition,
        )
        if transition
        else None
    )
    rules = _rules_held(store, plan, account_id, score_day) if score_day else []
    freshness = _freshness(store, plan, account_id, score_day) if score_day else []
    runs = list_runs(store, state="open", account_id=account_id)
    tasks = list_tasks(store, state="open", account_id=account_id)
    reason = Reason.of(health, _earlier(store, account_id, health))
    return AccountHealth(
        account=account,
        as_of=day,
        status=status,
        score=health,
        other_scores=[s for s in scores if s.scorer != HEALTH_SCORER],
        rules=rules,
        playbook_runs=runs,
        tasks=tasks,
        next_action=_next_action(
            plan, day, status, health, rules, runs, tasks, _targets(scoring, health), reason
        ),
        freshness=freshness,
    )


@dataclass(frozen=True)
class Reason:
    """What drives the score, for the why and the choice of action."""

    text: str
    """The weakest dimension, the measure that moved most, the dimensions not measured."""
    dimension: str | None

    @classmethod
    def of(cls, score: Score | None, earlier: Score | None) -> Reason:
        if score is None or score.value is None:
            return cls(text="", dimension=None)
        weakest = weakest_dimension(score)
        return cls(text=describe_score(score, earlier), dimension=weakest.name if weakest else None)

    def after(self, why: str) -> str:
        return f"{why}; {self.text}" if self.text else why


def _earlier(store: Store, account_id: str, score: Score | None) -> Score | None:
    """The stored health score of the trend's earlier day (30 days, else 7), from the same
    configuration: what "moved most" compares with."""
    if score is None:
        return None
    trend = next((t for t in (score.trend_30d, score.trend_7d) if t and t.same_config), None)
    if trend is None:
        return None
    found = queries.scores_for(store, account_id, trend.as_of)
    return next((s for s in found if s.scorer == HEALTH_SCORER), None)


def _freshness(store: Store, plan: Plan, account_id: str, day: date) -> list[SourceFreshness]:
    """The sources' freshness as the run that scored ``day`` recorded it, for this account."""
    row = store.db.execute(
        "SELECT max(run_id) FROM scores INDEXED BY scores_account "
        "WHERE account_id = ? AND as_of = ?",
        [account_id, day.isoformat()],
    ).fetchone()
    if row is None or row[0] is None:
        return []
    recorded = queries.run_freshness(store.db, row[0])
    return account_freshness(store.db, plan.freshness or {}, recorded, day, account_id)


def _rules_held(store: Store, plan: Plan, account_id: str, day: date) -> list[RuleHolding]:
    """The rule hits recorded on ``day``, strongest first (status, severity, name)."""
    rows = store.db.execute(
        "SELECT rule, state, held_since, status, severity, mode, matches FROM rule_hits "
        "WHERE as_of = ? AND account_id = ?",
        [day.isoformat(), account_id],
    ).fetchall()
    held = []
    for rule, state, since, status, severity, mode, matches in rows:
        configured = plan.rules.get(rule)
        firing = RuleFiring(
            rule=rule,
            description=configured.description if configured else "",
            status=status,
            severity=severity,
            held_since=date.fromisoformat(since),
            matches=msgspec.json.decode(matches, type=tuple[RuleMatch, ...]),
        )
        held.append(
            RuleHolding(
                rule=rule,
                description=firing.description,
                status=status,
                label=plan.labels[status],
                severity=severity,
                state=state,
                held_since=firing.held_since,
                mode=mode,
                matches=firing.matches,
                evidence=describe_firing(firing),
            )
        )
    held.sort(key=lambda h: (-STATUS_RANK[h.status], -SEVERITY_RANK[h.severity], h.rule))
    return held


def _targets(scoring: Scoring | None, score: Score | None) -> Mapping[str, str]:
    """What earns full points for each measure of the card that produced ``score``."""
    if scoring is None or score is None:
        return {}
    card = next((c for c in scoring.cards.values() if c.config_id == score.config_id), None)
    if card is None:
        return {}
    targets = {}
    for measure in card.measures:
        rule = measure.rule
        if isinstance(rule, Thresholds):
            threshold, points = rule.steps[0]
            sign = ">=" if rule.at_least else "<="
            targets[measure.key] = f"{points:g} points at {sign} {threshold:g}"
        elif isinstance(rule, Linear):
            targets[measure.key] = f"100 points at {rule.best:g}, 0 at {rule.worst:g}"
    return targets


def _next_action(
    plan: Plan,
    day: date | None,
    status: StatusView | None,
    score: Score | None,
    rules: Sequence[RuleHolding],
    runs: Sequence[PlaybookRun],
    tasks: Sequence[Task],
    targets: Mapping[str, str],
    reason: Reason,
) -> NextAction:
    """One action, in this order: none for an account no longer live; the soonest-due
    open task; the playbook of the strongest active rule; a status no active rule
    explains (a person's override, imported history); missing data; the measure that
    costs the score most; else none."""
    if status is not None and status.status == "inactive":
        return NextAction(
            kind="none",
            action="No action: the account is not live",
            why=f"{status.label} since {status.since}: {status.transition.evidence}",
        )
    if tasks:
        return _task_action(plan, tasks[0], len(tasks), runs, reason)
    active = [h for h in rules if h.state in ACTIVE_STATES]
    if active:
        found = _rule_action(plan, active[0], runs, reason)
        disagreement = _disagreement(plan, status, score, active)
        if disagreement is None:
            return found
        return msgspec.structs.replace(found, why=f"{disagreement}: {found.why}")
    if status is not None and status.status != "healthy":
        transition = status.transition
        return NextAction(
            kind="status",
            action=f"Review the account: it is {status.label} since {status.since}",
            why=f"{_CAUSES[transition.cause]} (transition "
            f"{transition.transition_id}), and no rule is active now: {transition.evidence}",
        )
    if score is None:
        on = f"on or before {day}" if day else "yet"
        return NextAction(
            kind="data",
            action="Run the engine for this account (telltales run, or POST /v1/runs)",
            why=f"no health score {on}: there is nothing to grade",
        )
    if score.value is None:
        missing = [m for m in score.breakdown if m.value is None]
        names = ", ".join(m.measure for m in missing)
        return NextAction(
            kind="data",
            action=f"Get the missing data: {names}",
            why=f"the health score covers {score.coverage:.0%} of its measures' weight, too "
            f"little to grade ({score.label}); missing: {names}",
        )
    weakest = _weakest(score.breakdown)
    if score.grade != "green" and weakest is not None:
        return NextAction(
            kind="measure",
            action=f"Improve {weakest.measure} ({weakest.component})",
            why=reason.after(
                f"health score {score.value:g} is {score.label} ({score.grade}); "
                f"{_measure_sentence(weakest, targets)}"
            ),
            measure=weakest.measure,
        )
    shown = f"health score {score.value:g} is {score.label} ({score.grade}), no rule is active"
    if weakest is not None:
        shown += f"; the weakest measure: {_measure_sentence(weakest, targets)}"
    return NextAction(kind="none", action="No action: healthy", why=shown)


_CAUSES = {
    "rules": "set by the rules",
    "override": "set by a person's override",
    "override_ended": "set when an override ended",
    "imported": "imported from another platform",
    "lifecycle": "set by the account's lifecycle",
}


def _task_action(
    plan: Plan, task: Task, count: int, runs: Sequence[PlaybookRun], reason: Reason
) -> NextAction:
    verb = "Approve or dismiss" if task.kind == "approval" else "Complete"
    why = f"the soonest due of {count} open task(s): due {task.due_on}, assigned to {task.assignee}"
    action = f"{verb} task {task.task_id}: {task.title}"
    run = next((r for r in runs if r.playbook_run_id == task.playbook_run_id), None)
    if run is not None:
        why += (
            f"; from playbook {run.playbook}, started {run.as_of} when the account entered "
            f"{plan.labels[run.status]} by rule(s) {', '.join(run.rules)}"
        )
        todo = _rule_todo(plan, run.rules, reason)
        if todo:
            action += f". {todo}"
    return NextAction(
        kind="task",
        action=action,
        why=reason.after(why),
        task_id=task.task_id,
    )


def _rule_todo(plan: Plan, rules: Sequence[str], reason: Reason) -> str | None:
    """The next action the first of ``rules`` that has one asks for."""
    for name in rules:
        rule = plan.rules.get(name)
        todo = rule.action_for(reason.dimension) if rule else None
        if todo:
            return todo
    return None


def _disagreement(
    plan: Plan, status: StatusView | None, score: Score | None, active: Sequence[RuleHolding]
) -> str | None:
    """The first words of the why when the status contradicts the grade."""
    if status is None:
        return None
    holding = [
        RuleFiring(
            rule=h.rule,
            description=h.description,
            status=h.status,
            severity=h.severity,
            held_since=h.held_since,
            matches=h.matches,
        )
        for h in active
        if h.status == status.status
    ]
    return grade_disagreement(status.status, score, holding, plan.labels)


def _rule_action(
    plan: Plan, holding: RuleHolding, runs: Sequence[PlaybookRun], reason: Reason
) -> NextAction:
    why = f"{holding.label} rule, severity {holding.severity}, holding since {holding.held_since}"
    why += f": {holding.evidence}"
    if holding.state == "held":
        why += " (no longer holding: kept by the rule's minimum stay)"
    why = reason.after(why)
    todo = _rule_todo(plan, [holding.rule], reason)
    playbook = next(
        (
            p
            for _, p in sorted(plan.playbooks.items())
            if p.starts_for(holding.status, frozenset({holding.rule}))
        ),
        None,
    )
    if playbook is None:
        return NextAction(
            kind="rule",
            action=todo or f"Review the account: {holding.description or holding.rule}",
            why=f"{why}; no playbook answers this rule",
            rule=holding.rule,
        )
    open_run = next((r for r in runs if r.playbook == playbook.name), None)
    steps = ", ".join(step.action for step in playbook.steps)
    about = f": {playbook.description}" if playbook.description else ""
    if open_run is not None:
        action = (
            f"Follow up playbook {playbook.name} (run {open_run.playbook_run_id}, open since "
            f"{open_run.as_of}): none of its tasks is open"
        )
    elif holding.mode == "shadow":
        action = f"Run playbook {playbook.name} by hand ({steps}){about}"
        why += "; it ran in shadow mode (recorded, nothing sent): no pilot enables it here"
    else:
        action = f"Follow playbook {playbook.name} ({steps}){about}"
    if todo:
        action = f"{todo}. {action}"
    return NextAction(
        kind="playbook",
        action=action,
        why=why,
        rule=holding.rule,
        playbook=playbook.name,
    )


UNACTIONABLE = frozenset({"account.days_to_renewal"})
"""Measures no one can improve (the calendar): never the measure to work on."""


def _weakest(breakdown: Sequence[MeasureResult]) -> MeasureResult | None:
    """The measure that costs the score most, (100 - points) x its weight, among those
    a person can act on; on a tie, the first in the card's order."""
    scored = [m for m in breakdown if _lost(m) > 0 and m.measure not in UNACTIONABLE]
    return max(scored, key=_lost) if scored else None


def _lost(measure: MeasureResult) -> float:
    """Score points a measure gives up: what full points would have added."""
    if measure.points is None:
        return 0.0
    return (100 - measure.points) * measure.weight


def _measure_sentence(measure: MeasureResult, targets: Mapping[str, str]) -> str:
    target = targets.get(measure.measure)
    compared = f" (the scorecard gives {target})" if target else ""
    return (
        f"{measure.measure} = {measure.value or 0:.4g} earns {measure.points or 0:g} of 100 "
        f"points{compared}, weighing {measure.weight:.0%} of the score, so it costs "
        f"{_lost(measure):.1f} points: {measure.evidence}"
    )
