"""The engine: batch runs, replace-not-double, replay, degraded runs, strict mode."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest
from telltales import Signal, SignalBatch, hookimpl
from telltales.engine.pipeline import run
from telltales.errors import PluginError, UnknownAccountError
from telltales.plugins import Registry, load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store, open_store
from telltales.store.queries import get_run, signals_for

DAY = date(2026, 11, 20)
A1: dict[str, object] = {
    "account_id": "a1",
    "name": "A",
    "seats_purchased": 10,
    "seats_assigned": 4,
    "renewal_date": "2027-01-19",
}


def add_accounts(store: Store, registry: Registry, accounts: list[dict[str, object]]) -> None:
    ingest(store, registry, "accounts", convert_records(registry, "accounts", accounts))


def plugin_with(source: object) -> object:
    class Plugin:
        @hookimpl
        def register_signal_sources(self, register: object) -> None:
            register(source)  # type: ignore[operator]

    return Plugin()


class Returns:
    """A source that returns whatever it is given (or raises it)."""

    def __init__(self, name: str, output: object) -> None:
        self.name = name
        self.output = output

    def compute(self, batch: SignalBatch) -> Iterable[Signal]:
        if isinstance(self.output, BaseException):
            raise self.output
        if callable(self.output):
            return self.output(batch)  # type: ignore[no-any-return]
        return self.output  # type: ignore[return-value]


def open_with(tmp_path: object, *sources: object, strict: bool = False) -> tuple[Store, Registry]:
    registry = load_registry(
        extra=[(f"p{i}", plugin_with(s)) for i, s in enumerate(sources)],
        use_entry_points=False,
        strict=strict,
    )
    assert registry.failures == []
    migrations = [e.obj for e in registry.migrations.values()]
    store = open_store(tmp_path / "t.db", migrations, create=True)  # type: ignore[operator]
    add_accounts(store, registry, [A1, {"account_id": "a2", "name": "B"}])
    return store, registry


def test_a_run_computes_the_builtin_signals_with_evidence(store: Store, registry: Registry) -> None:
    add_accounts(store, registry, [A1])
    result = run(store, registry, DAY)
    assert (result.status, result.accounts, result.signals) == ("ok", 1, 2)
    found = {s.key: s for s in signals_for(store, "a1", DAY)}
    assert found["account.seat_deployment"].value == 0.4
    assert found["account.seat_deployment"].evidence == "4 of 10 purchased seats assigned (40%)"
    assert found["account.seat_deployment"].dimension == "deployment"
    assert found["account.days_to_renewal"].value == 60
    assert found["account.days_to_renewal"].source == "account"
    assert "renews in 60 days" in found["account.days_to_renewal"].evidence


def test_rerunning_a_day_replaces_and_never_doubles(tmp_path: object) -> None:
    values = iter([1.0, 2.0])

    def varying(batch: SignalBatch) -> list[Signal]:
        value = next(values)
        return [
            Signal(
                account_id=a,
                key="var.x",
                value=value,
                dimension="interest",
                evidence=f"x is {value}",
            )
            for a in batch.account_ids
        ]

    store, registry = open_with(tmp_path, Returns("var", varying))
    run(store, registry, DAY)
    second = run(store, registry, DAY)
    rows = store.db.execute(
        "SELECT account_id, value, run_id FROM signals WHERE key = 'var.x' ORDER BY 1"
    ).fetchall()
    assert rows == [("a1", 2.0, second.run_id), ("a2", 2.0, second.run_id)]
    assert store.db["signals"].count == 4  # var.x for both, deployment and renewal for a1 only


def test_past_days_can_be_replayed_and_are_kept_apart(store: Store, registry: Registry) -> None:
    add_accounts(store, registry, [{"account_id": "a1", "name": "A", "renewal_date": "2027-01-19"}])
    for offset in range(3):
        run(store, registry, DAY - timedelta(days=offset))
    days = [
        r[0]
        for r in store.db.execute(
            "SELECT as_of FROM signals WHERE key = 'account.days_to_renewal' ORDER BY as_of"
        )
    ]
    assert days == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert signals_for(store, "a1", date(2026, 11, 18))[0].value == 62


def test_a_failing_source_degrades_the_run_and_leaves_its_signals_missing(
    tmp_path: object,
) -> None:
    store, registry = open_with(tmp_path, Returns("flaky", ConnectionError("vendor API down")))
    result = run(store, registry, DAY)
    assert result.status == "degraded"
    (failure,) = result.failures
    assert (failure.plugin, failure.component) == ("p0", "source:flaky")
    assert failure.error == "ConnectionError: vendor API down"
    keys = {s.key for s in signals_for(store, "a1", DAY)}
    assert keys == {"account.seat_deployment", "account.days_to_renewal"}
    stored = get_run(store, result.run_id)
    assert stored is not None
    assert stored.status == "degraded"
    assert stored.failures == result.failures


def good(account_id: str, **changes: object) -> Signal:
    fields: dict[str, object] = {
        "account_id": account_id,
        "key": "junk.x",
        "value": 1.0,
        "dimension": "adoption",
        "evidence": "fine",
    }
    fields.update(changes)
    return Signal(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ([{"account_id": "a1"}], "expected a Signal, got dict"),
        ([good("a1", value="high")], "value must be a number"),
        ([good("a1", value=math.nan)], "value must be finite"),
        ([good("a1", dimension="vibes")], "unknown dimension 'vibes'"),
        ([good("a1", evidence=" ")], "evidence must be a non-empty sentence"),
        ([good("a1", key="other.x")], "must start with 'junk.'"),
        ([good("zz")], "outside the batch"),
        ([good("a1"), good("a1")], "emitted twice"),
        (42, "TypeError"),
    ],
)
def test_garbage_from_a_source_is_discarded_whole(
    tmp_path: object, output: object, message: str
) -> None:
    store, registry = open_with(
        tmp_path, Returns("junk", [good("a2"), *output] if isinstance(output, list) else output)
    )
    result = run(store, registry, DAY)
    assert result.status == "degraded"
    assert message in result.failures[0].error
    assert store.db.execute("SELECT count(*) FROM signals WHERE source = 'junk'").fetchone() == (0,)


def test_strict_mode_fails_the_run_and_stores_nothing(tmp_path: object) -> None:
    store, registry = open_with(tmp_path, Returns("flaky", RuntimeError("boom")), strict=True)
    with pytest.raises(PluginError, match="source:flaky.*boom") as raised:
        run(store, registry, DAY)
    assert store.db["signals"].count == 0
    (run_id, status) = store.db.execute("SELECT run_id, status FROM runs").fetchone()
    assert status == "failed"
    assert raised.value.run_id == run_id


def test_a_run_for_named_accounts_leaves_the_others_alone(store: Store, registry: Registry) -> None:
    add_accounts(
        store,
        registry,
        [
            {"account_id": "a1", "name": "A", "renewal_date": "2027-01-19"},
            {"account_id": "a2", "name": "B", "renewal_date": "2027-01-19"},
        ],
    )
    run(store, registry, DAY)
    result = run(store, registry, DAY, account_ids=["a2"])
    assert result.accounts == 1
    run_ids = dict(store.db.execute("SELECT account_id, run_id FROM signals").fetchall())
    assert run_ids["a1"] != run_ids["a2"] == result.run_id


def test_an_unknown_account_is_refused_before_anything_is_written(
    store: Store, registry: Registry
) -> None:
    with pytest.raises(UnknownAccountError, match="unknown account 'nope'"):
        run(store, registry, DAY, account_ids=["nope"])
    assert store.db["runs"].count == 0


def test_a_breakdown_keeps_evidence_that_is_not_its_signals_word_for_word() -> None:
    from telltales.engine.pipeline import _without_signal_evidence
    from telltales.models import MeasureResult, Score

    signal = Signal(account_id="a1", key="x.k", value=1.0, dimension="fit", evidence="signal words")

    def line(evidence: str, value: float | None = 1.0) -> MeasureResult:
        return MeasureResult(
            measure="m",
            component="c",
            signal_key="x.k",
            value=value,
            points=50.0,
            weight=1.0,
            evidence=evidence,
        )

    score = Score(
        account_id="a1",
        scorer="s",
        value=50.0,
        grade="amber",
        label="Concern",
        coverage=1.0,
        breakdown=(line("signal words"), line("the scorer's own words"), line("", None)),
    )
    stored = _without_signal_evidence(score, [signal])
    assert [m.evidence for m in stored] == ["", "the scorer's own words", ""]


def test_a_source_gets_its_default_settings_when_the_caller_passes_none(
    tmp_path: Path,
) -> None:
    class Window(msgspec.Struct, forbid_unknown_fields=True):
        days: int = 30

    class Windowed:
        name = "windowed"
        settings_type = Window
        seen: ClassVar[list[object]] = []

        def compute(self, batch: SignalBatch) -> Iterable[Signal]:
            Windowed.seen.append(batch.settings)
            return []

    store, registry = open_with(tmp_path, Windowed())
    assert run(store, registry, DAY).status == "ok"
    assert Windowed.seen == [Window(days=30)]
