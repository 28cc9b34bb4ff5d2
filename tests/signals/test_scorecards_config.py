"""A bad scorecard is refused at load with the file, the line and the problem.

Each case changes one thing in ``BASE`` (whose lines are numbered below) and checks
the whole message. The locator that finds the lines is tested at the end.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from telltales import SignalSpec, hookimpl
from telltales.config import load_config
from telltales.config.document import key_lines
from telltales.errors import ConfigError
from telltales.plugins import Registry, load_registry
from telltales.signals.scorecards import HEALTH_SCORER, Scoring, load_scoring
from telltales.signals.settings import scorer_settings

BASE = """\
[scorecards.main]
min_coverage = 0.6

[scorecards.main.components]
usage = 0.6
people = 0.4

[[scorecards.main.measures]]
component = "usage"
signal = "probe.utilization"
weight = 1.0
thresholds = [
  { at_least = 0.7, points = 100 },
  { at_least = 0.5, points = 70 },
]
otherwise = 0

[[scorecards.main.measures]]
component = "people"
signal = "probe.days_since_meeting"
weight = 1.0
linear = { worst = 120, best = 30 }
"""
# line  1 [scorecards.main]              line 13   { at_least = 0.7, ... }
# line  2 min_coverage                   line 14   { at_least = 0.5, ... }
# line  4 [scorecards.main.components]   line 16 otherwise
# line  5 usage, line 6 people           line 18 [[scorecards.main.measures]] (2nd)
# line  8 [[scorecards.main.measures]]   line 19 component, line 20 signal
# line  9 component, line 10 signal      line 21 weight
# line 11 weight, line 12 thresholds     line 22 linear

GRADES = """
[scorecards.main.grades]
green = { from = 70, to = 100 }
amber = { from = 40, to = 70 }
red = { from = 0, to = 40 }
"""
# appended to BASE: line 24 [scorecards.main.grades], 25 green, 26 amber, 27 red

THIRD = """
[[scorecards.main.measures]]
component = "people"
signal = "probe.tickets"
weight = 0.5
linear = { worst = 10, best = 0 }
"""
# appended to BASE: line 24 [[scorecards.main.measures]], line 27 weight


class Probe:
    name = "probe"
    signals = (
        SignalSpec(key="probe.utilization", dimension="adoption", description="share"),
        SignalSpec(key="probe.days_since_meeting", dimension="engagement", description="days"),
        SignalSpec(key="probe.tickets", dimension="current_state", description="count"),
        SignalSpec(key="probe.feature.*", dimension="adoption", description="per feature"),
    )

    def compute(self, batch: object) -> list[object]:
        return []


class Plugin:
    @hookimpl
    def register_signal_sources(self, register: Callable[[Probe], None]) -> None:
        register(Probe())


@pytest.fixture
def registry() -> Registry:
    return load_registry(extra=[("probe", Plugin())], use_entry_points=False)


def load(tmp_path: Path, registry: Registry, text: str) -> Scoring:
    path = tmp_path / "telltales.toml"
    path.write_text(text)
    settings = scorer_settings(load_config(path), registry)
    scoring = settings[HEALTH_SCORER]
    assert isinstance(scoring, Scoring)
    return scoring


def refusal(tmp_path: Path, registry: Registry, text: str) -> str:
    """The message, with the file's path replaced by ``FILE`` for readability."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, registry, text)
    return str(caught.value).replace(str(tmp_path / "telltales.toml"), "FILE")


def test_the_base_card_is_valid(tmp_path: Path, registry: Registry) -> None:
    scoring = load(tmp_path, registry, BASE)
    assert [m.key for m in scoring.cards["main"].measures] == [
        "probe.utilization",
        "probe.days_since_meeting",
    ]


def changed(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


M = "scorecard 'main', measure"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            changed('"probe.utilization"', '"probe.utilisation"'),
            f"FILE, line 10: {M} 'probe.utilisation': unknown signal key: source 'probe' "
            "does not declare it; did you mean 'probe.utilization'?",
            id="unknown-key-close-to-a-declared-one",
        ),
        pytest.param(
            changed('"probe.utilization"', '"probe.zzz"'),
            f"FILE, line 10: {M} 'probe.zzz': unknown signal key: source 'probe' does not "
            "declare it; it declares probe.utilization, probe.days_since_meeting, "
            "probe.tickets, probe.feature.*",
            id="unknown-key",
        ),
        pytest.param(
            changed('"probe.utilization"', '"probe.feature.*"'),
            f"FILE, line 10: {M} 'probe.feature.*': 'probe.feature.*' is a family of keys "
            "(one per item, different for each account); a measure needs one key",
            id="family-key",
        ),
        pytest.param(
            changed('"probe.utilization"', '"Probe utilization"'),
            f"FILE, line 10: {M} 'Probe utilization': 'Probe utilization' is not a signal "
            "key (source.name, in lowercase)",
            id="malformed-key",
        ),
        pytest.param(
            changed('"probe.utilization"', '"telemetry.seat_utilization_30d"'),
            f"FILE, line 10: {M} 'telemetry.seat_utilization_30d': source 'telemetry' is "
            "not installed (installed sources: account, probe)",
            id="source-not-installed",
        ),
        pytest.param(
            changed("people = 0.4", "people = 0.3"),
            "FILE, line 4: scorecard 'main': the component weights add up to 0.9, not 1 "
            "(usage 0.6, people 0.3)",
            id="component-weights",
        ),
        pytest.param(
            BASE + THIRD,
            "FILE, line 21: scorecard 'main': the measure weights of component 'people' add "
            "up to 1.5, not 1 (1 on line 21, 0.5 on line 27)",
            id="measure-weights",
        ),
        pytest.param(
            changed("weight = 1.0\nlinear", 'weight = "1.0"\nlinear'),
            "FILE, line 21: scorecards.main.measures[1].weight: expected `float`, got `str`",
            id="wrong-type",
        ),
        pytest.param(
            changed("weight = 1.0\nlinear", "weight = 0\nlinear"),
            "FILE, line 21: scorecards.main.measures[1].weight: expected `float` > 0.0",
            id="zero-weight",
        ),
        pytest.param(
            changed("people = 0.4", 'people = "0.4"'),
            "FILE, line 6: scorecards.main.components.people: expected `float`, got `str`",
            id="component-weight-type",
        ),
        pytest.param(
            changed("points = 100", "points = 120"),
            "FILE, line 13: scorecards.main.measures[0].thresholds[0].points: "
            "expected `float` <= 100.0",
            id="points-over-100",
        ),
        pytest.param(
            changed("min_coverage = 0.6", "min_coverage = 60"),
            "FILE, line 2: scorecards.main.min_coverage: expected `float` <= 1.0",
            id="coverage-as-percent",
        ),
        pytest.param(
            changed("otherwise = 0", "otherwize = 0"),
            "FILE, line 16: scorecards.main.measures[0]: object contains unknown field `otherwize`",
            id="unknown-field-in-measure",
        ),
        pytest.param(
            changed("min_coverage = 0.6", "minimum_coverage = 0.6"),
            "FILE, line 2: scorecards.main: object contains unknown field `minimum_coverage`",
            id="unknown-field-in-card",
        ),
        pytest.param(
            changed('component = "people"\n', ""),
            "FILE, line 18: scorecards.main.measures[1]: object missing required field `component`",
            id="missing-field",
        ),
        pytest.param(
            changed('component = "usage"', 'component = "usgae"'),
            f"FILE, line 9: {M} 'probe.utilization': no component 'usgae' in this scorecard "
            "(components: usage, people)",
            id="unknown-component",
        ),
        pytest.param(
            changed("people = 0.4", "people = 0.3\nspare = 0.1"),
            "FILE, line 7: scorecard 'main': component 'spare' has no measures",
            id="component-without-measures",
        ),
        pytest.param(
            changed('"probe.days_since_meeting"', '"probe.utilization"'),
            f"FILE, line 20: {M} 'probe.utilization': measured twice (first on line 8)",
            id="measured-twice",
        ),
        pytest.param(
            changed(
                "  { at_least = 0.7, points = 100 },\n  { at_least = 0.5, points = 70 },",
                "  { at_least = 0.5, points = 70 },\n  { at_least = 0.7, points = 100 },",
            ),
            f"FILE, line 14: {M} 'probe.utilization': thresholds must run from the best "
            "value to the worst (at_least values falling), but at_least 0.7 follows "
            "at_least 0.5",
            id="thresholds-not-monotonic",
        ),
        pytest.param(
            changed(
                "  { at_least = 0.7, points = 100 },\n  { at_least = 0.5, points = 70 },",
                "  { at_most = 5, points = 100 },\n  { at_most = 5, points = 70 },",
            ),
            f"FILE, line 14: {M} 'probe.utilization': thresholds must run from the best "
            "value to the worst (at_most values rising), but at_most 5 follows at_most 5",
            id="thresholds-repeated",
        ),
        pytest.param(
            changed("{ at_least = 0.5, points = 70 }", "{ at_most = 0.5, points = 70 }"),
            f"FILE, line 12: {M} 'probe.utilization': thresholds mix at_least and at_most; "
            "use one direction per measure",
            id="thresholds-mixed",
        ),
        pytest.param(
            changed("{ at_least = 0.7, points = 100 }", "{ points = 100 }"),
            f"FILE, line 13: {M} 'probe.utilization': each threshold needs exactly one of "
            "at_least or at_most",
            id="threshold-without-bound",
        ),
        pytest.param(
            changed("otherwise = 0\n", ""),
            f"FILE, line 8: {M} 'probe.utilization': thresholds need 'otherwise', the "
            "points below the last step",
            id="otherwise-missing",
        ),
        pytest.param(
            changed("otherwise = 0\n", "otherwise = 0\nlinear = { worst = 0, best = 1 }\n"),
            f"FILE, line 8: {M} 'probe.utilization': give either thresholds or linear "
            "(exactly one)",
            id="thresholds-and-linear",
        ),
        pytest.param(
            changed("linear = { worst = 120, best = 30 }\n", ""),
            f"FILE, line 18: {M} 'probe.days_since_meeting': give either thresholds or "
            "linear (exactly one)",
            id="no-rule",
        ),
        pytest.param(
            changed("{ worst = 120, best = 30 }", "{ worst = 30, best = 30 }"),
            f"FILE, line 22: {M} 'probe.days_since_meeting': linear needs 'worst' and 'best' "
            "to differ",
            id="flat-linear",
        ),
        pytest.param(
            changed("{ worst = 120, best = 30 }", "{ worst = inf, best = 30 }"),
            f"FILE, line 22: {M} 'probe.days_since_meeting': 'worst' and 'best' must be "
            "finite numbers",
            id="infinite-linear",
        ),
        pytest.param(
            changed("at_least = 0.5", "at_least = nan"),
            f"FILE, line 14: {M} 'probe.utilization': a threshold must be a finite number",
            id="nan-threshold",
        ),
        pytest.param(
            BASE + "otherwise = 0\n",
            f"FILE, line 23: {M} 'probe.days_since_meeting': 'otherwise' goes with "
            "thresholds, not linear",
            id="otherwise-with-linear",
        ),
        pytest.param(
            BASE + changed("to = 70", "to = 75", GRADES),
            "FILE, line 25: scorecard 'main': the grades overlap from 70 to 75 (amber ends "
            "at 75, green starts at 70)",
            id="overlapping-bands",
        ),
        pytest.param(
            BASE + changed("to = 40", "to = 35", GRADES),
            "FILE, line 26: scorecard 'main': the grades leave a gap from 35 to 40 (red ends "
            "at 35, amber starts at 40)",
            id="gapped-bands",
        ),
        pytest.param(
            BASE + changed("from = 0", "from = 10", GRADES),
            "FILE, line 27: scorecard 'main': the grades must start at 0, but red starts at 10",
            id="bands-from-10",
        ),
        pytest.param(
            BASE + changed("to = 100", "to = 95", GRADES),
            "FILE, line 25: scorecard 'main': the grades must reach 100, but green ends at 95",
            id="bands-to-95",
        ),
        pytest.param(
            BASE + changed("{ from = 40, to = 70 }", "{ from = 70, to = 40 }", GRADES),
            "FILE, line 26: scorecard 'main': grade amber runs from 70 to 40; 'from' must be "
            "below 'to'",
            id="band-upside-down",
        ),
        pytest.param(
            BASE + changed("amber = { from = 40, to = 70 }\n", "", GRADES),
            "FILE, line 24: scorecards.main.grades: object missing required field `amber`",
            id="band-missing",
        ),
        pytest.param(
            BASE + '\n[scoring]\ndefault = "mian"\n',
            "FILE, line 25: scoring.default: no scorecard named 'mian' "
            "(known: dear, fit_current_interest, main)",
            id="default-card-unknown",
        ),
        pytest.param(
            BASE + '\n[scoring.segments]\nsmb = "main"\nenterprise = "fit"\n',
            "FILE, line 26: scoring.segments.enterprise: no scorecard named 'fit' "
            "(known: dear, fit_current_interest, main)",
            id="segment-card-unknown",
        ),
        pytest.param(
            BASE + "\n[scoring.segments]\nsmb = 3\n",
            "FILE, line 25: scoring.segments.smb: expected the name of a scorecard, got 3 "
            "(known: dear, fit_current_interest, main)",
            id="segment-card-not-a-name",
        ),
        pytest.param(
            BASE + "\n[scoring]\ndefalt = 'main'\n",
            "FILE, line 25: scoring: object contains unknown field `defalt`",
            id="scoring-unknown-field",
        ),
        pytest.param(
            BASE.replace("scorecards.main", "scorecards.dear"),
            "FILE, line 1: [scorecards.dear]: 'dear' is a shipped scorecard; copy it under a "
            "new name to change it",
            id="shipped-name",
        ),
        pytest.param(
            BASE.replace("scorecards.main", "scorecards.Main"),
            "FILE, line 1: [scorecards.Main]: a scorecard name is lowercase letters, digits and _",
            id="card-name",
        ),
        pytest.param(
            BASE + "\n[scorers.health]\nmin_coverage = 0.5\n",
            "FILE, line 24: [scorers.health]: the health scorer is configured by [scoring] "
            "and [scorecards.<name>] (see docs/scorecards.md)",
            id="scorers-health",
        ),
        pytest.param(
            BASE + "\n[scorers.health_shadow]\nmin_coverage = 0.5\n",
            "FILE, line 24: [scorers.health_shadow]: the health shadow scorer is configured by "
            "[scoring] and [scorecards.<name>] (see docs/scorecards.md)",
            id="scorers-health-shadow",
        ),
        pytest.param(
            BASE + '\n[scoring]\nshadow = "mian"\n',
            "FILE, line 25: scoring.shadow: no scorecard named 'mian' "
            "(known: dear, fit_current_interest, main)",
            id="shadow-card-unknown",
        ),
        pytest.param(
            BASE + "\n[scorers.acme]\ncutoff = 3\n",
            "FILE, line 24: [scorers.acme] names no installed scorer "
            "(installed: health, health_shadow)",
            id="unknown-scorer",
        ),
        pytest.param(
            "[scorecard.main]\nmin_coverage = 0.6\n",
            "FILE, line 1: top level: object contains unknown field `scorecard`",
            id="misspelt-section",
        ),
    ],
)
def test_a_mistake_is_refused_with_its_line(
    tmp_path: Path, registry: Registry, text: str, message: str
) -> None:
    assert refusal(tmp_path, registry, text) == message


def test_a_member_of_a_family_can_be_measured(tmp_path: Path, registry: Registry) -> None:
    scoring = load(tmp_path, registry, changed('"probe.utilization"', '"probe.feature.reports"'))
    assert scoring.cards["main"].measures[0].key == "probe.feature.reports"


def test_weights_within_a_millionth_of_1_are_accepted(tmp_path: Path, registry: Registry) -> None:
    text = changed("usage = 0.6\npeople = 0.4", "usage = 0.1\npeople = 0.9000001")
    assert load(tmp_path, registry, text).cards["main"].components[1].weight == 0.9000001
    text = changed("usage = 0.6\npeople = 0.4", "usage = 0.1\npeople = 0.90001")
    assert "add up to 1.00001, not 1" in refusal(tmp_path, registry, text)


def test_keys_of_a_source_that_declares_none_are_accepted(tmp_path: Path) -> None:
    class Quiet:
        name = "quiet"

        def compute(self, batch: object) -> list[object]:
            return []

    class QuietPlugin:
        @hookimpl
        def register_signal_sources(self, register: Callable[[Quiet], None]) -> None:
            register(Quiet())

    registry = load_registry(extra=[("quiet", QuietPlugin())], use_entry_points=False)
    text = BASE.replace("probe.utilization", "quiet.anything").replace(
        "probe.days_since_meeting", "quiet.other"
    )
    assert load(tmp_path, registry, text).cards["main"].measures[0].key == "quiet.anything"


SHIPPED_KEYS = {
    "account": ("account.seat_deployment", "account.days_to_renewal"),
    "telemetry": (
        "telemetry.seat_utilization_14d",
        "telemetry.seat_utilization_30d",
        "telemetry.core_feature_adoption_30d",
        "telemetry.core_feature_drop_14d",
        "telemetry.core_use_trend_30d",
        "telemetry.core_use_trend_60d",
        "telemetry.core_use_trend_90d",
        "telemetry.logins_flat_core_declining",
        "telemetry.active_teams_30d",
        "telemetry.top_two_user_share_30d",
        "telemetry.weekly_logins_per_user",
    ),
    "firmographics": (
        "firmographics.icp_fit",
        "firmographics.employee_change_180d",
        "firmographics.products_owned",
    ),
    "news": ("news.impact",),
    "contacts": (
        "contacts.sponsor_left",
        "contacts.champion_left",
        "contacts.sponsor_tagged",
        "contacts.days_since_sponsor_meeting",
    ),
    "support": ("support.high_priority_30d", "support.ticket_spike"),
    "engagement": (
        "engagement.days_since_last_touch",
        "engagement.cadence_ratio",
        "engagement.roi_verified_share",
    ),
}
"""The keys the built-in plugins agreed to emit: the shipped cards measure only these."""


def declaring(source: str, keys: tuple[str, ...]) -> object:
    class Declares:
        name = source
        signals = tuple(
            SignalSpec(key=key, dimension="adoption", description="test") for key in keys
        )

        def compute(self, batch: object) -> list[object]:
            return []

    class DeclaresPlugin:
        @hookimpl
        def register_signal_sources(self, register: Callable[[Declares], None]) -> None:
            register(Declares())

    return DeclaresPlugin()


def test_the_shipped_cards_measure_only_the_agreed_keys() -> None:
    registry = load_registry(
        extra=[
            (source, declaring(source, keys))
            for source, keys in SHIPPED_KEYS.items()
            if source != "account"
        ],
        use_entry_points=False,
    )
    scoring = scorer_settings(load_config(None), registry)[HEALTH_SCORER]
    assert isinstance(scoring, Scoring)
    dear, fci = scoring.cards["dear"], scoring.cards["fit_current_interest"]
    assert [c.name for c in dear.components] == [
        "deployment",
        "engagement",
        "adoption",
        "roi",
        "renewal",
    ]
    assert [c.name for c in fci.components] == ["fit", "current_state", "interest"]
    agreed = {key for keys in SHIPPED_KEYS.values() for key in keys}
    for card in (dear, fci):
        assert {m.key for m in card.measures} <= agreed
        assert all(m.unavailable is None for m in card.measures), "every source is installed"
        assert sum(m.configured for m in card.measures) == pytest.approx(1)
    assert scoring.default is dear
    assert scoring.card_for("enterprise") is dear, "DEAR scores every segment by default"


def test_a_shipped_card_measuring_a_key_its_source_no_longer_declares_is_refused() -> None:
    keys = tuple(k for k in SHIPPED_KEYS["telemetry"] if k != "telemetry.seat_utilization_30d")
    registry = load_registry(
        extra=[("telemetry", declaring("telemetry", keys))], use_entry_points=False
    )
    with pytest.raises(ConfigError) as caught:
        scorer_settings(load_config(None), registry)
    message = str(caught.value)
    assert message.endswith(
        "dear.toml, line 91: scorecard 'dear', measure 'telemetry.seat_utilization_30d': "
        "unknown signal key: source 'telemetry' does not declare it; "
        "did you mean 'telemetry.seat_utilization_14d'?"
    )


def test_a_user_card_may_use_a_shipped_card_for_a_segment(
    tmp_path: Path, registry: Registry
) -> None:
    text = BASE + '\n[scoring]\ndefault = "main"\nsegments = { enterprise = "dear" }\n'
    scoring = load(tmp_path, registry, text)
    assert scoring.card_for("smb").name == "main"
    assert scoring.card_for("").name == "main"
    assert scoring.card_for("enterprise").name == "dear"


def test_load_scoring_without_a_registry_skips_the_source_checks(tmp_path: Path) -> None:
    path = tmp_path / "telltales.toml"
    path.write_text(changed('"probe.utilization"', '"nowhere.at_all"'))
    assert load_scoring(load_config(path), None).cards["main"].measures[0].key == ("nowhere.at_all")


# --- the locator ------------------------------------------------------------------

LOCATED = '''\
title = "a # in a string, not a comment"
"quoted key" = 1
dotted.key = { inner = [1, 2] }
notes = """
[not.a.table]
x = 1
"""

[[outer]]
name = "first"

  [[outer.inner]]
  x = 1

  [[outer.inner]]
  x = [
    { deep = true },   # a comment [with brackets]
    { deep = false },
  ]

[[outer]]
name = "second"

  [[outer.inner]]
  x = 3
'''


def test_the_locator_follows_arrays_of_tables_and_inline_values() -> None:
    tomllib.loads(LOCATED)
    lines = key_lines(LOCATED)
    assert lines[("title",)] == 1
    assert lines[("quoted key",)] == 2
    assert lines[("dotted", "key", "inner", 1)] == 3
    assert lines[("notes",)] == 4
    assert ("not", "a", "table") not in lines
    assert lines[("outer", 0, "name")] == 10
    assert lines[("outer", 0, "inner", 0, "x")] == 13
    assert lines[("outer", 0, "inner", 1)] == 15
    assert lines[("outer", 0, "inner", 1, "x", 0, "deep")] == 17
    assert lines[("outer", 0, "inner", 1, "x", 1, "deep")] == 18
    assert lines[("outer", 1, "name")] == 22
    assert lines[("outer", 1, "inner", 0, "x")] == 25


def test_the_example_in_the_docs_is_a_valid_configuration(tmp_path: Path) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "scorecards.md").read_text()
    example = docs.split("```toml\n", 1)[1].split("```", 1)[0]
    registry = load_registry(
        extra=[
            (source, declaring(source, keys))
            for source, keys in SHIPPED_KEYS.items()
            if source != "account"
        ],
        use_entry_points=False,
    )
    scoring = load(tmp_path, registry, example)
    assert scoring.default.name == "smb_health"
    assert scoring.card_for("enterprise").name == "fit_current_interest"
    assert scoring.card_for("mid-market").name == "dear"
    weights = [m.configured for m in scoring.default.measures]
    assert weights == [0.3, 0.3, 0.3, 0.1]
