"""Rules: named conditions over signals, scores and account fields, and what they set.

A rule holds for an account when every one of its conditions holds. It *fires* once
it has held for ``hold_days`` (damping a one-day blip), and a rule that fired does
not fire again for the same account within ``cooldown_days``. While a rule that
fired keeps holding it stays *active*; the account's status is the worst status set
by its active rules, Healthy when none is (docs/playbooks.md).

Two things keep a status calm. A condition may clear at another threshold than the
one it fires at (``below = -0.30, clears_above = -0.15``): once the rule is active,
the value must get past the clearing threshold before the rule lets go, so a value
wavering around the firing threshold does not flip the status each day. And a rule
may hold its status for ``min_stay_days`` from its firing even when its conditions
stop holding: a status that a person was just asked to act on does not vanish
under them a week later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

import msgspec

from telltales.contracts import RuleFiring, RuleMatch
from telltales.models import Account, HealthStatus, LifecycleStage, Score, Signal
from telltales.signals.scorecards.reading import describe_score

Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
STATUS_RANK: dict[str, int] = {"healthy": 0, "concern": 1, "at_risk": 2}
STATUSES: tuple[HealthStatus, ...] = ("healthy", "concern", "at_risk")
DEFAULT_LABELS: dict[str, str] = {
    "healthy": "Healthy",
    "concern": "Concern",
    "at_risk": "At-Risk",
    "inactive": "Inactive",
}
"""The labels of the statuses; ``inactive`` is no rule's: an account no longer live."""

ACCOUNT_TEXT_FIELDS = ("lifecycle_stage", "segment", "csm_group", "industry", "owner")
ACCOUNT_NUMBER_FIELDS = ("arr", "seats_purchased", "seats_assigned", "employee_count")
LIFECYCLE_STAGES: tuple[str, ...] = get_args(LifecycleStage)
NAME = re.compile(r"^[a-z][a-z0-9_]*$")

Days = Annotated[int, msgspec.Meta(ge=0, le=3650)]


class ConditionSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One comparison, as written in TOML: one subject and one test."""

    signal: str | None = None
    score: str | None = None
    grade: str | None = None
    account: str | None = None
    below: float | None = None
    at_most: float | None = None
    above: float | None = None
    at_least: float | None = None
    equals: float | str | None = None
    one_of: list[str] | None = None
    clears_above: float | None = None
    """With ``below``/``at_most``: once the rule is active it lets go only when the
    value rises above this (hysteresis)."""
    clears_below: float | None = None
    """With ``above``/``at_least``: once active, it lets go only below this."""


class RuleSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    description: Annotated[str, msgspec.Meta(min_length=1)]
    status: HealthStatus
    severity: Severity = "medium"
    conditions: Annotated[list[ConditionSpec], msgspec.Meta(min_length=1)]
    hold_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 1
    cooldown_days: Days = 0
    min_stay_days: Days = 0
    """Once fired, the rule stays active at least this many days (from its firing day)
    even if its conditions stop holding."""
    next_action: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    """What the owner should do while this rule holds the status."""
    next_action_by_dimension: dict[str, Annotated[str, msgspec.Meta(min_length=1)]] | None = None
    """For a rule on a score or grade: the action per weakest dimension (scorecard
    component); ``next_action`` for the dimensions not listed."""
    enabled: bool = True


SUBJECTS = ("signal", "score", "grade", "account")
TESTS = ("below", "at_most", "above", "at_least", "equals", "one_of")
_WORDS = {
    "below": "below",
    "at_most": "at most",
    "above": "above",
    "at_least": "at least",
    "equals": "equals",
    "one_of": "one of",
}


@dataclass(frozen=True)
class Condition:
    """A checked condition: ``kind`` is one of SUBJECTS, ``name`` the key, scorer or field."""

    kind: str
    name: str
    test: str
    operand: float | str | tuple[str, ...]
    clears: float | None = None
    """Where an active rule lets go (``clears_above`` or ``clears_below``); None: where
    it fires."""

    @property
    def subject(self) -> str:
        if self.kind == "signal":
            return self.name
        return f"{self.kind}.{self.name}"

    @property
    def comparison(self) -> str:
        operand = self.operand
        if isinstance(operand, tuple):
            shown = ", ".join(repr(item) for item in operand)
            return f"one of {shown}"
        shown = repr(operand) if isinstance(operand, str) else _number(operand)
        return f"{_WORDS[self.test]} {shown}"

    @property
    def clearing(self) -> str:
        """``clears above -0.15``: the test an active rule keeps holding by."""
        if self.clears is None:
            return self.comparison
        side = "above" if self.test in ("below", "at_most") else "below"
        return f"{self.comparison}, clears {side} {_number(self.clears)}"

    def keeps(self, value: float | str) -> bool:
        """Whether the condition still holds for a rule already active: by the clearing
        threshold when there is one, else by the firing test."""
        if self.clears is None or isinstance(value, str):
            return self.passes(value)
        if self.test in ("below", "at_most"):
            return value <= self.clears
        return value >= self.clears

    def passes(self, value: float | str) -> bool:
        operand = self.operand
        if self.test == "one_of":
            return isinstance(operand, tuple) and value in operand
        if self.test == "equals":
            return value == operand
        if isinstance(value, str) or isinstance(operand, str | tuple):
            return False
        if self.test == "below":
            return value < operand
        if self.test == "at_most":
            return value <= operand
        if self.test == "above":
            return value > operand
        return value >= operand


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    status: HealthStatus
    severity: Severity
    conditions: tuple[Condition, ...]
    hold_days: int
    cooldown_days: int
    shipped: bool
    min_stay_days: int = 0
    next_action: str | None = None
    next_action_by_dimension: Mapping[str, str] = field(default_factory=dict)

    def matches(
        self,
        account: Account,
        signals: Mapping[str, Signal],
        scores: Mapping[str, Score],
        *,
        active: bool = False,
    ) -> tuple[RuleMatch, ...] | None:
        """Every condition's value and evidence when all hold, else None.

        ``active``: the rule is active since an earlier day, so each condition is
        tested by where it clears (hysteresis) rather than where it fires. A missing
        signal or score makes its condition fail: a rule never fires on data it does
        not have.
        """
        found: list[RuleMatch] = []
        for condition in self.conditions:
            observed = _observe(condition, account, signals, scores)
            if observed is None:
                return None
            value, evidence = observed
            holds = condition.keeps(value) if active else condition.passes(value)
            if not holds:
                return None
            fires = condition.passes(value)
            found.append(
                RuleMatch(
                    subject=condition.subject,
                    value=value,
                    comparison=condition.comparison if fires else condition.clearing,
                    evidence=evidence,
                )
            )
        return tuple(found)

    def action_for(self, dimension: str | None) -> str | None:
        """The next action this rule asks for, for the weakest dimension when given."""
        if dimension is not None and dimension in self.next_action_by_dimension:
            return self.next_action_by_dimension[dimension]
        return self.next_action


def _observe(
    condition: Condition,
    account: Account,
    signals: Mapping[str, Signal],
    scores: Mapping[str, Score],
) -> tuple[float | str, str] | None:
    if condition.kind == "signal":
        signal = signals.get(condition.name)
        return None if signal is None else (signal.value, signal.evidence)
    if condition.kind in ("score", "grade"):
        score = scores.get(condition.name)
        if score is None:
            return None
        shown = "insufficient data" if score.value is None else f"{score.value:.1f}"
        evidence = (
            f"{condition.name} score {shown}, graded {score.grade} ({score.label}), "
            f"coverage {score.coverage:.0%}"
        )
        reason = describe_score(score)
        if reason:
            # What drives the grade, never the grade alone.
            evidence = f"{evidence}; {reason}"
        if condition.kind == "grade":
            return score.grade, evidence
        return None if score.value is None else (score.value, evidence)
    value: Any = getattr(account, condition.name)
    if value is None:
        return None
    if not isinstance(value, str):
        value = float(value)
    shown = value if isinstance(value, str) else _number(value)
    return value, f"{account.name}'s {condition.name.replace('_', ' ')} is {shown}"


def compile_condition(spec: ConditionSpec) -> Condition | str:
    """The checked condition, or what is wrong with it (for the caller to place)."""
    subjects = [(kind, getattr(spec, kind)) for kind in SUBJECTS if getattr(spec, kind) is not None]
    tests = [(test, getattr(spec, test)) for test in TESTS if getattr(spec, test) is not None]
    if len(subjects) != 1:
        return f"name exactly one of {', '.join(SUBJECTS)} (got {len(subjects)})"
    if len(tests) != 1:
        return f"give exactly one test of {', '.join(TESTS)} (got {len(tests)})"
    (kind, name), (test, operand) = subjects[0], tests[0]
    if isinstance(operand, float) and not math.isfinite(operand):
        return f"{test} must be a finite number"
    clears = _clearing(spec, test, operand)
    if isinstance(clears, str):
        return clears
    if test == "one_of" and not operand:
        return "one_of needs at least one value"
    if kind == "grade":
        grades = ("green", "amber", "red", "insufficient_data")
        chosen = operand if isinstance(operand, list) else [operand]
        if test not in ("equals", "one_of") or any(g not in grades for g in chosen):
            return f"a grade is compared with equals or one_of, over {', '.join(grades)}"
    elif kind == "account":
        if name in ACCOUNT_TEXT_FIELDS:
            if test not in ("equals", "one_of") or not isinstance(operand, str | list):
                return f"account field {name!r} is text: compare it with equals or one_of"
            stages = operand if isinstance(operand, list) else [operand]
            wrong = [stage for stage in stages if stage not in LIFECYCLE_STAGES]
            if name == "lifecycle_stage" and wrong:
                # A misspelt stage would make the rule silently never hold.
                return (
                    f"account field 'lifecycle_stage' is one of {', '.join(LIFECYCLE_STAGES)} "
                    f"(got {wrong[0]!r})"
                )
        elif name in ACCOUNT_NUMBER_FIELDS:
            if test == "one_of" or isinstance(operand, str):
                return f"account field {name!r} is a number: compare it with a number"
        else:
            known = ", ".join(ACCOUNT_TEXT_FIELDS + ACCOUNT_NUMBER_FIELDS)
            return f"unknown account field {name!r} (known: {known})"
    elif test == "one_of" or isinstance(operand, str):
        return f"a {kind} is a number: compare it with below, at_most, above, at_least or equals"
    if clears is not None and (
        kind == "grade" or (kind == "account" and name in ACCOUNT_TEXT_FIELDS)
    ):
        return f"clears_above and clears_below need a number to compare, not a {kind}'s text"
    final: float | str | tuple[str, ...] = tuple(operand) if isinstance(operand, list) else operand
    return Condition(kind=kind, name=name, test=test, operand=final, clears=clears)


def _clearing(spec: ConditionSpec, test: str, operand: object) -> float | str | None:
    """The checked clearing threshold, or what is wrong with it."""
    if spec.clears_above is not None and spec.clears_below is not None:
        return "give at most one of clears_above and clears_below"
    for field_name, goes_with in (
        ("clears_above", ("below", "at_most")),
        ("clears_below", ("above", "at_least")),
    ):
        clears = getattr(spec, field_name)
        if clears is None:
            continue
        if not math.isfinite(clears):
            return f"{field_name} must be a finite number"
        if test not in goes_with:
            return f"{field_name} goes with {' or '.join(goes_with)}, not {test}"
        assert isinstance(operand, int | float)
        wrong_side = clears < operand if field_name == "clears_above" else clears > operand
        if wrong_side:
            side = "below" if field_name == "clears_above" else "above"
            return (
                f"{field_name} = {_number(clears)} is {side} where the rule fires "
                f"({_WORDS[test]} {_number(operand)}): it must be at or past the firing "
                "threshold, on the side the value recovers to"
            )
        return float(clears)
    return None


def worst_status(statuses: Sequence[str]) -> HealthStatus:
    """The most severe of ``statuses``; Healthy when there are none."""
    worst: HealthStatus = "healthy"
    for status in statuses:
        if STATUS_RANK[status] > STATUS_RANK[worst]:
            worst = status  # type: ignore[assignment]
    return worst


def _number(value: float) -> str:
    """``80``, ``0.35``, ``1234567.5``: every digit that matters, never an exponent's loss."""
    return str(int(value)) if value == int(value) else f"{value:.15g}"


def _shown_value(match: RuleMatch) -> str:
    """The value to 4 decimals, or as many more as keep it on its side of the threshold.

    ``0.49996`` rounded is ``0.5``, and "0.5 (below 0.5)" would contradict itself.
    """
    value = match.value
    if isinstance(value, str):
        return value
    threshold: tuple[str, float] | None = None
    for test, word in _WORDS.items():
        if test not in ("equals", "one_of") and match.comparison.startswith(f"{word} "):
            try:
                threshold = test, float(match.comparison[len(word) + 1 :])
            except ValueError:
                threshold = None
            break
    for digits in range(4, 16):
        rounded = round(value, digits)
        if threshold is None or Condition("signal", "", *threshold).passes(rounded):
            return _number(rounded)
    return _number(value)


def describe_match(match: RuleMatch) -> str:
    """``telemetry.seat_utilization_30d = 0.3 (below 0.5): 24 of 80 seats active ...``."""
    return f"{match.subject} = {_shown_value(match)} ({match.comparison}): {match.evidence}"


def describe_firing(firing: RuleFiring) -> str:
    """One line naming the rule, what it means, and every condition's value and evidence."""
    matches = "; ".join(describe_match(match) for match in firing.matches)
    return f"rule {firing.rule} ({firing.description}): {matches}"


_AGREEING_GRADE = {"healthy": "green", "at_risk": "red"}
_OPPOSITE_GRADE = {"healthy": "red", "at_risk": "green"}


def grade_disagreement(
    status: str,
    score: Score | None,
    causes: Sequence[RuleFiring],
    labels: Mapping[str, str],
) -> str | None:
    """Why a status contradicts the health grade, naming the rule that holds it; None
    when they do not contradict (At-Risk with green, Healthy with red do).

    A CSM who sees At-Risk beside a green score trusts neither unless the first words
    say which rule overrides the score.
    """
    if score is None or score.value is None or _OPPOSITE_GRADE.get(status) != score.grade:
        return None
    graded = f"the health score is {score.value:.1f}, graded {score.grade} ({score.label})"
    if causes:
        names = ", ".join(f"{c.rule} ({c.description})" for c in causes)
        return f"{labels[status]} by rule {names}, although {graded}"
    return f"{labels[status]}: no rule that sets a status holds, although {graded}"
