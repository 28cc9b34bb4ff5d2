"""Rules in the configuration: what is accepted, and every refusal with its file and line.

Each refusal changes one thing in ``BASE`` (its lines are numbered below) and checks
the whole message. The shipped rules (``defaults.toml``) are loaded beside the user's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLE_ACCOUNTS
from telltales import SignalSpec, hookimpl
from telltales.cli import cli
from telltales.config import load_config
from telltales.errors import ConfigError
from telltales.playbooks.plan import Plan, load_plan
from telltales.playbooks.rules import Condition, Rule
from telltales.plugins import Registry, load_registry

BASE = """\
[rules.low_use]
description = "Fewer than half the seats used while in adoption"
status = "concern"
severity = "medium"
hold_days = 3
cooldown_days = 14
conditions = [
  { signal = "probe.utilization", below = 0.5 },
  { account = "lifecycle_stage", equals = "adoption" },
]
"""
# line 1 [rules.low_use], 2 description, 3 status, 4 severity, 5 hold_days,
# line 6 cooldown_days, 7 conditions, 8 condition 1, 9 condition 2

SHIPPED = [
    "core_feature_drop",
    "low_seat_utilization",
    "high_priority_tickets",
    "sponsor_left",
    "low_logins_in_adoption",
    "score_red",
]


class Probe:
    name = "probe"
    signals = (
        SignalSpec(key="probe.utilization", dimension="adoption", description="share"),
        SignalSpec(key="probe.tickets", dimension="current_state", description="count"),
    )

    def compute(self, batch: object) -> list[object]:
        return []


class Plugin:
    @hookimpl
    def register_signal_sources(self, register: Callable[[Probe], None]) -> None:
        register(Probe())


@pytest.fixture
def registry() -> Registry:
    """The core's plugins and the probe source: no telemetry, support or contacts."""
    return load_registry(extra=[("probe", Plugin())], use_entry_points=False)


def load(tmp_path: Path, registry: Registry, text: str) -> Plan:
    path = tmp_path / "telltales.toml"
    path.write_text(text)
    return load_plan(load_config(path), registry)


def refusal(tmp_path: Path, registry: Registry, text: str) -> str:
    """The message, with the file's path replaced by ``FILE`` for readability."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, registry, text)
    return str(caught.value).replace(str(tmp_path / "telltales.toml"), "FILE")


def changed(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


CONDITION_1 = '{ signal = "probe.utilization", below = 0.5 }'
CONDITION_2 = '{ account = "lifecycle_stage", equals = "adoption" }'


def test_the_base_rule_is_compiled_beside_the_shipped_ones(
    tmp_path: Path, registry: Registry
) -> None:
    plan = load(tmp_path, registry, BASE)
    assert plan.rules["low_use"] == Rule(
        name="low_use",
        description="Fewer than half the seats used while in adoption",
        status="concern",
        severity="medium",
        conditions=(
            Condition(kind="signal", name="probe.utilization", test="below", operand=0.5),
            Condition(kind="account", name="lifecycle_stage", test="equals", operand="adoption"),
        ),
        hold_days=3,
        cooldown_days=14,
        shipped=False,
    )
    assert list(plan.rules) == [*SHIPPED, "low_use"]
    assert all(plan.rules[name].shipped for name in SHIPPED)


def test_a_shipped_rule_on_a_source_that_is_not_installed_is_kept_and_never_holds(
    tmp_path: Path, registry: Registry
) -> None:
    plan = load(tmp_path, registry, "")
    sponsor = plan.rules["sponsor_left"]
    assert sponsor.conditions == (
        Condition(kind="signal", name="contacts.sponsor_left", test="at_least", operand=1.0),
    )
    assert (sponsor.status, sponsor.severity, sponsor.hold_days, sponsor.cooldown_days) == (
        "at_risk",
        "high",
        1,
        90,
    )


def test_a_user_rule_on_the_same_uninstalled_source_is_refused(
    tmp_path: Path, registry: Registry
) -> None:
    text = changed(CONDITION_1, '{ signal = "contacts.sponsor_left", at_least = 1 }')
    assert refusal(tmp_path, registry, text) == (
        "FILE, line 8: [rules.low_use] condition 1: 'contacts.sponsor_left': "
        "source 'contacts' is not installed"
    )


def test_disabling_a_shipped_rule_removes_it_and_only_it(
    tmp_path: Path, registry: Registry
) -> None:
    plan = load(tmp_path, registry, BASE + "\n[rules.sponsor_left]\nenabled = false\n")
    assert list(plan.rules) == [name for name in SHIPPED if name != "sponsor_left"] + ["low_use"]


def test_a_rule_written_whole_with_enabled_false_is_left_out(
    tmp_path: Path, registry: Registry
) -> None:
    plan = load(tmp_path, registry, changed("hold_days = 3\n", "hold_days = 3\nenabled = false\n"))
    assert "low_use" not in plan.rules


def test_a_user_table_replaces_a_shipped_rule_whole(tmp_path: Path, registry: Registry) -> None:
    text = """\
[rules.sponsor_left]
description = "Too many tickets"
status = "concern"
conditions = [{ signal = "probe.tickets", above = 5 }]
"""
    plan = load(tmp_path, registry, text)
    assert plan.rules["sponsor_left"] == Rule(
        name="sponsor_left",
        description="Too many tickets",
        status="concern",
        severity="medium",
        conditions=(Condition(kind="signal", name="probe.tickets", test="above", operand=5.0),),
        # Not the shipped rule's cooldown of 90 days: nothing of it is kept.
        hold_days=1,
        cooldown_days=0,
        shipped=False,
    )
    assert list(plan.rules) == SHIPPED


def test_every_test_and_subject_is_accepted(tmp_path: Path, registry: Registry) -> None:
    text = """\
[rules.everything]
description = "All kinds"
status = "at_risk"
severity = "critical"
conditions = [
  { signal = "probe.utilization", at_most = 0.25 },
  { signal = "probe.tickets", at_least = 3 },
  { signal = "probe.tickets", equals = 4 },
  { score = "health", above = 10 },
  { grade = "health", one_of = ["red", "amber"] },
  { account = "segment", one_of = ["smb", "mid-market"] },
  { account = "employee_count", below = 500 },
]
"""
    assert load(tmp_path, registry, text).rules["everything"].conditions == (
        Condition(kind="signal", name="probe.utilization", test="at_most", operand=0.25),
        Condition(kind="signal", name="probe.tickets", test="at_least", operand=3.0),
        Condition(kind="signal", name="probe.tickets", test="equals", operand=4.0),
        Condition(kind="score", name="health", test="above", operand=10.0),
        Condition(kind="grade", name="health", test="one_of", operand=("red", "amber")),
        Condition(kind="account", name="segment", test="one_of", operand=("smb", "mid-market")),
        Condition(kind="account", name="employee_count", test="below", operand=500.0),
    )


R1 = "FILE, line 8: [rules.low_use] condition 1"
R2 = "FILE, line 9: [rules.low_use] condition 2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            changed(CONDITION_1, '{ signal = "probe.utilisation", below = 0.5 }'),
            f"{R1}: unknown signal key: source 'probe' does not declare it; "
            "did you mean 'probe.utilization'?",
            id="misspelt-key-suggests",
        ),
        pytest.param(
            changed(CONDITION_1, '{ signal = "probe.quarterly_reviews_done", below = 0.5 }'),
            f"{R1}: unknown signal key: source 'probe' does not declare it; "
            "it declares probe.utilization, probe.tickets",
            id="unknown-key-lists",
        ),
        pytest.param(
            changed(CONDITION_1, '{ signal = "telemetry.seat_utilization_30d", below = 0.5 }'),
            f"{R1}: 'telemetry.seat_utilization_30d': source 'telemetry' is not installed",
            id="source-not-installed",
        ),
        pytest.param(
            changed(CONDITION_1, '{ signal = "Probe utilization", below = 0.5 }'),
            f"{R1}: 'Probe utilization' is not a signal key (source.name, in lowercase)",
            id="not-a-key",
        ),
        pytest.param(
            changed(CONDITION_1, '{ score = "vibes", below = 40 }'),
            f"{R1}: no scorer named 'vibes' is installed (known: health, health_shadow)",
            id="unknown-scorer",
        ),
        pytest.param(
            changed(CONDITION_1, '{ grade = "vibes", equals = "red" }'),
            f"{R1}: no scorer named 'vibes' is installed (known: health, health_shadow)",
            id="unknown-scorer-grade",
        ),
        pytest.param(
            changed(CONDITION_1, '{ grade = "health_shadow", equals = "red" }'),
            f"{R1}: grade.health_shadow is the shadow card's, which drives no status until it "
            "is promoted (docs/backtest.md); a rule reads grade.health",
            id="shadow-scorer",
        ),
        pytest.param(
            changed(
                CONDITION_2,
                '{ account = "lifecycle_stage", signal = "probe.tickets", equals = "adoption" }',
            ),
            f"{R2}: name exactly one of signal, score, grade, account (got 2)",
            id="two-subjects",
        ),
        pytest.param(
            changed(CONDITION_1, '{ signal = "probe.utilization" }'),
            f"{R1}: give exactly one test of below, at_most, above, at_least, equals, one_of "
            "(got 0)",
            id="no-test",
        ),
        pytest.param(
            changed(CONDITION_1, '{ signal = "probe.utilization", below = 0.5, above = 0.1 }'),
            f"{R1}: give exactly one test of below, at_most, above, at_least, equals, one_of "
            "(got 2)",
            id="two-tests",
        ),
        pytest.param(
            changed(CONDITION_1, '{ signal = "probe.utilization", equals = "low" }'),
            f"{R1}: a signal is a number: compare it with below, at_most, above, at_least or "
            "equals",
            id="text-test-on-a-signal",
        ),
        pytest.param(
            changed(CONDITION_2, '{ account = "seats_purchased", one_of = ["80"] }'),
            f"{R2}: account field 'seats_purchased' is a number: compare it with a number",
            id="text-test-on-a-number-field",
        ),
        pytest.param(
            changed(CONDITION_2, '{ account = "lifecycle_stage", below = 2 }'),
            f"{R2}: account field 'lifecycle_stage' is text: compare it with equals or one_of",
            id="number-test-on-a-text-field",
        ),
        pytest.param(
            changed(CONDITION_2, '{ account = "lifecycle_stage", equals = "adopt" }'),
            f"{R2}: account field 'lifecycle_stage' is one of onboarding, adoption, expansion, "
            "renewal (got 'adopt')",
            id="unknown-lifecycle-stage",
        ),
        pytest.param(
            changed(CONDITION_2, '{ account = "stage", equals = "adoption" }'),
            f"{R2}: unknown account field 'stage' (known: lifecycle_stage, segment, csm_group, "
            "industry, owner, arr, seats_purchased, seats_assigned, employee_count)",
            id="unknown-account-field",
        ),
        pytest.param(
            changed(CONDITION_2, '{ grade = "health", below = 40 }'),
            f"{R2}: a grade is compared with equals or one_of, over green, amber, red, "
            "insufficient_data",
            id="grade-by-number",
        ),
        pytest.param(
            changed(CONDITION_1, '{ signal = "probe.utilization", below = inf }'),
            f"{R1}: below must be a finite number",
            id="infinite",
        ),
        pytest.param(
            changed(CONDITION_1, '{ signal = "probe.utilization", bellow = 0.5 }'),
            "FILE, line 8: rules.low_use.conditions[0]: object contains unknown field `bellow`",
            id="misspelt-test",
        ),
        pytest.param(
            changed('status = "concern"', 'status = "critical"'),
            "FILE, line 3: rules.low_use.status: invalid enum value 'critical'",
            id="bad-status",
        ),
        pytest.param(
            changed('severity = "medium"', 'severity = "urgent"'),
            "FILE, line 4: rules.low_use.severity: invalid enum value 'urgent'",
            id="bad-severity",
        ),
        pytest.param(
            changed("hold_days = 3", "hold_days = 0"),
            "FILE, line 5: rules.low_use.hold_days: expected `int` >= 1",
            id="hold-zero",
        ),
        pytest.param(
            changed("cooldown_days = 14", "cooldown_days = -1"),
            "FILE, line 6: rules.low_use.cooldown_days: expected `int` >= 0",
            id="negative-cooldown",
        ),
        pytest.param(
            '[rules.low_use]\ndescription = "x"\nstatus = "concern"\nconditions = []\n',
            "FILE, line 4: rules.low_use.conditions: expected `array` of length >= 1",
            id="no-conditions",
        ),
        pytest.param(
            changed(
                CONDITION_1, '{ signal = "probe.utilization", below = 0.5, clears_above = 0.4 }'
            ),
            f"{R1}: clears_above = 0.4 is below where the rule fires (below 0.5): it must be at "
            "or past the firing threshold, on the side the value recovers to",
            id="clears-on-the-wrong-side",
        ),
        pytest.param(
            changed("cooldown_days = 14", 'cooldown_days = 14\nmin_stay_days = "two weeks"'),
            "FILE, line 7: rules.low_use.min_stay_days: expected `int`, got `str`",
            id="min-stay-not-a-number",
        ),
        pytest.param(
            changed(
                "cooldown_days = 14",
                'cooldown_days = 14\nnext_action_by_dimension = { adoption = "Train them" }',
            ),
            "FILE, line 7: [rules.low_use] next_action_by_dimension: the rule reads no score or "
            "grade, so it has no weakest dimension to choose by; use next_action",
            id="by-dimension-without-a-score",
        ),
        pytest.param(
            changed("[rules.low_use]", "[rules.Low-Use]"),
            "FILE, line 1: [rules.Low-Use]: a rule name is lowercase letters, digits, _",
            id="bad-name",
        ),
    ],
)
def test_a_bad_rule_is_refused_with_its_file_line_and_problem(
    tmp_path: Path, registry: Registry, text: str, message: str
) -> None:
    assert refusal(tmp_path, registry, text) == message


def test_a_bad_rule_stops_telltales_run_before_anything_is_written(tmp_path: Path) -> None:
    db, config = tmp_path / "t.db", tmp_path / "telltales.toml"
    runner = CliRunner()
    for args in (["init"], ["ingest", "accounts", str(EXAMPLE_ACCOUNTS)]):
        assert runner.invoke(cli, ["--db", str(db), *args]).exit_code == 0
    config.write_text(
        "[rules.thin]\n"
        'description = "Few seats assigned"\n'
        'status = "concern"\n'
        'conditions = [{ signal = "account.seat_deploymnet", below = 0.5 }]\n'
    )
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    result = runner.invoke(
        cli, ["--db", str(db), "--config", str(config), "run", "--as-of", "2026-11-20"]
    )
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {config}, line 4: [rules.thin] condition 1: unknown signal key: source "
        "'account' does not declare it; did you mean 'account.seat_deployment'?\n"
    )
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_switching_off_a_rule_or_playbook_that_is_not_shipped_is_refused(
    tmp_path: Path, registry: Registry
) -> None:
    for table, message in (
        ("rules.nothing", "[rules.nothing]: there is no shipped rule 'nothing' to switch off"),
        (
            "playbooks.nothing",
            "[playbooks.nothing]: there is no shipped playbook 'nothing' to switch off",
        ),
    ):
        path = tmp_path / "telltales.toml"
        path.write_text(f"[{table}]\nenabled = false\n")
        with pytest.raises(ConfigError) as caught:
            load_plan(load_config(path), registry)
        assert str(caught.value) == f"{path}, line 1: {message}"
