"""Measuring one snapshot against the ideal customer profile, criterion by criterion.

Kept apart from the SQL so that the score and its explanation come from the same
list of criteria: the evidence can never disagree with the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from .settings import Settings


class Criterion(NamedTuple):
    """One ICP criterion as it applied to a snapshot, with its sentence for the reader."""

    met: bool
    weight: float
    text: str


def criteria(
    settings: Settings,
    *,
    industry: str,
    region: str,
    employee_count: int | None,
    products: Sequence[str],
) -> list[Criterion]:
    """The counted criteria, in the order a CSM reads a profile: what, how big, where, owns.

    Names compare without regard to case, since providers and CRMs spell them
    differently ("Logistics", "logistics"). A missing employee count misses the size
    criterion: unknown size is not a fit.
    """
    weights = settings.weights
    found: list[Criterion] = []
    if settings.industries:
        listed = _listing(settings.industries)
        met = industry.casefold() in _folded(settings.industries)
        verb = "is in" if met else "is not in"
        found.append(Criterion(met, weights.industry, f"industry {industry} {verb} {listed}"))
    span = f"{settings.min_employees:,}..{settings.max_employees:,}"
    if employee_count is None:
        found.append(
            Criterion(False, weights.employees, f"employee count not reported (ICP {span})")
        )
    else:
        met = settings.min_employees <= employee_count <= settings.max_employees
        where = "within" if met else "outside"
        found.append(
            Criterion(met, weights.employees, f"{employee_count:,} employees {where} {span}")
        )
    if settings.regions:
        listed = _listing(settings.regions)
        met = region.casefold() in _folded(settings.regions)
        verb = "is in" if met else "is not in"
        found.append(Criterion(met, weights.region, f"region {region} {verb} {listed}"))
    if settings.required_products:
        owned = _folded(products)
        missing = [p for p in settings.required_products if p.casefold() not in owned]
        if missing:
            text = f"missing required {_products(missing)}"
        else:
            text = f"owns required {_products(settings.required_products)}"
        found.append(Criterion(not missing, weights.products, text))
    return found


def fit(snapshot_day: date, counted: Sequence[Criterion]) -> tuple[float, str]:
    """The weighted share of criteria met (0..1) and the sentence that explains it."""
    total = sum(c.weight for c in counted)
    share = sum(c.weight for c in counted if c.met) / total
    met = sum(1 for c in counted if c.met)
    noun = "criterion" if len(counted) == 1 else "criteria"
    equal = len({c.weight for c in counted}) == 1
    percent = f"{share:.0%}" if equal else f"weighted {share:.0%}"
    details = "; ".join(c.text for c in counted)
    evidence = (
        f"snapshot of {snapshot_day.isoformat()} fits {met} of {len(counted)} ICP {noun} "
        f"({percent}): {details}"
    )
    return share, evidence


def _folded(names: Sequence[str]) -> set[str]:
    return {name.casefold() for name in names}


def _listing(names: Sequence[str]) -> str:
    return f"[{', '.join(names)}]"


def _products(names: Sequence[str]) -> str:
    quoted = ", ".join(f"'{name}'" for name in names)
    return f"product {quoted}" if len(names) == 1 else f"products {quoted}"
