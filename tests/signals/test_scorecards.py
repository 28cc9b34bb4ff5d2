"""Scorecards: hand-computed scores, redistribution, coverage, segments, grades, trend.

Every expected number is worked out in a comment beside it. The signals come from
``Probe``, a source declared here, so these tests need no plugin from plugins/.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest
from sqlite_utils import Database
from telltales import Score, ScoreBatch, Signal, SignalBatch, SignalSpec, hookimpl
from telltales.config import load_config
from telltales.default_plugins.schema import migrations
from telltales.engine.pipeline import run
from telltales.plugins import load_registry
from telltales.signals.scorecards import HEALTH_SCORER, Scoring, default_scoring, load_scoring
from telltales.signals.settings import scorer_settings
from telltales.store.queries import scores_for
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)

CARD = """
[scoring]
default = "main"

[scoring.segments]
enterprise = "other"

[scorecards.main]
min_coverage = 0.5

[scorecards.main.components]
usage = 0.6
people = 0.4

[scorecards.main.grades]
green = { from = 75, to = 100, label = "Thriving" }
amber = { from = 50, to = 75, label = "Watch" }
red = { from = 0, to = 50, label = "Rescue" }

[[scorecards.main.measures]]
component = "usage"
signal = "probe.utilization"
weight = 0.5
thresholds = [
  { at_least = 0.7, points = 100 },
  { at_least = 0.5, points = 70 },
  { at_least = 0.3, points = 30 },
]
otherwise = 0

[[scorecards.main.measures]]
component = "usage"
signal = "probe.trend"
weight = 0.5
linear = { worst = -0.2, best = 0.0 }

[[scorecards.main.measures]]
component = "people"
signal = "probe.days_since_meeting"
weight = 0.75
linear = { worst = 120, best = 30 }

[[scorecards.main.measures]]
component = "people"
signal = "probe.tickets"
weight = 0.25
thresholds = [{ at_most = 1, points = 100 }, { at_most = 5, points = 40 }]
otherwise = 0

[scorecards.other]
components = { usage = 1.0 }

[[scorecards.other.measures]]
component = "usage"
signal = "probe.utilization"
weight = 1.0
linear = { worst = 0, best = 1 }
"""

ALL = {
    "probe.utilization": 0.55,
    "probe.trend": -0.05,
    "probe.days_since_meeting": 60,
    "probe.tickets": 3,
}


class Probe:
    """Emits, for each account, the values the test put in ``values[day][account]``."""

    name = "probe"
    signals = (
        SignalSpec(key="probe.utilization", dimension="adoption", description="share 0..1"),
        SignalSpec(key="probe.trend", dimension="adoption", description="change per 30 days"),
        SignalSpec(
            key="probe.days_since_meeting",
            dimension="engagement",
            description="days",
            higher_is_better=False,
        ),
        SignalSpec(key="probe.tickets", dimension="current_state", description="count"),
        SignalSpec(key="probe.feature.*", dimension="adoption", description="per feature"),
    )

    def __init__(self) -> None:
        self.values: dict[date, dict[str, dict[str, float]]] = {}

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        for account_id, values in self.values.get(batch.as_of, {}).items():
            for key, value in values.items():
                yield Signal(
                    account_id=account_id,
                    key=key,
                    value=value,
                    dimension="adoption",
                    evidence=f"{key} is {value} on {batch.as_of}",
                )


class ProbePlugin:
    def __init__(self) -> None:
        self.source = Probe()

    @hookimpl
    def register_signal_sources(self, register: Callable[[Probe], None]) -> None:
        register(self.source)


@pytest.fixture
def probe() -> ProbePlugin:
    return ProbePlugin()


@pytest.fixture
def env(telltales_env: PluginHarness, probe: ProbePlugin, tmp_path: Path) -> PluginHarness:
    telltales_env.register(probe, name="probe")
    config = tmp_path / "telltales.toml"
    config.write_text(CARD)
    telltales_env.configure(config)
    telltales_env.add_accounts(
        [
            {"account_id": "a1", "name": "A", "segment": "smb"},
            {"account_id": "big", "name": "Big", "segment": "enterprise"},
            {"account_id": "plain", "name": "Plain"},
        ]
    )
    return telltales_env


def health(
    env: PluginHarness, probe: ProbePlugin, values: dict[str, float], day: date = DAY
) -> Score:
    """Run one day with ``values`` for a1 and return a1's stored health score."""
    probe.source.values[day] = {"a1": values}
    env.run(day)
    return env.scores("a1", day)[HEALTH_SCORER]


def by_key(score: Score) -> dict[str, tuple[float | None, float | None, float, float | None]]:
    return {
        m.signal_key: (m.value, m.points, m.weight, m.configured_weight) for m in score.breakdown
    }


def test_every_measure_present(env: PluginHarness, probe: ProbePlugin) -> None:
    score = health(env, probe, ALL)
    # utilization 0.55: at least 0.5 -> 70 points
    # trend -0.05 on a scale from -0.2 (0) to 0.0 (100): 0.15 / 0.2 = 75 points
    # days 60 on a scale from 120 (0) to 30 (100): 60 / 90 = 66.7 points
    # tickets 3: at most 5 -> 40 points
    # weights: usage 0.6 x 0.5 = 0.3 each; people 0.4 x 0.75 = 0.3 and 0.4 x 0.25 = 0.1
    # score = 70 x 0.3 + 75 x 0.3 + 66.7 x 0.3 + 40 x 0.1 = 21 + 22.5 + 20.01 + 4 = 67.51
    assert score.value == 67.5
    assert (score.grade, score.label) == ("amber", "Watch")
    assert score.coverage == 1.0
    assert by_key(score) == {
        "probe.utilization": (0.55, 70, 0.3, 0.3),
        "probe.trend": (-0.05, 75, 0.3, 0.3),
        "probe.days_since_meeting": (60, 66.7, 0.3, 0.3),
        "probe.tickets": (3, 40, 0.1, 0.1),
    }
    assert [m.component for m in score.breakdown] == ["usage", "usage", "people", "people"]
    evidence = {m.signal_key: m.evidence for m in score.breakdown}
    assert evidence["probe.tickets"] == "probe.tickets is 3 on 2026-11-20"


def test_a_missing_measure_gives_its_weight_to_its_component(
    env: PluginHarness, probe: ProbePlugin
) -> None:
    score = health(env, probe, {k: v for k, v in ALL.items() if k != "probe.trend"})
    # usage is now utilization alone: 70 points with all of usage's 0.6
    # score = 70 x 0.6 + 66.7 x 0.3 + 40 x 0.1 = 42 + 20.01 + 4 = 66.01
    # coverage = 1 - the missing 0.3 = 0.7
    assert score.value == 66.0
    assert score.coverage == 0.7
    assert by_key(score)["probe.utilization"] == (0.55, 70, 0.6, 0.3)
    assert by_key(score)["probe.trend"] == (None, None, 0.0, 0.3)
    missing = next(m for m in score.breakdown if m.signal_key == "probe.trend")
    assert missing.evidence == "missing: no probe.trend signal on 2026-11-20"


def test_a_missing_component_gives_its_weight_to_the_others(
    env: PluginHarness, probe: ProbePlugin
) -> None:
    usage_only = {"probe.utilization": 0.55, "probe.trend": -0.05}
    score = health(env, probe, usage_only)
    # people is missing whole: usage carries the score, 0.5 / 0.5 within it
    # score = 70 x 0.5 + 75 x 0.5 = 72.5; coverage = 0.6 (>= min_coverage 0.5)
    assert score.value == 72.5
    assert score.coverage == 0.6
    assert score.grade == "amber"
    assert by_key(score)["probe.utilization"] == (0.55, 70, 0.5, 0.3)
    assert by_key(score)["probe.tickets"] == (None, None, 0.0, 0.1)


def test_missing_data_is_never_read_as_healthy(env: PluginHarness, probe: ProbePlugin) -> None:
    # only tickets: coverage 0.1 < 0.5, so no value even though its points are 100
    score = health(env, probe, {"probe.tickets": 0})
    assert score.coverage == 0.1
    assert (score.value, score.grade, score.label) == (
        None,
        "insufficient_data",
        "Insufficient data",
    )
    assert by_key(score)["probe.tickets"] == (0, 100, 1.0, 0.1)
    nothing = env.scores("plain", DAY)[HEALTH_SCORER]
    assert (nothing.value, nothing.grade, nothing.coverage) == (None, "insufficient_data", 0.0)
    assert all(m.points is None and m.weight == 0 for m in nothing.breakdown)


def test_coverage_exactly_at_the_minimum_is_scored(
    env: PluginHarness, probe: ProbePlugin, tmp_path: Path
) -> None:
    tuned = tmp_path / "tuned.toml"
    tuned.write_text(CARD.replace("min_coverage = 0.5", "min_coverage = 0.4"))
    env.configure(tuned)
    # utilization (0.3) + tickets (0.1) = 0.4, exactly the minimum: scored
    # usage = utilization alone (100 points), people = tickets alone (100 points)
    # score = 100 x 0.6 + 100 x 0.4 = 100
    at = health(env, probe, {"probe.utilization": 0.9, "probe.tickets": 0})
    assert (at.coverage, at.value, at.grade) == (0.4, 100.0, "green")
    below = health(env, probe, {"probe.utilization": 0.9})
    assert (below.coverage, below.value) == (0.3, None)


@pytest.mark.parametrize(
    ("utilization", "points"),
    [(0.7, 100), (0.69, 70), (0.5, 70), (0.49, 30), (0.3, 30), (0.29, 0), (-1, 0), (5, 100)],
)
def test_thresholds_at_least(
    env: PluginHarness, probe: ProbePlugin, utilization: float, points: float
) -> None:
    # a step is reached at its threshold: 0.7 earns 100, just under earns the next
    score = health(env, probe, {**ALL, "probe.utilization": utilization})
    assert by_key(score)["probe.utilization"][1] == points


@pytest.mark.parametrize(("tickets", "points"), [(0, 100), (1, 100), (2, 40), (5, 40), (6, 0)])
def test_thresholds_at_most(
    env: PluginHarness, probe: ProbePlugin, tickets: float, points: float
) -> None:
    score = health(env, probe, {**ALL, "probe.tickets": tickets})
    assert by_key(score)["probe.tickets"][1] == points


@pytest.mark.parametrize(
    ("key", "value", "points"),
    [
        # higher is better: worst -0.2 -> 0, best 0.0 -> 100
        ("probe.trend", -0.2, 0),
        ("probe.trend", -0.1, 50),
        ("probe.trend", -0.15, 25),
        ("probe.trend", 0.3, 100),  # beyond best: clamped
        ("probe.trend", -0.9, 0),  # beyond worst: clamped
        # lower is better: worst 120 -> 0, best 30 -> 100
        ("probe.days_since_meeting", 120, 0),
        ("probe.days_since_meeting", 75, 50),  # (75 - 120) / (30 - 120) = 0.5
        ("probe.days_since_meeting", 100, 22.2),  # 20 / 90 = 0.2222
        ("probe.days_since_meeting", 5, 100),
        ("probe.days_since_meeting", 400, 0),
    ],
)
def test_linear_scales_both_ways(
    env: PluginHarness, probe: ProbePlugin, key: str, value: float, points: float
) -> None:
    score = health(env, probe, {**ALL, key: value})
    assert by_key(score)[key][1] == points


def scoring_for(tmp_path: Path, text: str = CARD) -> Scoring:
    path = tmp_path / "card.toml"
    path.write_text(text)
    registry = load_registry(extra=[("probe", ProbePlugin())], use_entry_points=False)
    return load_scoring(load_config(path), registry)


@pytest.mark.parametrize(
    ("value", "grade", "label"),
    [
        (100, "green", "Thriving"),
        (75, "green", "Thriving"),  # a band holds its lower bound
        (74.9, "amber", "Watch"),
        (50, "amber", "Watch"),
        (49.9, "red", "Rescue"),
        (0, "red", "Rescue"),
    ],
)
def test_grade_bands_and_labels(tmp_path: Path, value: float, grade: str, label: str) -> None:
    assert scoring_for(tmp_path).cards["main"].grade(value) == (grade, label)


def test_default_bands_and_labels(tmp_path: Path) -> None:
    # card "other" gives no grades: 70..100 Healthy, 40..70 Concern, 0..40 At-Risk
    other = scoring_for(tmp_path).cards["other"]
    assert [(b.grade, b.low, b.high, b.label) for b in other.bands] == [
        ("green", 70, 100, "Healthy"),
        ("amber", 40, 70, "Concern"),
        ("red", 0, 40, "At-Risk"),
    ]
    assert other.min_coverage == 0.6


def test_each_segment_gets_its_card(env: PluginHarness, probe: ProbePlugin) -> None:
    probe.source.values[DAY] = {"a1": ALL, "big": ALL, "plain": ALL}
    env.run(DAY)
    config_id = env.config.config_id
    scores = {a: env.scores(a, DAY)[HEALTH_SCORER] for a in ("a1", "big", "plain")}
    # smb and the blank segment use the default card "main": 67.5 (see above)
    assert scores["a1"].config_id == scores["plain"].config_id == f"main@{config_id}"
    assert scores["plain"].value == 67.5
    # enterprise uses "other": utilization 0.55 on a 0..1 scale = 55 points
    assert scores["big"].config_id == f"other@{config_id}"
    assert (scores["big"].value, scores["big"].grade) == (55.0, "amber")


def test_config_id_is_the_card_and_the_hash_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "card.toml"
    path.write_text(CARD)
    file_hash = hashlib.sha256(CARD.encode()).hexdigest()[:12]
    registry = load_registry(extra=[("probe", ProbePlugin())], use_entry_points=False)
    scoring = load_scoring(load_config(path), registry)
    assert scoring.cards["main"].config_id == f"main@{file_hash}"
    # a shipped card's id covers the shipped file and the user's file
    shipped = scoring.cards["dear"].config_id
    assert shipped.startswith("dear@")
    assert shipped != default_scoring().cards["dear"].config_id
    path.write_text(CARD + "\n# tuned\n")
    assert load_scoring(load_config(path), registry).cards["main"].config_id != f"main@{file_hash}"


def test_trend_against_7_and_30_days_before(env: PluginHarness, probe: ProbePlugin) -> None:
    first = health(env, probe, {**ALL, "probe.utilization": 0.2}, DAY - timedelta(days=30))
    # utilization 0.2 -> 0 points: 0 + 22.5 + 20.01 + 4 = 46.51 -> 46.5
    assert first.value == 46.5
    assert (first.trend_7d, first.trend_30d) == (None, None)
    week = health(env, probe, {**ALL, "probe.utilization": 0.3}, DAY - timedelta(days=7))
    # utilization 0.3 -> 30 points: 9 + 22.5 + 20.01 + 4 = 55.51 -> 55.5
    assert week.value == 55.5
    assert week.trend_7d is None, "nothing was scored 14 days before"
    now = health(env, probe, ALL)
    assert now.value == 67.5
    assert now.trend_7d is not None
    assert now.trend_30d is not None
    # 67.5 - 55.5 = +12.0 over 7 days; 67.5 - 46.5 = +21.0 over 30 days
    assert (now.trend_7d.change, now.trend_7d.value, now.trend_7d.as_of) == (
        12.0,
        55.5,
        date(2026, 11, 13),
    )
    assert (now.trend_30d.change, now.trend_30d.grade, now.trend_30d.as_of) == (
        21.0,
        "red",
        date(2026, 10, 21),
    )
    assert now.trend_7d.same_config
    assert now.trend_30d.same_config


def test_trend_says_when_the_earlier_score_used_another_configuration(
    env: PluginHarness, probe: ProbePlugin, tmp_path: Path
) -> None:
    health(env, probe, ALL, DAY - timedelta(days=7))
    before = env.config.config_id
    tuned = tmp_path / "tuned.toml"
    tuned.write_text(CARD.replace("min_coverage = 0.5", "min_coverage = 0.4"))
    env.configure(tuned)
    now = health(env, probe, ALL)
    assert now.trend_7d is not None
    assert now.trend_7d.change == 0.0
    assert now.trend_7d.config_id == f"main@{before}"
    assert now.trend_7d.same_config is False
    assert now.config_id == f"main@{env.config.config_id}"


def test_trend_of_an_insufficient_score_has_no_change(
    env: PluginHarness, probe: ProbePlugin
) -> None:
    health(env, probe, {"probe.tickets": 0}, DAY - timedelta(days=7))
    now = health(env, probe, ALL)
    assert now.trend_7d is not None
    assert (now.trend_7d.value, now.trend_7d.grade, now.trend_7d.change) == (
        None,
        "insufficient_data",
        None,
    )


def test_the_scorer_output_is_what_is_stored(env: PluginHarness, probe: ProbePlugin) -> None:
    probe.source.values[DAY] = {"a1": ALL}
    env.run(DAY)
    scoring = scorer_settings(env.config, env.registry)[HEALTH_SCORER]
    computed = scoring.card_for("smb").score(
        "a1", HEALTH_SCORER, list(env.signals("a1", DAY).values()), DAY
    )
    (stored,) = [s for s in scores_for(env.store, "a1", DAY) if s.scorer == HEALTH_SCORER]
    assert msgspec.to_builtins(stored) == msgspec.to_builtins(computed)


def test_the_scorer_reads_the_batch_in_two_queries(env: PluginHarness, probe: ProbePlugin) -> None:
    probe.source.values[DAY] = {"a1": ALL, "big": ALL}
    statements: list[str] = []
    env.store.reader.conn.set_trace_callback(statements.append)
    env.run(DAY)
    env.store.reader.conn.set_trace_callback(None)
    # one for the segments, one for the scores of 7 and 30 days before; none per account
    assert len([s for s in statements if "a.segment" in s]) == 1
    assert len([s for s in statements if "FROM scores" in s]) == 1


def test_a_run_without_settings_scores_with_the_shipped_dear_card(
    telltales_env: PluginHarness,
) -> None:
    telltales_env.add_accounts(
        [{"account_id": "a1", "name": "A", "seats_purchased": 10, "seats_assigned": 10}]
    )
    run(telltales_env.store, telltales_env.registry, DAY)
    score = telltales_env.scores("a1", DAY)[HEALTH_SCORER]
    # only account.seat_deployment (deployment, 0.14 of DEAR) can be present (no renewal
    # date: no days to renewal): coverage 0.14 < 0.6, so 100 points of deployment do not
    # make it healthy
    assert score.config_id == default_scoring().cards["dear"].config_id
    assert (score.coverage, score.value, score.grade) == (0.14, None, "insufficient_data")
    deployment = next(m for m in score.breakdown if m.signal_key == "account.seat_deployment")
    assert (deployment.points, deployment.weight, deployment.configured_weight) == (100, 1.0, 0.14)


def test_a_shipped_measure_whose_source_is_not_installed_says_so(
    telltales_env: PluginHarness,
) -> None:
    telltales_env.add_accounts([{"account_id": "a1", "name": "A"}])
    telltales_env.run(DAY)
    score = telltales_env.scores("a1", DAY)[HEALTH_SCORER]
    evidence = {m.signal_key: m.evidence for m in score.breakdown}
    assert evidence["telemetry.seat_utilization_30d"] == (
        "missing: source 'telemetry' is not installed"
    )
    assert evidence["account.seat_deployment"] == (
        "missing: no account.seat_deployment signal on 2026-11-20"
    )


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    cutoff: int = 3


class Configured:
    name = "acme.churn"
    settings_type = Settings
    seen: ClassVar[list[object]] = []

    def score(self, batch: ScoreBatch) -> list[Score]:
        Configured.seen.append(batch.settings)
        return []


class ConfiguredPlugin:
    @hookimpl
    def register_scorers(self, register: Callable[[Configured], None]) -> None:
        register(Configured())


def test_a_plugin_scorer_gets_its_scorers_table_as_settings(
    telltales_env: PluginHarness, tmp_path: Path
) -> None:
    telltales_env.register(ConfiguredPlugin(), name="acme")
    config = tmp_path / "telltales.toml"
    config.write_text('[scorers."acme.churn"]\ncutoff = 5\n')
    telltales_env.configure(config)
    telltales_env.add_accounts([{"account_id": "a1", "name": "A"}])
    Configured.seen.clear()
    telltales_env.run(DAY)
    assert Configured.seen == [Settings(cutoff=5)]


def test_the_health_scorer_gets_checked_scorecards(env: PluginHarness) -> None:
    settings = scorer_settings(env.config, env.registry)
    assert isinstance(settings[HEALTH_SCORER], Scoring)
    assert settings[HEALTH_SCORER].default.name == "main"


def test_scores_are_keyed_by_day_first_and_kept_by_the_migration(tmp_path: Path) -> None:
    db = Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="m003_scores_by_day")
    db.execute("INSERT INTO accounts (account_id, name, updated_at) VALUES ('a1', 'A', '')")
    db.execute("INSERT INTO runs (run_id, as_of, status, started_at) VALUES (1, '', 'ok', '')")
    db.execute(
        "INSERT INTO scores (account_id, scorer, as_of, value, grade, label, coverage, "
        "breakdown, config_id, run_id) "
        "VALUES ('a1', 'health', '2026-11-20', 55.5, 'amber', 'Concern', 0.8, '[]', 'x@1', 1)"
    )
    migrations.apply(db)
    assert db["scores"].pks == ["as_of", "scorer", "account_id"]
    assert list(db.query("SELECT account_id, value, label, config_id FROM scores")) == [
        {"account_id": "a1", "value": 55.5, "label": "Concern", "config_id": "x@1"}
    ]
    assert "scores_account" in [index.name for index in db["scores"].indexes]


def test_weights_summing_to_one_within_tolerance_keep_coverage_within_one(
    env: PluginHarness, probe: ProbePlugin, tmp_path: Path
) -> None:
    # 0.6 + 0.400001 passes the weight check (within a millionth); full data must still
    # give coverage 1, not 1.000001, which the engine would refuse as a broken score.
    config = tmp_path / "loose.toml"
    config.write_text(CARD.replace("people = 0.4\n", "people = 0.400001\n"))
    env.configure(config)
    score = health(env, probe, ALL)
    assert score.coverage == 1.0
    assert score.value is not None


def test_no_data_is_insufficient_even_with_min_coverage_zero(
    env: PluginHarness, probe: ProbePlugin, tmp_path: Path
) -> None:
    config = tmp_path / "zero.toml"
    config.write_text(CARD.replace("min_coverage = 0.5", "min_coverage = 0"))
    env.configure(config)
    probe.source.values[DAY] = {"a1": {"probe.feature.x": 1.0}}
    env.run(DAY)
    score = env.scores("a1", DAY)[HEALTH_SCORER]
    assert (score.value, score.grade, score.coverage) == (None, "insufficient_data", 0.0)
