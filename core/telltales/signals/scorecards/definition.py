"""The scorecard format in TOML, and its validation: a bad card is refused at load.

Cards come from two places: the ones shipped in this package (``dear.toml``,
``fit_current_interest.toml``) and the ``[scorecards.<name>]`` tables of the user's
configuration file; ``[scoring]`` says which card scores which segment. Every
mistake is refused before a run starts, with the file, the line and the problem,
because a scorecard that quietly scores the wrong thing is worse than none.

The one difference between shipped and user cards: a shipped card may measure a
signal whose source is not installed (the card serves every installation); that
measure is then always missing, which lowers coverage. A user's card naming a
source that is not installed is a mistake and is refused, unless the source's plugin
is installed but was left out: its measures are then missing too.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from telltales.config.document import TomlDocument, TomlPath
from telltales.contracts import SignalSpec, spec_matches
from telltales.errors import dotted
from telltales.models import Grade
from telltales.signals.scorecards.card import Band, Card, Component, Linear, Measure, Thresholds

if TYPE_CHECKING:
    from telltales.config import LoadedConfig
    from telltales.plugins import Registry

HEALTH_SCORER = "health"
"""The name of the core's scorer: scores are stored and shown under it."""
SHADOW_SCORER = "health_shadow"
"""The scorer the shadow card's scores are stored under (``[scoring] shadow``): beside
the health score, never read by the shipped rules, so it drives no status."""
DEFAULT_CARD = "dear"
"""The card that scores every segment ``[scoring]`` does not name."""
WEIGHT_TOLERANCE = 1e-6

Points = Annotated[float, msgspec.Meta(ge=0, le=100)]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]
Weight = Annotated[float, msgspec.Meta(gt=0, le=1)]


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MEASURE_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_LABELS: dict[Grade, str] = {"green": "Healthy", "amber": "Concern", "red": "At-Risk"}


# The format, field for field as docs/scorecards.md describes it. Dicts keyed by the
# user's names (components, segments) are checked entry by entry afterwards, because
# msgspec's error paths do not name dict keys and the message must.


class BandSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    low: Points = msgspec.field(name="from")
    high: Points = msgspec.field(name="to")
    label: str = ""


class GradesSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    green: BandSpec
    amber: BandSpec
    red: BandSpec


DEFAULT_GRADES = GradesSpec(
    green=BandSpec(low=70, high=100), amber=BandSpec(low=40, high=70), red=BandSpec(low=0, high=40)
)


class StepSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    at_least: float | None = None
    at_most: float | None = None
    points: Points


class LinearSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    worst: float
    best: float


class MeasureSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    signal: str
    component: str
    weight: Weight
    thresholds: list[StepSpec] | None = None
    otherwise: Points | None = None
    linear: LinearSpec | None = None


class CardSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    min_coverage: Share = 0.6
    insufficient_data_label: str = "Insufficient data"
    components: dict[str, Any]
    """Weights by component name; checked one by one so errors can name the component."""
    grades: GradesSpec = DEFAULT_GRADES
    measures: list[MeasureSpec]


class ScoringSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    default: str = DEFAULT_CARD
    segments: dict[str, Any] = msgspec.field(default_factory=dict)
    shadow: str | None = None


@dataclass(frozen=True)
class Scoring:
    """Which card scores each segment: the health scorer's settings for one run."""

    cards: Mapping[str, Card]
    default: Card
    segments: Mapping[str, Card]
    shadow: Card | None = None
    """The card scored beside the live ones for every account (``[scoring] shadow``),
    stored under :data:`SHADOW_SCORER`: judged, never acted on, until promoted."""

    def card_for(self, segment: str) -> Card:
        return self.segments.get(segment, self.default)


def load_scoring(config: LoadedConfig, registry: Registry | None) -> Scoring:
    """Validate the shipped cards and the user's, and resolve ``[scoring]``.

    ``registry`` gives the installed sources and the keys they declare; None skips
    those checks (the health scorer falls back to this when a run was not given
    settings).
    """
    user_doc = config.document
    cards: dict[str, Card] = {}
    for shipped in _shipped_files():
        text = shipped.read_text(encoding="utf-8")
        document = TomlDocument(str(shipped), text)
        digest = _digest(config.config_id, text)
        for name, table in _shipped_tables(document, text).items():
            cards[name] = _compile(document, name, table, digest, registry, shipped=True)
    for name, table in config.values.scorecards.items():
        path = ("scorecards", name)
        if name in cards:
            raise user_doc.error(
                path,
                f"[scorecards.{name}]: {name!r} is a shipped scorecard; "
                "copy it under a new name to change it",
            )
        if not _NAME.match(name):
            raise user_doc.error(
                path,
                f"[scorecards.{name}]: a scorecard name is lowercase letters, digits and _",
            )
        cards[name] = _compile(user_doc, name, table, config.config_id, registry, shipped=False)
    scoring = user_doc.decode(("scoring",), config.values.scoring, ScoringSpec)

    def card(path: TomlPath, name: object) -> Card:
        if isinstance(name, str) and name in cards:
            return cards[name]
        problem = (
            f"no scorecard named {name!r}"
            if isinstance(name, str)
            else f"expected the name of a scorecard, got {name!r}"
        )
        raise user_doc.error(path, f"{dotted(path)}: {problem} (known: {', '.join(cards)})")

    default = card(("scoring", "default"), scoring.default)
    segments = {
        segment: card(("scoring", "segments", segment), name)
        for segment, name in scoring.segments.items()
    }
    shadow = None if scoring.shadow is None else card(("scoring", "shadow"), scoring.shadow)
    return Scoring(cards=cards, default=default, segments=segments, shadow=shadow)


@cache
def default_scoring() -> Scoring:
    """The shipped cards with no configuration file, unchecked against sources."""
    # Imported here: the configuration module imports this one to check scorecards.
    from telltales.config import load_config

    return load_scoring(load_config(None), None)


def _shipped_files() -> list[Traversable]:
    folder = resources.files(__package__)
    return sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".toml")),
        key=lambda entry: entry.name,
    )


def _shipped_tables(document: TomlDocument, text: str) -> dict[str, Any]:
    data = msgspec.toml.decode(text)
    extra = sorted(set(data) - {"scorecards"})
    if extra:
        raise document.error((extra[0],), "a shipped card file holds only [scorecards.<name>]")
    tables: dict[str, Any] = data.get("scorecards", {})
    return tables


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def _number(value: float) -> str:
    return f"{value:g}"


def _compile(
    document: TomlDocument,
    name: str,
    table: object,
    digest: str,
    registry: Registry | None,
    *,
    shipped: bool,
) -> Card:
    base: TomlPath = ("scorecards", name)
    spec = document.decode(base, table, CardSpec)
    where = f"scorecard {name!r}"
    weights = _component_weights(document, base, where, spec.components)
    bands = _bands(document, base, where, spec.grades)
    measures: dict[str, list[Measure]] = {component: [] for component in weights}
    lines: dict[str, list[TomlPath]] = {component: [] for component in weights}
    seen: dict[str, int] = {}
    if not spec.measures:
        raise document.error(base, f"{where} has no measures")
    for number, measure in enumerate(spec.measures):
        path = (*base, "measures", number)
        label = f"{where}, measure {measure.signal!r}"
        unavailable = check_signal_key(document, (*path, "signal"), label, measure.signal, registry)
        if unavailable is not None and not excused(measure.signal, registry, shipped=shipped):
            installed = ", ".join(sorted(registry.sources)) if registry else ""
            raise document.error(
                (*path, "signal"), f"{label}: {unavailable} (installed sources: {installed})"
            )
        if measure.signal in seen:
            first = document.line((*base, "measures", seen[measure.signal]))
            raise document.error(
                (*path, "signal"), f"{label}: measured twice (first on line {first})"
            )
        seen[measure.signal] = number
        if measure.component not in weights:
            raise document.error(
                (*path, "component"),
                f"{label}: no component {measure.component!r} in this scorecard "
                f"(components: {', '.join(weights)})",
            )
        rule = _rule(document, path, label, measure)
        component_weight = weights[measure.component]
        measures[measure.component].append(
            Measure(
                key=measure.signal,
                component=measure.component,
                weight=measure.weight,
                configured=round(component_weight * measure.weight, 6),
                rule=rule,
                unavailable=unavailable,
            )
        )
        lines[measure.component].append((*path, "weight"))
    for component, found in measures.items():
        if not found:
            raise document.error(
                (*base, "components", component),
                f"{where}: component {component!r} has no measures",
            )
        total = math.fsum(m.weight for m in found)
        if abs(total - 1) > WEIGHT_TOLERANCE:
            listed = ", ".join(
                f"{_number(m.weight)} on line {document.line(line)}"
                for m, line in zip(found, lines[component], strict=True)
            )
            raise document.error(
                lines[component][0],
                f"{where}: the measure weights of component {component!r} add up to "
                f"{_number(round(total, 6))}, not 1 ({listed})",
            )
    return Card(
        name=name,
        config_id=f"{name}@{digest}",
        min_coverage=spec.min_coverage,
        components=tuple(
            Component(name=component, weight=weight, measures=tuple(measures[component]))
            for component, weight in weights.items()
        ),
        bands=bands,
        insufficient_label=spec.insufficient_data_label,
    )


def _component_weights(
    document: TomlDocument, base: TomlPath, where: str, components: dict[str, Any]
) -> dict[str, float]:
    path = (*base, "components")
    if not components:
        raise document.error(path, f"{where}: no components")
    weights: dict[str, float] = {}
    for component, weight in components.items():
        if not _NAME.match(component):
            raise document.error(
                (*path, component),
                f"{where}: component name {component!r} must be lowercase letters, digits and _",
            )
        weights[component] = document.decode((*path, component), weight, Weight)
    total = math.fsum(weights.values())
    if abs(total - 1) > WEIGHT_TOLERANCE:
        listed = ", ".join(f"{c} {_number(w)}" for c, w in weights.items())
        raise document.error(
            path,
            f"{where}: the component weights add up to {_number(round(total, 6))}, "
            f"not 1 ({listed})",
        )
    return weights


def _bands(
    document: TomlDocument, base: TomlPath, where: str, grades: GradesSpec
) -> tuple[Band, ...]:
    path = (*base, "grades")
    order: list[tuple[Grade, BandSpec]] = [
        ("red", grades.red),
        ("amber", grades.amber),
        ("green", grades.green),
    ]
    for grade, band in order:
        if band.low >= band.high:
            raise document.error(
                (*path, grade),
                f"{where}: grade {grade} runs from {_number(band.low)} to "
                f"{_number(band.high)}; 'from' must be below 'to'",
            )
    if grades.red.low != 0:
        raise document.error(
            (*path, "red"),
            f"{where}: the grades must start at 0, but red starts at {_number(grades.red.low)}",
        )
    if grades.green.high != 100:
        raise document.error(
            (*path, "green"),
            f"{where}: the grades must reach 100, but green ends at {_number(grades.green.high)}",
        )
    for (lower, below), (upper, above) in itertools.pairwise(order):
        if below.high < above.low:
            raise document.error(
                (*path, upper),
                f"{where}: the grades leave a gap from {_number(below.high)} to "
                f"{_number(above.low)} ({lower} ends at {_number(below.high)}, "
                f"{upper} starts at {_number(above.low)})",
            )
        if below.high > above.low:
            raise document.error(
                (*path, upper),
                f"{where}: the grades overlap from {_number(above.low)} to "
                f"{_number(below.high)} ({lower} ends at {_number(below.high)}, "
                f"{upper} starts at {_number(above.low)})",
            )
    return tuple(
        Band(grade=grade, low=band.low, high=band.high, label=band.label or _LABELS[grade])
        for grade, band in reversed(order)
    )


def _rule(
    document: TomlDocument, path: TomlPath, label: str, measure: MeasureSpec
) -> Thresholds | Linear:
    if (measure.thresholds is None) == (measure.linear is None):
        raise document.error(path, f"{label}: give either thresholds or linear (exactly one)")
    if measure.linear is not None:
        if measure.otherwise is not None:
            raise document.error(
                (*path, "otherwise"), f"{label}: 'otherwise' goes with thresholds, not linear"
            )
        if not all(map(math.isfinite, (measure.linear.worst, measure.linear.best))):
            raise document.error(
                (*path, "linear"), f"{label}: 'worst' and 'best' must be finite numbers"
            )
        if measure.linear.worst == measure.linear.best:
            raise document.error(
                (*path, "linear"), f"{label}: linear needs 'worst' and 'best' to differ"
            )
        return Linear(worst=measure.linear.worst, best=measure.linear.best)
    steps = measure.thresholds or []
    if not steps:
        raise document.error((*path, "thresholds"), f"{label}: thresholds is empty")
    if measure.otherwise is None:
        raise document.error(
            path, f"{label}: thresholds need 'otherwise', the points below the last step"
        )
    kinds: set[str] = set()
    for number, step in enumerate(steps):
        if (step.at_least is None) == (step.at_most is None):
            raise document.error(
                (*path, "thresholds", number),
                f"{label}: each threshold needs exactly one of at_least or at_most",
            )
        bound = step.at_least if step.at_least is not None else step.at_most
        if bound is not None and not math.isfinite(bound):
            raise document.error(
                (*path, "thresholds", number), f"{label}: a threshold must be a finite number"
            )
        kinds.add("at_least" if step.at_least is not None else "at_most")
    if len(kinds) > 1:
        raise document.error(
            (*path, "thresholds"),
            f"{label}: thresholds mix at_least and at_most; use one direction per measure",
        )
    at_least = kinds == {"at_least"}
    bounds = [step.at_least if at_least else step.at_most for step in steps]
    values = [bound for bound in bounds if bound is not None]
    for number in range(1, len(values)):
        previous, current = values[number - 1], values[number]
        if (current >= previous) if at_least else (current <= previous):
            kind = "at_least" if at_least else "at_most"
            order = "falling" if at_least else "rising"
            raise document.error(
                (*path, "thresholds", number),
                f"{label}: thresholds must run from the best value to the worst "
                f"({kind} values {order}), but {kind} {_number(current)} follows "
                f"{kind} {_number(previous)}",
            )
    return Thresholds(
        steps=tuple(zip(values, (step.points for step in steps), strict=True)),
        at_least=at_least,
        otherwise=measure.otherwise,
    )


def excused(key: str, registry: Registry | None, *, shipped: bool) -> bool:
    """Whether a key whose source is missing may stay in a card or rule, always missing.

    A shipped one may: it serves every installation. So may one whose plugin was left
    out: one broken plugin does not stop the rest, and the runs say they are degraded.
    A user's key naming a source that is simply not installed is a mistake.
    """
    return shipped or (
        registry is not None and registry.left_out_by(key.split(".", 1)[0]) is not None
    )


def check_signal_key(
    document: TomlDocument,
    path: TomlPath,
    label: str,
    key: str,
    registry: Registry | None,
) -> str | None:
    """Refuse a malformed or undeclared key; say why it can never be present, or None."""
    if key.endswith(".*"):
        raise document.error(
            path,
            f"{label}: {key!r} is a family of keys (one per item, different for each "
            "account); a measure needs one key",
        )
    if not _MEASURE_KEY.match(key):
        raise document.error(
            path, f"{label}: {key!r} is not a signal key (source.name, in lowercase)"
        )
    if registry is None:
        return None
    source = key.split(".", 1)[0]
    entry = registry.sources.get(source)
    if entry is None:
        failure = registry.left_out_by(source)
        if failure is not None:
            return f"plugin {failure.plugin!r} was left out ({failure.stage})"
        return f"source {source!r} is not installed"
    declared: tuple[SignalSpec, ...] | None = getattr(entry.obj, "signals", None)
    if declared is None or any(spec_matches(spec.key, key) for spec in declared):
        return None
    keys = [spec.key for spec in declared]
    close = difflib.get_close_matches(key, keys, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"it declares {', '.join(keys)}"
    raise document.error(
        path, f"{label}: unknown signal key: source {source!r} does not declare it; {hint}"
    )
