"""What ``telltales demo`` prints when the book is built: a page a CS leader can read.

The accounts most at risk (lowest health score among those At-Risk now) with their
strongest reason and the one next action, then the headline metrics over the replayed
period, side by side for the pilot cohort, its hold-out and the groups in shadow mode.
Every figure is read back through the same functions the API and ``telltales
metrics`` use; nothing here is computed from the simulation's hidden state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from telltales import metrics
from telltales.demo.replay import PILOT_GROUP, PILOT_HOLDOUT, PILOT_ID, DemoResult
from telltales.engine.health import AccountHealth, account_health
from telltales.metrics import MetricFilter
from telltales.metrics.discounting import DiscountNumbers
from telltales.playbooks.plan import Plan
from telltales.playbooks.rules import describe_match
from telltales.playbooks.statuses import current_statuses
from telltales.signals.scorecards import HEALTH_SCORER
from telltales.store import Store
from telltales.store.history import live_ids

COHORTS = ("pilot", "control", "none")
COHORT_NAMES = {"pilot": "pilot", "control": "hold-out", "none": "shadow groups"}


@dataclass(frozen=True)
class Headlines:
    """The headline metrics, read back for the summary and for the tests."""

    period: MetricFilter
    reversal: metrics.RiskReversal
    acknowledgement: metrics.TimeToAcknowledge
    completion: metrics.PlaybookCompletion
    retention: metrics.Retention
    by_risk: metrics.RenewalByCohort
    discounts: metrics.Discounting


def headlines(store: Store, first_run: date, end: date) -> Headlines:
    period = MetricFilter(from_=first_run, to=end, group_by="cohort")
    return Headlines(
        period=period,
        reversal=metrics.risk_reversal(store, period, window_days=60, today=end),
        acknowledgement=metrics.time_to_acknowledge(store, period, today=end),
        completion=metrics.playbook_completion(store, period, today=end),
        retention=metrics.retention(store, period, today=end),
        by_risk=metrics.renewal_by_cohort(store, MetricFilter(from_=first_run, to=end), today=end),
        discounts=metrics.discounting(store, MetricFilter(from_=first_run, to=end), today=end),
    )


def most_at_risk(store: Store, plan: Plan, day: date, count: int) -> list[AccountHealth]:
    """The ``count`` accounts live and At-Risk on ``day`` with the lowest health scores.

    Statuses and scores are read for every account in two queries; the full health
    report (about ten queries) is composed only for the accounts shown.
    """
    wanted = set(live_ids(store.reader, day))
    statuses = current_statuses(store.reader, batch=False)
    scores = dict(
        store.reader.execute(
            "SELECT account_id, value FROM scores WHERE scorer = ? AND as_of = ?",
            [HEALTH_SCORER, day.isoformat()],
        ).fetchall()
    )
    at_risk = sorted(
        (scores.get(account_id, 100.0), account_id)
        for account_id, (status, _since) in statuses.items()
        if status == "at_risk" and account_id in wanted
    )
    return [account_health(store, plan, account_id, day) for _score, account_id in at_risk[:count]]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _estimate(
    value: float | None, interval: metrics.Interval | None, sample: metrics.Sample
) -> str:
    """``72% (63-80)``, or ``too few (9)`` below the minimum: never a bare small-sample figure."""
    if not sample.enough:
        return f"too few ({sample.n})"
    if value is None or interval is None:
        return _percent(value)
    return f"{value:.0%} ({interval.low * 100:.0f}-{interval.high * 100:.0f})"


def _differences(comparisons: Sequence[metrics.Comparison]) -> str:
    """Pilot minus hold-out, each figure with its interval; the short ones named once."""
    shown = [
        f"{_FIGURES[c.figure]} {c.difference * 100:+.1f} pts "
        f"({c.interval.low * 100:+.1f} to {c.interval.high * 100:+.1f})"
        for c in comparisons
        if c.interval is not None and c.difference is not None
    ]
    short = [c for c in comparisons if c.interval is None or c.difference is None]
    if short:
        reasons = dict.fromkeys(
            (c.withheld or "").replace("control:", f"{COHORT_NAMES['control']}:") for c in short
        )
        shown.append(
            f"{', '.join(_FIGURES[c.figure] for c in short)} not yet measurable "
            f"({'; '.join(reasons)})"
        )
    return "; ".join(shown)


_FIGURES = {"rate": "reversal", "grr": "GRR", "nrr": "NRR", "logo_renewal_rate": "logo rate"}


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} h"


def _by_cohort(groups: Sequence[Any]) -> dict[str, Any]:
    return {getattr(g, "group", None) or "": g for g in groups}


def _reason(health: AccountHealth) -> str:
    active = [r for r in health.rules if r.state in ("fired", "active")]
    if active:
        rule = active[0]
        return f"{rule.description}: {describe_match(rule.matches[0])}"
    return health.next_action.why


def render(result: DemoResult, store: Store, worst: Sequence[AccountHealth]) -> str:
    """The summary as text; ``worst`` from :func:`most_at_risk`."""
    book = result.book
    first_run = result.first_run
    live = live_ids(store.reader, result.end)
    segments = Counter(a.segment for a in book)
    groups = len({a.csm_group for a in book})
    lines = [
        f"Built a book of {len(book):,} accounts in {groups} CSM groups "
        f"({', '.join(f'{n:,} {s}' for s, n in sorted(segments.items()))}), "
        f"{(result.end - result.first_day).days + 1} days of data from {result.first_day} "
        f"to {result.end}: {result.usage_rows:,} usage rows and {result.records:,} other "
        f"records; {result.runs} weekly runs from {first_run}.",
        f"Pilot {PILOT_ID}: live playbooks for {PILOT_GROUP}, {PILOT_HOLDOUT:.0%} of its "
        "accounts held out as control; every other group in shadow mode. Simulated CSMs "
        f"completed {result.tasks_completed:,} tasks and dismissed {result.tasks_dismissed:,}; "
        f"{result.renewals:,} renewals were decided, {result.churned:,} of them churned.",
        "",
    ]
    lines.append(f"Most at risk now ({len(live):,} live accounts):")
    for health in worst:
        account = health.account
        score = (
            f"score {health.score.value:.0f} {health.score.grade}" if health.score else "no score"
        )
        lines += [
            f"  {account.account_id}  {account.name} ({account.csm_group}, ARR "
            f"{account.arr:,.0f}, renews {account.renewal_date}), {score}",
            f"      why:  {_reason(health)}",
            f"      next: {health.next_action.action}",
        ]
    found = headlines(store, first_run, result.end)
    reversal = _by_cohort(found.reversal.groups)
    retention = _by_cohort(found.retention.groups)
    ack = found.acknowledgement.overall
    completion = found.completion.overall
    header = "".join(f"{COHORT_NAMES[c]:>16}" for c in COHORTS)
    lines += [
        "",
        f"Headline metrics, {first_run} to {result.end}      {header}",
        _row(
            "At-Risk back to Healthy in 60 days",
            reversal,
            lambda g: _estimate(g.rate, g.rate_interval, g.sample),
        ),
        _row(
            "renewals: gross revenue retention",
            retention,
            lambda g: _estimate(g.grr, g.grr_interval, g.sample),
        ),
        _row(
            "renewals: net revenue retention",
            retention,
            lambda g: _estimate(g.nrr, g.nrr_interval, g.sample),
        ),
        _row(
            "renewals: logo renewal rate",
            retention,
            lambda g: _estimate(g.logo_renewal_rate, g.logo_renewal_rate_interval, g.sample),
        ),
        _row("renewals due (the sample)", retention, lambda g: f"{g.renewals:,}"),
        "  Pilot minus hold-out: "
        + _differences([*found.reversal.comparisons, *found.retention.comparisons]),
        f"  (in brackets: {found.retention.confidence:.0%} interval; too few (N): under "
        f"{found.retention.overall.sample.minimum} renewals or risk episodes, no figure)",
        f"Time to acknowledge (pilot tasks): median {_hours(ack.median_hours)}, p90 "
        f"{_hours(ack.p90_hours)} over {ack.acknowledged} acknowledged, "
        f"{ack.unacknowledged_open} still open",
        "Playbook completion: "
        f"{_estimate(completion.rate, completion.rate_interval, completion.sample)} "
        f"of {completion.with_tasks} live runs "
        f"with tasks ({completion.tasks_done} tasks done, {completion.tasks_dismissed} dismissed)",
        "Renewal rate by risk cohort (At-Risk in the 90 days before renewal): "
        + "; ".join(
            f"{row.risk_cohort.replace('_', ' ')} "
            f"{_estimate(row.logo_renewal_rate, row.logo_renewal_rate_interval, row.sample)} "
            f"of {row.renewals}"
            for row in found.by_risk.overall
        ),
        f"Discount on renewals flagged At-Risk: {_points(found.discounts.overall.flagged)} vs "
        f"{_points(found.discounts.overall.not_flagged)} on the others",
        "",
        "The pilot's effect comes from the simulation: a completed task lifts the account's "
        "hidden health in most cases (docs/demo.md); telltales only measures it.",
    ]
    return "\n".join(lines)


def _points(numbers: DiscountNumbers) -> str:
    if not numbers.sample.enough:
        return f"too few renewals yet ({numbers.renewals})"
    if numbers.mean_discount_percent is None:
        return "-"
    spread = numbers.mean_interval
    within = "" if spread is None else f" ({spread.low:.1f}-{spread.high:.1f})"
    return f"{numbers.mean_discount_percent:.1f}%{within} on average over {numbers.renewals}"


def _row(label: str, groups: dict[str, Any], show: Callable[[Any], str]) -> str:
    cells = "".join(f"{(show(groups[c]) if c in groups else '-'):>16}" for c in COHORTS)
    return f"  {label:<44}{cells}"
