"""Health statuses over several days: holds, cooldowns, transitions, replays and overrides.

A probe source reads the values each test sets per day and account, so every
expectation below is worked out by hand from the days' values. Runs go through
``engine.run`` with a plan, as ``telltales run`` does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
from telltales import Signal, SignalBatch, SignalSpec, hookimpl
from telltales.clock import moment
from telltales.engine.pipeline import run
from telltales.errors import InputError
from telltales.models import Account, RunActions, StatusTransition
from telltales.playbooks.overrides import Override, expiry_after, override_through, overrides_of
from telltales.playbooks.plan import Plan
from telltales.playbooks.rules import Condition, ConditionSpec, Rule, compile_condition
from telltales.playbooks.statuses import override_status, status_as_of, transitions_of
from telltales.plugins import Registry, load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.signals.scorecards import HEALTH_SCORER
from telltales.store import Store, open_store
from telltales.store.queries import get_account, scores_for
from telltales.store.series import SignalPoint, score_series, signal_series

START = date(2026, 11, 2)


def day(n: int) -> date:
    """Day ``n`` of a test, day 1 being 2026-11-02."""
    return START + timedelta(days=n - 1)


def clock(n: int, hour: int = 9) -> datetime:
    return datetime.combine(day(n), time(hour), tzinfo=UTC)


class Probe:
    """Signals ``probe.x`` and ``probe.y`` with the values set for each day and account."""

    name = "probe"
    signals = (
        SignalSpec(key="probe.x", dimension="adoption", description="a share"),
        SignalSpec(key="probe.y", dimension="current_state", description="a count"),
    )

    def __init__(self) -> None:
        self.values: dict[date, dict[str, dict[str, float]]] = {}
        self.fail_on: date | None = None

    def compute(self, batch: SignalBatch) -> list[Signal]:
        if batch.as_of == self.fail_on:
            raise ConnectionError("the probe's warehouse is down")
        today = self.values.get(batch.as_of, {})
        return [
            Signal(
                account_id=account_id,
                key=key,
                value=value,
                dimension="adoption",
                evidence=f"{key} was {value:g}",
            )
            for account_id in batch.account_ids
            for key, value in today.get(account_id, {}).items()
        ]


@dataclass
class World:
    store: Store
    registry: Registry
    probe: Probe

    def set(self, n: int, account_id: str = "a1", **values: float) -> None:
        """``set(3, x=0.4)``: on day 3 account a1's ``probe.x`` is 0.4 (and no other)."""
        self.probe.values.setdefault(day(n), {})[account_id] = {
            f"probe.{name}": value for name, value in values.items()
        }

    def run(self, n: int, *rules: Rule, hour: int = 9) -> RunActions:
        plan = Plan(rules={r.name: r for r in rules})
        result = run(self.store, self.registry, day(n), plan=plan, now=clock(n, hour))
        assert result.status == "ok", result.failures
        assert result.actions is not None
        return result.actions

    def transitions(self, account_id: str = "a1") -> list[tuple[Any, ...]]:
        return [
            (t.as_of, t.from_status, t.to_status, t.cause, t.rules, t.evidence)
            for t in transitions_of(self.store, account_id)
        ]

    def hits(self, account_id: str = "a1") -> list[tuple[str, str, str, str]]:
        return self.store.db.execute(
            "SELECT as_of, rule, state, held_since FROM rule_hits WHERE account_id = ? "
            "ORDER BY as_of, rule",
            [account_id],
        ).fetchall()

    def account(self, account_id: str = "a1") -> Account:
        return get_account(self.store, account_id)

    def count(self, table: str) -> int:
        (count,) = self.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert isinstance(count, int)
        return count


class Plugin:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    @hookimpl
    def register_signal_sources(self, register: Callable[[Probe], None]) -> None:
        register(self.probe)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    probe = Probe()
    registry = load_registry(extra=[("probe", Plugin(probe))], use_entry_points=False)
    assert registry.failures == []
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(tmp_path / "t.db", migrations, create=True) as store:
        accounts = [
            {"account_id": "a1", "name": "Acme", "owner": "kim", "csm_group": "emea"},
            {"account_id": "a2", "name": "Bee", "owner": "lee", "csm_group": "apac"},
        ]
        ingest(store, registry, "accounts", convert_records(registry, "accounts", accounts))
        yield World(store=store, registry=registry, probe=probe)


def rule(
    name: str,
    status: str = "concern",
    *,
    key: str = "probe.x",
    below: float | None = 0.5,
    above: float | None = None,
    hold_days: int = 1,
    cooldown_days: int = 0,
    severity: str = "medium",
    clears_above: float | None = None,
    min_stay_days: int = 0,
) -> Rule:
    spec = ConditionSpec(signal=key, above=above) if above is not None else None
    compiled = compile_condition(
        spec or ConditionSpec(signal=key, below=below, clears_above=clears_above)
    )
    assert isinstance(compiled, Condition)
    return Rule(
        name=name,
        description=f"{name} rule",
        status=status,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        conditions=(compiled,),
        hold_days=hold_days,
        cooldown_days=cooldown_days,
        shipped=False,
        min_stay_days=min_stay_days,
    )


def calm(n: int) -> str:
    return f"no rule that sets a status holds as of {day(n)}"


LOW = rule("low")
LOW_X = "rule low (low rule): probe.x = 0.4 (below 0.5): probe.x was 0.4"


def test_the_first_run_records_where_each_account_starts(world: World) -> None:
    world.set(1, "a1", x=0.9)
    world.set(1, "a2", x=0.4)
    actions = world.run(1, LOW)
    assert (actions.evaluated, actions.skipped, actions.rules_fired, actions.transitions) == (
        2,
        0,
        1,
        2,
    )
    assert world.transitions("a1") == [(day(1), None, "healthy", "rules", (), calm(1))]
    assert world.transitions("a2") == [(day(1), None, "concern", "rules", ("low",), LOW_X)]
    (first,) = transitions_of(world.store, "a2")
    assert (first.at, first.cohort, first.pilot_id, first.override_id) == (
        clock(1),
        "none",
        None,
        None,
    )


def test_a_hit_records_every_match_with_its_value_and_evidence(world: World) -> None:
    world.set(1, x=0.4, y=7)
    both = Rule(
        name="both",
        description="Low x and many y",
        status="at_risk",
        severity="high",
        conditions=(LOW.conditions[0], rule("y", key="probe.y", above=5).conditions[0]),
        hold_days=1,
        cooldown_days=0,
        shipped=False,
    )
    world.run(1, both)
    row = world.store.db.execute(
        "SELECT state, status, severity, mode, cohort, pilot_id, owner, csm_group, matches "
        "FROM rule_hits WHERE account_id = 'a1'"
    ).fetchone()
    assert row[:8] == ("fired", "at_risk", "high", "shadow", "none", None, "kim", "emea")
    assert msgspec.json.decode(row[8]) == [
        {
            "subject": "probe.x",
            "value": 0.4,
            "comparison": "below 0.5",
            "evidence": "probe.x was 0.4",
        },
        {"subject": "probe.y", "value": 7.0, "comparison": "above 5", "evidence": "probe.y was 7"},
    ]
    assert world.transitions() == [
        (
            day(1),
            None,
            "at_risk",
            "rules",
            ("both",),
            "rule both (Low x and many y): probe.x = 0.4 (below 0.5): probe.x was 0.4; "
            "probe.y = 7 (above 5): probe.y was 7",
        )
    ]


def test_a_rule_fires_only_once_it_has_held_for_hold_days(world: World) -> None:
    slow = rule("slow", hold_days=3)
    for n in range(1, 5):
        world.set(n, x=0.4)
    fired = [world.run(n, slow).rules_fired for n in range(1, 5)]
    assert fired == [0, 0, 1, 0]
    assert world.hits() == [
        ("2026-11-02", "slow", "pending", "2026-11-02"),
        ("2026-11-03", "slow", "pending", "2026-11-02"),
        ("2026-11-04", "slow", "fired", "2026-11-02"),
        ("2026-11-05", "slow", "active", "2026-11-02"),
    ]
    evidence = "rule slow (slow rule): probe.x = 0.4 (below 0.5): probe.x was 0.4"
    assert world.transitions() == [
        (day(1), None, "healthy", "rules", (), calm(1)),
        (day(3), "healthy", "concern", "rules", ("slow",), evidence),
    ]


def test_a_day_the_rule_does_not_hold_starts_the_count_again(world: World) -> None:
    slow = rule("slow", hold_days=3)
    for n, x in [(1, 0.4), (2, 0.4), (4, 0.4), (5, 0.4), (6, 0.4)]:
        world.set(n, x=x)
    world.set(3)  # no signal on day 3: a missing signal never holds
    for n in range(1, 7):
        world.run(n, slow)
    assert world.hits() == [
        ("2026-11-02", "slow", "pending", "2026-11-02"),
        ("2026-11-03", "slow", "pending", "2026-11-02"),
        ("2026-11-05", "slow", "pending", "2026-11-05"),
        ("2026-11-06", "slow", "pending", "2026-11-05"),
        ("2026-11-07", "slow", "fired", "2026-11-05"),
    ]
    assert [t[:3] for t in world.transitions()] == [
        (day(1), None, "healthy"),
        (day(6), "healthy", "concern"),
    ]


def test_a_day_without_any_run_keeps_the_hold_and_days_count_by_the_calendar(
    world: World,
) -> None:
    slow = rule("slow", hold_days=4)
    for n in (1, 2, 4):
        world.set(n, x=0.4)
        world.run(n, slow)
    # Held since day 1 as last seen on day 2; on day 4 it has held for 4 days.
    assert world.hits()[-1] == ("2026-11-05", "slow", "fired", "2026-11-02")


def test_a_rule_that_fired_stays_active_while_it_holds(world: World) -> None:
    for n in range(1, 4):
        world.set(n, x=0.4)
    fired = [world.run(n, LOW).rules_fired for n in range(1, 4)]
    assert fired == [1, 0, 0]
    assert [state for _, _, state, _ in world.hits()] == ["fired", "active", "active"]
    assert world.transitions() == [(day(1), None, "concern", "rules", ("low",), LOW_X)]


def test_an_active_rule_lets_go_only_past_its_clearing_threshold(world: World) -> None:
    # Fires below 0.5, clears only above 0.6: 0.55 keeps it active, 0.65 ends it, and
    # 0.55 afterwards does not fire it again (that takes below 0.5).
    sticky = rule("sticky", "at_risk", clears_above=0.6)
    for n, x in enumerate((0.4, 0.55, 0.6, 0.65, 0.55, 0.45), start=1):
        world.set(n, x=x)
        world.run(n, sticky)
    assert [(as_of, state) for as_of, _, state, _ in world.hits()] == [
        ("2026-11-02", "fired"),
        ("2026-11-03", "active"),
        ("2026-11-04", "active"),
        ("2026-11-07", "fired"),
    ]
    still = world.store.db.execute(
        "SELECT matches FROM rule_hits WHERE account_id = 'a1' AND as_of = '2026-11-03'"
    ).fetchone()[0]
    assert '"comparison":"below 0.5, clears above 0.6"' in still
    assert [(t[0], t[2]) for t in world.transitions()] == [
        (day(1), "at_risk"),
        (day(4), "healthy"),
        (day(6), "at_risk"),
    ]


def test_without_a_clearing_threshold_the_rule_lets_go_where_it_fires(world: World) -> None:
    plain = rule("plain", "at_risk")
    for n, x in enumerate((0.4, 0.55), start=1):
        world.set(n, x=x)
        world.run(n, plain)
    assert [(t[0], t[2]) for t in world.transitions()] == [(day(1), "at_risk"), (day(2), "healthy")]


def test_a_minimum_stay_holds_the_status_after_the_conditions_stop(world: World) -> None:
    stay = rule("stay", "at_risk", min_stay_days=3)
    world.set(1, x=0.4)
    for n in range(1, 6):
        world.run(n, stay)
    # Fired on day 1; days 2 and 3 are within 3 days of it: held; day 4 lets go.
    assert [(as_of, state) for as_of, _, state, _ in world.hits()] == [
        ("2026-11-02", "fired"),
        ("2026-11-03", "held"),
        ("2026-11-04", "held"),
    ]
    stay_x = "rule stay (stay rule): probe.x = 0.4 (below 0.5): probe.x was 0.4"
    assert world.transitions() == [
        (day(1), None, "at_risk", "rules", ("stay",), stay_x),
        (day(4), "at_risk", "healthy", "rules", (), calm(4)),
    ]


def test_a_minimum_stay_does_not_hold_a_status_a_person_overrode(world: World) -> None:
    stay = rule("stay", "at_risk", min_stay_days=10)
    world.set(1, x=0.4)
    world.run(1, stay)
    override_status(
        world.store,
        world.account(),
        "healthy",
        reason="talked to the sponsor",
        until=clock(3, 23),
        by="kim",
        now=clock(2, 8),
    )
    world.run(2, stay)
    assert world.transitions()[-1][2:4] == ("healthy", "override")


def test_no_second_firing_within_the_cooldown(world: World) -> None:
    noisy = rule("noisy", "at_risk", cooldown_days=5)
    for n in range(1, 8):
        world.set(n, x=0.9 if n == 2 else 0.4)
    fired = [world.run(n, noisy).rules_fired for n in range(1, 8)]
    # Fired on day 1; days 3, 4 and 5 are within 5 days of it; day 6 is 5 days on.
    assert fired == [1, 0, 0, 0, 0, 1, 0]
    assert [(as_of, state, since) for as_of, _, state, since in world.hits()] == [
        ("2026-11-02", "fired", "2026-11-02"),
        ("2026-11-04", "cooldown", "2026-11-04"),
        ("2026-11-05", "cooldown", "2026-11-04"),
        ("2026-11-06", "cooldown", "2026-11-04"),
        ("2026-11-07", "fired", "2026-11-04"),
        ("2026-11-08", "active", "2026-11-04"),
    ]
    evidence = "rule noisy (noisy rule): probe.x = 0.4 (below 0.5): probe.x was 0.4"
    assert world.transitions() == [
        (day(1), None, "at_risk", "rules", ("noisy",), evidence),
        (day(2), "at_risk", "healthy", "rules", (), calm(2)),
        (day(6), "healthy", "at_risk", "rules", ("noisy",), evidence),
    ]


def test_the_worst_status_wins_and_each_change_is_a_transition(world: World) -> None:
    slow = rule("slow", "concern")
    broken = rule("broken", "at_risk", key="probe.y", above=5)
    world.set(1, x=0.4, y=6)
    world.set(2, x=0.4, y=3)
    world.set(3, x=0.4, y=3)
    world.set(4, x=0.8, y=3)
    for n in range(1, 5):
        world.run(n, slow, broken)
    slow_x = "rule slow (slow rule): probe.x = 0.4 (below 0.5): probe.x was 0.4"
    broken_y = "rule broken (broken rule): probe.y = 6 (above 5): probe.y was 6"
    assert world.transitions() == [
        (day(1), None, "at_risk", "rules", ("broken",), broken_y),
        (day(2), "at_risk", "concern", "rules", ("slow",), slow_x),
        (day(4), "concern", "healthy", "rules", (), calm(4)),
    ]


def test_every_active_rule_that_sets_the_status_is_named(world: World) -> None:
    zeta = rule("zeta", "at_risk")
    alpha = rule("alpha", "at_risk", key="probe.y", above=5)
    world.set(1, x=0.4, y=6)
    world.run(1, zeta, alpha)
    assert world.transitions() == [
        (
            day(1),
            None,
            "at_risk",
            "rules",
            ("alpha", "zeta"),
            "rule zeta (zeta rule): probe.x = 0.4 (below 0.5): probe.x was 0.4 | "
            "rule alpha (alpha rule): probe.y = 6 (above 5): probe.y was 6",
        )
    ]


def test_a_rule_that_sets_healthy_is_named_when_it_is_why_the_account_is_healthy(
    world: World,
) -> None:
    slow = rule("slow", "concern")
    fine = rule("fine", "healthy", key="probe.y", above=5)
    world.set(1, x=0.4, y=6)  # both hold: Concern is worse, so it wins
    world.set(2, x=0.9, y=6)
    world.set(3, x=0.9)
    for n in range(1, 4):
        world.run(n, slow, fine)
    slow_x = "rule slow (slow rule): probe.x = 0.4 (below 0.5): probe.x was 0.4"
    fine_y = "rule fine (fine rule): probe.y = 6 (above 5): probe.y was 6"
    assert world.transitions() == [
        (day(1), None, "concern", "rules", ("slow",), slow_x),
        (day(2), "concern", "healthy", "rules", ("fine",), fine_y),
    ]


def test_the_status_as_of_any_past_day_can_be_read_back(world: World) -> None:
    broken = rule("broken", "at_risk")
    for n, x in [(1, 0.9), (2, 0.4), (3, 0.4), (4, 0.9), (5, 0.9)]:
        world.set(n, x=x)
        world.run(n, broken)
    seen = {
        n: (found.to_status, found.as_of) if found else None
        for n in range(0, 7)
        for found in [status_as_of(world.store, "a1", day(n))]
    }
    assert seen == {
        0: None,
        1: ("healthy", day(1)),
        2: ("at_risk", day(2)),
        3: ("at_risk", day(2)),
        4: ("healthy", day(4)),
        5: ("healthy", day(4)),
        6: ("healthy", day(4)),
    }
    assert [t.transition_id for t in transitions_of(world.store, "a1")] == [1, 3, 4]
    assert transitions_of(world.store, "nobody") == []


def test_rerunning_a_day_creates_no_transition_and_does_not_double_the_hits(
    world: World,
) -> None:
    slow = rule("slow", hold_days=2)
    world.set(1, x=0.4)
    world.set(2, x=0.4)
    world.run(1, slow)
    world.run(2, slow)
    before = world.transitions(), world.hits()
    again = world.run(2, slow, hour=15)
    assert (again.evaluated, again.skipped, again.transitions) == (2, 0, 0)
    assert (world.transitions(), world.hits()) == before
    assert world.hits() == [
        ("2026-11-02", "slow", "pending", "2026-11-02"),
        ("2026-11-03", "slow", "fired", "2026-11-02"),
    ]
    assert world.count("transitions") == 3  # a1: none -> healthy -> concern; a2: none -> healthy


def test_running_an_earlier_day_after_a_later_one_leaves_everything_as_it_was(
    world: World,
) -> None:
    slow = rule("slow", hold_days=2)
    world.set(1, x=0.4)
    world.set(2, x=0.4)
    world.run(1, slow)
    world.run(2, slow)
    transitions, hits = world.transitions(), world.hits()
    replay = world.run(1, slow)
    assert (replay.evaluated, replay.skipped, replay.transitions) == (0, 2, 0)
    # The day's rule hits stay: the next run of day 2 still finds the rule held since day 1.
    assert (world.transitions(), world.hits()) == (transitions, hits)
    again = world.run(2, slow)
    assert (again.evaluated, again.transitions) == (2, 0)
    assert world.hits()[-1] == ("2026-11-03", "slow", "fired", "2026-11-02")
    assert world.transitions() == transitions


def test_an_earlier_day_is_skipped_even_when_the_status_last_changed_before_it(
    world: World,
) -> None:
    world.set(1, x=0.9)
    world.set(2, x=0.4)  # would have made a1 Concern, had day 2 run before day 3
    world.set(3, x=0.9)
    world.run(1, LOW)
    world.run(3, LOW)
    replay = world.run(2, LOW)
    assert (replay.evaluated, replay.skipped, replay.transitions) == (0, 2, 0)
    assert world.hits() == []
    assert world.transitions() == [(day(1), None, "healthy", "rules", (), calm(1))]
    found = status_as_of(world.store, "a1", day(3))
    assert found is not None
    assert found.to_status == "healthy"


def test_transitions_cannot_be_updated_or_deleted(world: World) -> None:
    world.set(1, x=0.4)
    world.run(1, LOW)
    with pytest.raises(sqlite3.IntegrityError, match=r"^transitions is append-only history$"):
        world.store.db.execute("UPDATE transitions SET to_status = 'healthy'")
    with pytest.raises(sqlite3.IntegrityError, match=r"^transitions is append-only history$"):
        world.store.db.execute("DELETE FROM transitions WHERE account_id = 'a1'")
    assert world.transitions() == [(day(1), None, "concern", "rules", ("low",), LOW_X)]


# Overrides.


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "red"}, "status: expected one of healthy, concern, at_risk, got 'red'"),
        ({"reason": "  "}, "reason: say why the status is overridden"),
        ({"by": ""}, "by: say who overrides the status"),
        (
            {"until": datetime(2026, 11, 5)},  # no time zone: the mistake under test
            "until: give a time with its time zone (UTC)",
        ),
        ({"until": clock(1, 10)}, "until: 2026-11-02 10:00Z is not in the future"),
        (
            {"until": datetime(2026, 11, 2, 11, tzinfo=timezone(timedelta(hours=2)))},
            "until: 2026-11-02 09:00Z is not in the future",
        ),
        (
            {"until": clock(1, 10) + timedelta(days=365, seconds=1)},
            "until: an override lasts at most 365 days",
        ),
    ],
)
def test_a_bad_override_is_refused_and_nothing_is_written(
    world: World, changes: dict[str, Any], message: str
) -> None:
    given: dict[str, Any] = {
        "status": "healthy",
        "reason": "renewal signed",
        "until": clock(3, 0),
        "by": "ops",
        **changes,
    }
    status = given.pop("status")
    with pytest.raises(InputError) as caught:
        override_status(world.store, world.account(), status, now=clock(1, 10), **given)
    assert str(caught.value) == message
    assert (world.count("overrides"), world.count("transitions")) == (0, 0)


def test_an_override_at_exactly_365_days_is_accepted(world: World) -> None:
    found = override_status(
        world.store,
        world.account(),
        "concern",
        reason="watch it",
        until=clock(1, 10) + timedelta(days=365),
        by="ops",
        now=clock(1, 10),
    )
    assert (found.from_status, found.to_status) == (None, "concern")


def override_row(world: World, override_id: int) -> tuple[Any, ...]:
    row = world.store.db.execute(
        "SELECT account_id, status, reason, created_by, created_at, expires_at, ended_at, "
        "end_reason FROM overrides WHERE override_id = ?",
        [override_id],
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_an_override_pins_the_status_until_it_expires(world: World) -> None:
    for n in range(1, 4):
        world.set(n, x=0.4)
    world.run(1, LOW)
    pinned = override_status(
        world.store,
        world.account(),
        "healthy",
        reason="customer confirmed the renewal",
        until=clock(3, 0),
        by="lee",
        now=clock(1, 10),
    )
    assert pinned == StatusTransition(
        transition_id=3,
        account_id="a1",
        as_of=day(1),
        at=clock(1, 10),
        from_status="concern",
        to_status="healthy",
        cause="override",
        rules=(),
        evidence="overridden by lee until 2026-11-04 00:00Z: customer confirmed the renewal",
        override_id=1,
    )
    during = world.run(2, LOW)
    assert (during.evaluated, during.rules_fired, during.transitions) == (2, 0, 0)
    assert during.overrides_ended == 0
    # The rule is still evaluated and recorded while the status is pinned.
    assert world.hits()[-1] == ("2026-11-03", "low", "active", "2026-11-02")
    assert status_as_of(world.store, "a1", day(2)) == pinned
    after = world.run(3, LOW)
    assert (after.overrides_ended, after.transitions) == (1, 1)
    assert world.transitions()[-2:] == [
        (day(1), "concern", "healthy", "override", (), pinned.evidence),
        (day(3), "healthy", "concern", "override_ended", ("low",), f"override expired; {LOW_X}"),
    ]
    assert override_row(world, 1) == (
        "a1",
        "healthy",
        "customer confirmed the renewal",
        "lee",
        "2026-11-02T10:00:00+00:00",
        "2026-11-04T00:00:00+00:00",
        "2026-11-04T00:00:00+00:00",
        "expired",
    )
    # Read back for the account page, as the row says.
    assert overrides_of(world.store, "a1") == [
        Override(
            override_id=1,
            account_id="a1",
            status="healthy",
            reason="customer confirmed the renewal",
            created_by="lee",
            created_at=clock(1, 10),
            expires_at=clock(3, 0),
            ended_at=clock(3, 0),
            end_reason="expired",
        )
    ]
    assert overrides_of(world.store, "a2") == []


def test_an_override_through_a_day_expires_when_the_next_day_starts(world: World) -> None:
    assert expiry_after(date(2026, 12, 31)) == datetime(2027, 1, 1, tzinfo=UTC)
    until = date.today() + timedelta(days=3)
    found = override_through(
        world.store, world.account(), "at_risk", reason="champion left", last_day=until, by="kim"
    )
    assert found.to_status == "at_risk"
    assert (
        found.evidence
        == f"overridden by kim until {until + timedelta(days=1)} 00:00Z: champion left"
    )
    assert overrides_of(world.store, "a1")[0].expires_at == datetime.combine(
        until + timedelta(days=1), time.min, tzinfo=UTC
    )


def test_the_stored_days_read_back_as_series_for_the_charts(world: World) -> None:
    for n, x in ((1, 0.4), (2, 0.6), (3, 0.2)):
        world.set(n, x=x)
        world.run(n)
    assert signal_series(world.store, "a1", since=day(1), until=day(3)) == [
        SignalPoint(key="probe.x", dimension="adoption", as_of=day(n), value=x)
        for n, x in ((1, 0.4), (2, 0.6), (3, 0.2))
    ]
    assert [p.as_of for p in signal_series(world.store, "a1", since=day(2), until=day(2))] == [
        day(2)
    ]
    assert signal_series(world.store, "a2", since=day(1), until=day(3)) == []
    scores = score_series(world.store, "a1", HEALTH_SCORER, since=day(2), until=day(3))
    assert [s.as_of for s in scores] == [day(2), day(3)]
    for score in scores:
        assert score.as_of is not None
        stored = next(
            s for s in scores_for(world.store, "a1", score.as_of) if s.scorer == HEALTH_SCORER
        )
        assert (score.value, score.grade, score.config_id) == (
            stored.value,
            stored.grade,
            stored.config_id,
        )
        assert [m.points for m in score.breakdown] == [m.points for m in stored.breakdown]


def test_an_override_that_ends_on_the_status_the_rules_set_records_no_transition(
    world: World,
) -> None:
    for n in range(1, 4):
        world.set(n, x=0.4)
    world.run(1, LOW)
    override_status(
        world.store,
        world.account(),
        "concern",
        reason="keep an eye on it",
        until=clock(2, 12),
        by="lee",
        now=clock(1, 10),
    )
    assert world.run(2, LOW, hour=11).overrides_ended == 0
    # The first run after the expiry ends it, even a re-run of the same day.
    ended = world.run(2, LOW, hour=13)
    assert (ended.overrides_ended, ended.transitions) == (1, 0)
    assert override_row(world, 1)[6:] == ("2026-11-03T12:00:00+00:00", "expired")
    assert world.run(3, LOW).overrides_ended == 0
    assert [t[3] for t in world.transitions()] == ["rules", "override"]


def test_an_override_ending_with_no_rule_holding_returns_to_healthy(world: World) -> None:
    world.set(1, x=0.9)
    world.set(2, x=0.9)
    world.run(1, LOW)
    override_status(
        world.store,
        world.account(),
        "at_risk",
        reason="sponsor left, not in the data yet",
        until=clock(2, 0),
        by="kim",
        now=clock(1, 10),
    )
    world.run(2, LOW)
    assert world.transitions() == [
        (day(1), None, "healthy", "rules", (), calm(1)),
        (
            day(1),
            "healthy",
            "at_risk",
            "override",
            (),
            "overridden by kim until 2026-11-03 00:00Z: sponsor left, not in the data yet",
        ),
        (day(2), "at_risk", "healthy", "override_ended", (), f"override expired; {calm(2)}"),
    ]


def test_a_second_override_replaces_the_first(world: World) -> None:
    for n in range(1, 4):
        world.set(n, x=0.9)
    world.run(1, LOW)
    override_status(
        world.store,
        world.account(),
        "concern",
        reason="first",
        until=clock(6, 0),
        by="kim",
        now=clock(1, 10),
    )
    second = override_status(
        world.store,
        world.account(),
        "at_risk",
        reason="second",
        until=clock(3, 0),
        by="lee",
        now=clock(1, 11),
    )
    assert (second.from_status, second.to_status, second.override_id) == (
        "concern",
        "at_risk",
        2,
    )
    assert override_row(world, 1)[6:] == ("2026-11-02T11:00:00+00:00", "replaced")
    assert override_row(world, 2)[6:] == (None, None)
    assert world.run(2, LOW).transitions == 0
    ended = world.run(3, LOW)
    assert (ended.overrides_ended, ended.transitions) == (1, 1)
    assert world.transitions()[-1] == (
        day(3),
        "at_risk",
        "healthy",
        "override_ended",
        (),
        f"override expired; {calm(3)}",
    )
    assert override_row(world, 1)[6:] == ("2026-11-02T11:00:00+00:00", "replaced")
    assert override_row(world, 2)[6:] == ("2026-11-04T00:00:00+00:00", "expired")


def test_an_override_is_history_a_replay_of_an_earlier_day_leaves_alone(world: World) -> None:
    world.set(1, "a1", x=0.4)
    world.set(1, "a2", x=0.4)
    world.run(1, LOW)  # run 1
    override_status(
        world.store,
        world.account(),
        "healthy",
        reason="fine",
        until=clock(5, 0),
        by="kim",
        now=clock(2, 10),
    )
    world.set(1, "a1", x=0.9)
    world.set(1, "a2", x=0.3)
    replay = world.run(1, LOW)  # run 2
    # a1's override is dated day 2; a2 has nothing after day 1, so it is evaluated again.
    assert (replay.evaluated, replay.skipped, replay.transitions) == (1, 1, 0)
    assert [t[2] for t in world.transitions()] == ["concern", "healthy"]
    hits = world.store.db.execute(
        "SELECT account_id, state, run_id, json_extract(matches, '$[0].value') FROM rule_hits"
    ).fetchall()
    # a1 keeps the hit of its own run of day 1; a2's is replaced, not doubled.
    assert sorted(hits) == [("a1", "fired", 1, 0.4), ("a2", "fired", 2, 0.3)]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 1, 23, 0, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)),
        (datetime(2026, 11, 2, 0, 0, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)),
        (datetime(2026, 11, 2, 14, 30, tzinfo=UTC), datetime(2026, 11, 2, 14, 30, tzinfo=UTC)),
        (
            datetime(2026, 11, 3, 0, 0, tzinfo=UTC),
            datetime(2026, 11, 2, 23, 59, 59, 999_999, tzinfo=UTC),
        ),
        (
            datetime(2027, 1, 1, tzinfo=UTC),
            datetime(2026, 11, 2, 23, 59, 59, 999_999, tzinfo=UTC),
        ),
    ],
)
def test_moment_keeps_now_within_the_day(now: datetime, expected: datetime) -> None:
    assert moment(day(1), now) == expected


def test_a_replayed_past_day_is_stamped_at_its_end(world: World) -> None:
    world.set(1, x=0.4)
    result = run(world.store, world.registry, day(1), plan=Plan(rules={"low": LOW}))
    assert result.actions is not None
    (first,) = transitions_of(world.store, "a1")
    assert first.at == datetime(2026, 11, 2, 23, 59, 59, 999_999, tzinfo=UTC)


def test_a_run_for_other_accounts_does_not_break_an_accounts_hold_or_state(
    world: World,
) -> None:
    sticky = rule("sticky", hold_days=2, cooldown_days=30)
    for n in range(1, 5):
        world.set(n, "a1", x=0.4)
        world.set(n, "a2", x=0.9)
    world.run(1, sticky)
    world.run(2, sticky)
    # Day 3 runs for a2 only; a1's last evaluated day stays day 2.
    partial = run(
        world.store,
        world.registry,
        day(3),
        plan=Plan(rules={"sticky": sticky}),
        account_ids=["a2"],
        now=clock(3),
    )
    assert partial.actions is not None
    assert partial.actions.evaluated == 1
    world.run(4, sticky)
    assert world.hits("a1") == [
        (day(1).isoformat(), "sticky", "pending", day(1).isoformat()),
        (day(2).isoformat(), "sticky", "fired", day(1).isoformat()),
        (day(4).isoformat(), "sticky", "active", day(1).isoformat()),
    ]
    assert [(t[1], t[2]) for t in world.transitions("a1")] == [
        (None, "healthy"),
        ("healthy", "concern"),
    ]
    # Day 3 again, for everyone: both were evaluated on day 4 since, so both are skipped.
    again = run(
        world.store, world.registry, day(3), plan=Plan(rules={"sticky": sticky}), now=clock(3)
    )
    assert again.actions is not None
    assert (again.actions.evaluated, again.actions.skipped) == (0, 2)


def test_a_failing_source_carries_its_rules_over_instead_of_recovering(
    world: World,
) -> None:
    world.set(1, x=0.4)
    world.run(1, LOW)
    world.probe.fail_on = day(2)
    failed = run(world.store, world.registry, day(2), plan=Plan(rules={"low": LOW}), now=clock(2))
    assert failed.status == "degraded"
    assert failed.actions is not None
    assert failed.actions.transitions == 0
    assert world.hits() == [
        (day(1).isoformat(), "low", "fired", day(1).isoformat()),
        (day(2).isoformat(), "low", "active", day(1).isoformat()),
    ]
    assert [t[2] for t in world.transitions()] == ["concern"]
