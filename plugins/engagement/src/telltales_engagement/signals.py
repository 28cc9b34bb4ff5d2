"""The engagement source: cadence and reviews from activities, ROI from outcomes.

Two queries per run, one per table, each for every account of the batch. Both read
only what existed on the run's day: activities dated on or before it, outcomes
planned on or before it, verifications made on or before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import NamedTuple

from telltales import BATCH_TABLE, DataDays, Freshness, Signal, SignalBatch, SignalSpec

from .settings import Settings

_ACTIVITIES = f"""
    WITH acts AS (
        SELECT a.account_id, a.day, a.kind,
               a.kind IN (SELECT value FROM json_each(:touch_kinds)) AS is_touch
        FROM {BATCH_TABLE} b CROSS JOIN engagement_activities a
        WHERE a.account_id = b.account_id AND a.day <= :as_of
    ),
    per_account AS (
        SELECT account_id,
               min(day) AS first_day,
               max(CASE WHEN is_touch THEN day END) AS last_touch,
               sum(is_touch AND day >= :since) AS touches,
               max(CASE WHEN kind IN ('value_review', 'business_review') THEN day END)
                   AS last_value_review,
               max(CASE WHEN kind = 'business_review' THEN day END) AS last_business_review
        FROM acts
        GROUP BY account_id
    )
    SELECT p.account_id, acc.segment, acc.customer_since, p.first_day, p.last_touch, p.touches,
           (SELECT group_concat(DISTINCT x.kind)
            FROM engagement_activities x
            WHERE x.account_id = p.account_id AND x.day = p.last_touch
              AND x.kind IN (SELECT value FROM json_each(:touch_kinds))) AS last_touch_kinds,
           p.last_value_review, p.last_business_review
    FROM per_account p
    JOIN accounts acc ON acc.account_id = p.account_id
"""

_OUTCOMES = f"""
    SELECT o.account_id, o.title, o.due, o.status, o.verified_on, o.dropped_on
    FROM {BATCH_TABLE} b CROSS JOIN engagement_outcomes o
    WHERE o.account_id = b.account_id AND o.planned_on <= :as_of
    ORDER BY o.account_id, o.due, o.outcome_id
"""

_SHOWN_TITLES = 3
"""Outcome titles named in evidence before the rest are summed up as "and N more"."""


class EngagementSource:
    """Is the account met at the promised cadence, and are its agreed outcomes verified."""

    name = "engagement"
    freshness = Freshness(tables=(DataDays(table="engagement_activities"),), stale_after_days=30)
    """No CSM activity logged for any account in a month means the log stopped, not
    that every account went untouched."""
    settings_type = Settings
    signals = (
        SignalSpec(
            key="engagement.days_since_last_touch",
            dimension="engagement",
            description="days from the latest touch (an activity of a touch kind) to the run day",
            higher_is_better=False,
        ),
        SignalSpec(
            key="engagement.cadence_ratio",
            dimension="engagement",
            description=(
                "touches in the window / touches expected at the segment's cadence "
                "(ratio; 1.0 = on cadence)"
            ),
        ),
        SignalSpec(
            key="engagement.days_since_value_review",
            dimension="engagement",
            description="days from the latest value review or business review to the run day",
            higher_is_better=False,
        ),
        SignalSpec(
            key="engagement.value_review_overdue",
            dimension="engagement",
            description="no value review within value_review_every_days (1 = overdue, 0 = not)",
            higher_is_better=False,
        ),
        SignalSpec(
            key="engagement.business_review_overdue",
            dimension="engagement",
            description=(
                "no business review within business_review_every_days (1 = overdue, 0 = not)"
            ),
            higher_is_better=False,
        ),
        SignalSpec(
            key="engagement.roi_verified_share",
            dimension="roi",
            description="success-plan outcomes verified / outcomes due (share, 0..1)",
        ),
        SignalSpec(
            key="engagement.outcomes_planned",
            dimension="roi",
            description="success-plan outcomes planned and not dropped (count)",
            higher_is_better=None,
        ),
    )

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        settings: Settings = batch.settings
        yield from _activity_signals(batch, settings)
        yield from _outcome_signals(batch)


def _activity_signals(batch: SignalBatch, settings: Settings) -> Iterator[Signal]:
    as_of = batch.as_of
    since = as_of - timedelta(days=settings.window_days - 1)
    rows = batch.db.execute(
        _ACTIVITIES,
        {
            "as_of": as_of.isoformat(),
            "since": since.isoformat(),
            "touch_kinds": json.dumps(settings.touch_kinds),
        },
    )
    for (
        account_id,
        segment,
        since,
        first_day,
        last_touch,
        touches,
        last_touch_kinds,
        last_value_review,
        last_business_review,
    ) in rows:
        cadence_name, cadence = settings.cadence_for(segment)
        cadence_text = f"{cadence_name} cadence is every {cadence} days"
        if last_touch is not None:
            days = _days(last_touch, as_of)
            kinds = " and ".join(_label(k) for k in sorted(last_touch_kinds.split(",")))
            yield Signal(
                account_id=account_id,
                key="engagement.days_since_last_touch",
                value=days,
                dimension="engagement",
                evidence=f"last touch {_ago(days)} ({kinds} on {last_touch}); {cadence_text}",
            )
        # A young account's window starts at its customer-since day: nobody owed it a
        # touch before it was a customer.
        span = settings.window_days
        if since is not None:
            span = max(1, min(span, _days(since, as_of) + 1))
        expected = span / cadence
        ratio = touches / expected
        young = f", a customer since {since}" if span < settings.window_days else ""
        yield Signal(
            account_id=account_id,
            key="engagement.cadence_ratio",
            value=round(ratio, 4),
            dimension="engagement",
            evidence=(
                f"{_count(touches, 'touch', 'touches')} in the {span} days "
                f"to {as_of}{young} against {expected:.3g} expected at the {cadence_name} "
                f"cadence of every {cadence} days ({ratio:.2f})"
            ),
        )
        value_review_kind = (
            "business_review" if last_value_review == last_business_review else "value_review"
        )
        if last_value_review is not None:
            days = _days(last_value_review, as_of)
            yield Signal(
                account_id=account_id,
                key="engagement.days_since_value_review",
                value=days,
                dimension="engagement",
                evidence=(
                    f"last value review {_ago(days)} ({_label(value_review_kind)} on "
                    f"{last_value_review}); one is expected every "
                    f"{settings.value_review_every_days} days"
                ),
            )
        yield _overdue(
            account_id,
            "engagement.value_review_overdue",
            "value review",
            last_value_review,
            _label(value_review_kind),
            settings.value_review_every_days,
            as_of,
            first_day,
        )
        yield _overdue(
            account_id,
            "engagement.business_review_overdue",
            "business review",
            last_business_review,
            "business review",
            settings.business_review_every_days,
            as_of,
            first_day,
        )


def _overdue(
    account_id: str,
    key: str,
    review: str,
    last: str | None,
    kind: str,
    every: int,
    as_of: date,
    first_day: str,
) -> Signal:
    """1 when more than ``every`` days passed since the last review of this sort.

    An account that never had one is measured from its first recorded activity: a
    customer met for the first time 20 days ago has not missed a quarterly review,
    one met for a year without any has.
    """
    days = _days(last or first_day, as_of)
    overdue = days > every
    comparison = "more than" if overdue else "within"
    if last is None:
        evidence = (
            f"no {review} on record up to {as_of}; activities began {_ago(days)} "
            f"(on {first_day}), {comparison} the {every} days allowed before the first one"
        )
    else:
        evidence = (
            f"last {review} {_ago(days)} ({kind} on {last}), "
            f"{comparison} the {every} days allowed between {review}s"
        )
    return Signal(
        account_id=account_id,
        key=key,
        value=1 if overdue else 0,
        dimension="engagement",
        evidence=evidence,
    )


class _Outcome(NamedTuple):
    """One outcome as it stood on the run's day."""

    title: str
    due: str
    status: str
    verified: bool
    """Verified on or before the run's day: a later verification had not happened yet."""


def _outcome_signals(batch: SignalBatch) -> Iterator[Signal]:
    as_of = batch.as_of.isoformat()
    by_account: dict[str, list[_Outcome]] = {}
    for account_id, title, due, status, verified_on, dropped_on in batch.db.execute(
        _OUTCOMES, {"as_of": as_of}
    ):
        if status == "dropped" and dropped_on > as_of:
            status = "planned"  # dropped later: still open on the run's day
        verified = verified_on is not None and verified_on <= as_of
        by_account.setdefault(account_id, []).append(_Outcome(title, due, status, verified))
    for account_id, outcomes in by_account.items():
        live = [o for o in outcomes if o.status != "dropped"]
        dropped = len(outcomes) - len(live)
        verified = sum(o.verified for o in live)
        # Missed is known once the due date has passed; until then the outcome was open.
        missed = sum(o.status == "missed" and o.due <= as_of for o in live)
        dropped_text = f"; {dropped} dropped, not counted" if dropped else ""
        yield Signal(
            account_id=account_id,
            key="engagement.outcomes_planned",
            value=len(live),
            dimension="roi",
            evidence=(
                f"{_count(len(live), 'success-plan outcome', 'success-plan outcomes')} "
                f"planned by {as_of}: {verified} verified, {missed} missed, "
                f"{len(live) - verified - missed} open{dropped_text}"
            ),
        )
        # Verified ahead of its due date is a result to count now, not a future one.
        due = [o for o in live if o.due <= as_of or o.verified]
        if due:
            yield _roi_signal(account_id, due, as_of)


def _roi_signal(account_id: str, due: Sequence[_Outcome], as_of: str) -> Signal:
    verified = sum(o.verified for o in due)
    share = verified / len(due)
    evidence = (
        f"{verified} of {_count(len(due), 'success-plan outcome', 'success-plan outcomes')} "
        f"due by {as_of} verified ({share:.0%})"
    )
    early = sum(o.verified and o.due > as_of for o in due)
    if early:
        evidence += f", counting {early} verified ahead of " + (
            "its due date" if early == 1 else "their due dates"
        )
    missed = [o.title for o in due if o.status == "missed"]
    if missed:
        evidence += f"; missed: {_titles(missed)}"
    past_due = [o.title for o in due if not o.verified and o.status != "missed"]
    if past_due:
        evidence += f"; past due and not verified: {_titles(past_due)}"
    return Signal(
        account_id=account_id,
        key="engagement.roi_verified_share",
        value=round(share, 4),
        dimension="roi",
        evidence=evidence,
    )


def _days(day: str, as_of: date) -> int:
    return (as_of - date.fromisoformat(day)).days


def _ago(days: int) -> str:
    if days == 0:
        return "today"
    return f"{_count(days, 'day', 'days')} ago"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _label(kind: str) -> str:
    return kind.replace("_", " ")


def _titles(titles: Sequence[str]) -> str:
    shown = ", ".join(f"'{t}'" for t in titles[:_SHOWN_TITLES])
    rest = len(titles) - _SHOWN_TITLES
    return f"{shown} and {rest} more" if rest > 0 else shown
