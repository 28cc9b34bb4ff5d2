"""The observation table: one row per account and day judged, with what came next.

An *observation* is (account, day d) for an account live on d, with what was known
on d: its score under each scorecard judged, its grade, the rules flagging it and
its status, all from a replay as of d (:mod:`telltales.backtest.replay`): the scores and
measured values it kept for each day, the rules' hits and the transitions it recorded. Its
*outcome* is whether the account churned (or, configured, contracted) within the
horizon H after d: on a day e with d < e <= d + H. Outcomes come from what the
store recorded: renewal outcomes (``renewals``) and lifecycle versions saying
``churned`` (``account_versions``). An observation whose horizon is not over
(d + H after the last day outcomes are known) has no outcome (None): it stays in
the table, for the episodes and flaps it belongs to, but is never judged, and is
counted as left out. A faster replay or a learned card reads this same table.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Literal

import msgspec
from sqlite_utils import Database

from telltales.engine.replay import DayReadings
from telltales.playbooks.statuses import ACTIVE_STATES
from telltales.signals.scorecards import HEALTH_SCORER, Card
from telltales.store.history import live_ids, versions_on

OutcomeKind = Literal["churn", "contraction"]
CONFIGURED = "[scoring]"
"""The key of the scores the health scorer gave as configured (``[scoring]``, a card
per segment): never a card's name, which is lowercase letters, digits and ``_``."""


class Observation(msgspec.Struct, kw_only=True, frozen=True):
    """One account on one day, as known that day, and what happened next."""

    account_id: str
    day: date
    owner: str
    """The account's owner (CSM) on ``day``."""
    csm_group: str
    segment: str
    outcome: bool | None
    """Churned (or contracted) within the horizon; None while the horizon is not over."""
    outcome_day: date | None
    """The first day of that churn (or contraction) within the horizon."""
    scores: dict[str, float | None]
    """Score per scorecard judged (``[scoring]`` and each card asked for); None when
    its coverage was too low to grade (Insufficient data)."""
    grades: dict[str, str]
    rules: list[str]
    """The rules flagging the account that day: fired, or still active since."""
    fired: list[str]
    """The rules that fired that day: each an alert to its owner."""
    status: str
    """The account's status after that day's run (healthy, concern, at_risk)."""
    values: dict[str, float] = msgspec.field(default_factory=dict)
    """The value of each measured signal the account had that day (the keys of every
    card known to the configuration), so a card can be rescored or fitted from the
    observations alone (``telltales scorecards fit``). Empty in backtests stored before
    they were kept."""
    days_to_renewal: int | None = None
    """Days from ``day`` to the renewal date of the account's version in force that day
    (negative when that date was past); None without one. The report's baseline."""


def outcome_days(db: Database, kind: OutcomeKind) -> dict[str, list[date]]:
    """Each account's days of churn (and, for ``contraction``, of renewals at a lower
    ARR: a churn is a contraction to nothing), sorted."""
    found: dict[str, set[str]] = {}
    rows = db.execute(
        "SELECT account_id, renewal_date FROM renewals WHERE outcome = 'churned'"
        + (" OR arr_after < arr_before" if kind == "contraction" else "")
    ).fetchall()
    rows += db.execute(
        "SELECT v.account_id, v.as_of FROM account_versions v WHERE v.lifecycle = 'churned' "
        "AND coalesce((SELECT p.lifecycle FROM account_versions p WHERE p.account_id = "
        "v.account_id AND p.as_of < v.as_of ORDER BY p.as_of DESC LIMIT 1), '') != 'churned'"
    ).fetchall()
    for account_id, day in rows:
        found.setdefault(account_id, set()).add(day)
    return {a: sorted(date.fromisoformat(d) for d in days) for a, days in found.items()}


def last_known_day(db: Database, today: date) -> date | None:
    """The last day outcomes are known by default: the latest renewal or account version
    the store holds (not after today). Renewals recorded late would read as none; say
    the day with ``--outcomes-through`` then."""
    (latest,) = db.execute(
        "SELECT max(day) FROM (SELECT max(renewal_date) AS day FROM renewals "
        "UNION ALL SELECT max(as_of) FROM account_versions)"
    ).fetchone()
    if latest is None:
        return None
    return min(date.fromisoformat(latest), today)


def measured_keys(cards: Mapping[str, Card], measured: Sequence[str]) -> list[str]:
    """The signal keys whose values observations keep: ``measured`` and every key the
    ``cards`` judged measure."""
    return sorted({*measured, *(m.key for card in cards.values() for m in card.measures)})


def collect(
    db: Database,
    readings: Mapping[date, DayReadings],
    cards: Mapping[str, Card],
    *,
    horizon: int,
    kind: OutcomeKind,
    known_through: date,
) -> list[Observation]:
    """The observations of the days of ``readings`` (in order), from a replayed database
    (``db``: its versions, outcomes, rule hits and transitions) and what the replay kept
    of each day (the scores, and the values of the keys :func:`measured_keys` names)."""
    outcomes = outcome_days(db, kind)
    statuses = _status_history(db)
    found: list[Observation] = []
    for day, kept in readings.items():
        text = day.isoformat()
        live = live_ids(db, day)
        versions = versions_on(db, day, live)
        stored = kept.scores
        values = kept.values
        rescored = _rescore(values, live, cards) if cards else {}
        flagging: dict[str, list[str]] = {}
        fired: dict[str, list[str]] = {}
        for account_id, rule, state in db.execute(
            "SELECT account_id, rule, state FROM rule_hits WHERE as_of = ? ORDER BY rule",
            [text],
        ):
            if state in ACTIVE_STATES:
                flagging.setdefault(account_id, []).append(rule)
            if state == "fired":
                fired.setdefault(account_id, []).append(rule)
        for account_id in live:
            version = versions[account_id]
            value, grade = stored.get(account_id, (None, "insufficient_data"))
            scores = {CONFIGURED: value}
            grades = {CONFIGURED: grade}
            for name, (card_value, card_grade) in rescored.get(account_id, {}).items():
                scores[name], grades[name] = card_value, card_grade
            outcome, outcome_day = _outcome(
                outcomes.get(account_id, ()), day, horizon, known_through
            )
            found.append(
                Observation(
                    account_id=account_id,
                    day=day,
                    owner=version.owner,
                    csm_group=version.csm_group,
                    segment=version.segment,
                    outcome=outcome,
                    outcome_day=outcome_day,
                    scores=scores,
                    grades=grades,
                    rules=flagging.get(account_id, []),
                    fired=fired.get(account_id, []),
                    status=_status_on(statuses.get(account_id), day),
                    values=values.get(account_id, {}),
                    days_to_renewal=(version.renewal_date - day).days
                    if version.renewal_date
                    else None,
                )
            )
    return found


def stored_readings(
    db: Database, days: Sequence[date], keys: Sequence[str]
) -> dict[date, DayReadings]:
    """What runs stored for each of ``days`` (the demo's weekly runs): each account's health
    score and grade, and the values of its signals of ``keys``; the same readings a
    replay keeps in memory."""
    found: dict[date, DayReadings] = {}
    for day in days:
        text = day.isoformat()
        values: dict[str, dict[str, float]] = {}
        for account_id, key, value in db.execute(
            "SELECT account_id, key, value FROM signals "
            "WHERE as_of = ? AND key IN (SELECT value FROM json_each(?))",
            [text, msgspec.json.encode(list(keys)).decode()],
        ):
            values.setdefault(account_id, {})[key] = value
        scores = {
            account_id: (value, grade)
            for account_id, value, grade in db.execute(
                "SELECT account_id, value, grade FROM scores WHERE as_of = ? AND scorer = ?",
                [text, HEALTH_SCORER],
            )
        }
        found[day] = DayReadings(scores=scores, values=values)
    return found


def score_of(card: Card, observation: Observation) -> tuple[float | None, str]:
    """``card``'s score and grade of an observation, from the measured values it kept:
    the same arithmetic a run applies to that day's signals."""
    return card.value_of(observation.values)


def _outcome(
    events: Sequence[date], day: date, horizon: int, known_through: date
) -> tuple[bool | None, date | None]:
    end = day + timedelta(days=horizon)
    if end > known_through:
        # Left out even when a churn is already known: keeping only the early churns of
        # the last days would raise their churn rate.
        return None, None
    position = bisect.bisect_right(events, day)
    first = events[position] if position < len(events) else None
    if first is not None and first <= end:
        return True, first
    return False, None


def _rescore(
    values: Mapping[str, Mapping[str, float]], live: Sequence[str], cards: Mapping[str, Card]
) -> dict[str, dict[str, tuple[float | None, str]]]:
    """Each card's score of each live account from the signals the replay stored for
    the day: the same measures the health scorer reads, through another card."""
    return {
        account_id: {
            name: card.value_of(values.get(account_id, {})) for name, card in cards.items()
        }
        for account_id in live
    }


def _status_history(db: Database) -> dict[str, tuple[list[str], list[str]]]:
    """Per account, the days of its status transitions and the status each set."""
    history: dict[str, tuple[list[str], list[str]]] = {}
    for account_id, day, status in db.execute(
        "SELECT account_id, as_of, to_status FROM transitions ORDER BY account_id, as_of, "
        "transition_id"
    ):
        days, states = history.setdefault(account_id, ([], []))
        days.append(day)
        states.append(status)
    return history


def _status_on(history: tuple[list[str], list[str]] | None, day: date) -> str:
    if history is None:
        return "healthy"
    days, states = history
    position = bisect.bisect_right(days, day.isoformat())
    return states[position - 1] if position else "healthy"
