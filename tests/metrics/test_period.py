"""A metric's period as a report states it."""

from __future__ import annotations

from datetime import date

from telltales.metrics.common import MetricFilter, resolve


def test_the_default_period_ends_at_the_first_day_telltales_reasons_about() -> None:
    """Fuzzing found ``to=1900-01-01`` answered with ``from: 1899-10-04``, a day the
    report's own schema refuses."""
    early = resolve(MetricFilter(to=date(1900, 1, 1)), date(2026, 12, 7))
    assert (early.from_, early.to) == (date(1900, 1, 1), date(1900, 1, 1))
    usual = resolve(MetricFilter(), date(2026, 12, 7))
    assert (usual.from_, usual.to) == (date(2026, 9, 9), date(2026, 12, 7))
