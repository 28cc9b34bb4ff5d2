"""Accounts: how they are ingested, and the signals their own fields give."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import NamedTuple

from sqlite_utils import Database

from telltales.contracts import (
    BATCH_TABLE,
    Ingester,
    SignalBatch,
    SignalSource,
    SignalSpec,
    new_in_batch,
)
from telltales.hookspecs import hookimpl
from telltales.models import Account, Dimension, Signal
from telltales.store.history import PreviousTerm, previous_terms, store_versions


class AccountsIngester:
    """Stores each account record as a version from its ``as_of`` day (docs/time.md).

    Sending the same file twice changes nothing: a record equal to the version in
    force on its day writes nothing. As with every ingester, ``stored`` counts the
    versions the batch's records are held as, each once (``PUT /v1/accounts`` tells
    created, updated and unchanged apart).
    """

    name = "accounts"
    record_type = Account
    checks_account_ids = False

    def store(self, db: Database, records: Sequence[Account]) -> int:
        # Each (account, day) once per batch: a day sent twice is folded.
        return new_in_batch(db, store_versions(db, records).keys)


YOUNG_DAYS = 90
"""The longest usage window of the built-in sources: a customer younger than this has
windows cut at its customer-since day, and no trend over them yet."""


class AccountSource:
    """Signals of the account's own version in force: contract, renewal, seats, tenure.

    Every value reads the version in force on the run's day (the engine's ``accounts``
    is that day's), so a renewal date moved later, or a price agreed later, never
    leaks into a replay of the days before.
    """

    name = "account"
    signals = (
        SignalSpec(
            key="account.seat_deployment",
            dimension="deployment",
            description="seats assigned / seats purchased (0..1 or more)",
        ),
        SignalSpec(
            key="account.days_to_renewal",
            dimension="current_state",
            description="days from the day of the run to the renewal date (negative once past)",
            higher_is_better=None,
        ),
        SignalSpec(
            key="account.term_position",
            dimension="current_state",
            description="share of the contract term gone by on the day of the run (0..1)",
            higher_is_better=None,
        ),
        SignalSpec(
            key="account.discount",
            dimension="current_state",
            description="discount on the list price, as a share (0.25 = 25% off)",
            higher_is_better=False,
        ),
        SignalSpec(
            key="account.price_change_at_renewal",
            dimension="current_state",
            description=(
                "relative change of ARR from the previous term to the term in force "
                "(0.1 = 10% more)"
            ),
            higher_is_better=None,
        ),
        SignalSpec(
            key="account.customer_days",
            dimension="current_state",
            description="days as a customer, its first day and the run's day both counted",
            higher_is_better=None,
        ),
    )

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        rows = batch.db.execute(
            f"""
            SELECT a.account_id, a.seats_purchased, a.seats_assigned, a.renewal_date,
                   a.term_start, a.term_end, a.arr, a.list_price, a.discount_percent,
                   a.customer_since
            FROM accounts a JOIN {BATCH_TABLE} b ON b.account_id = a.account_id
            """
        )
        previous = previous_terms(batch.db, batch.as_of)
        for row in rows:
            found = _Row(*row)
            for key, value, evidence, dimension in _facts(found, batch.as_of, previous):
                yield Signal(
                    account_id=found.account_id,
                    key=f"account.{key}",
                    value=value,
                    dimension=dimension,
                    evidence=evidence,
                )


class _Row(NamedTuple):
    """The fields of the account's version in force that its signals read."""

    account_id: str
    purchased: int
    assigned: int | None
    """None: not known (left out or null), so no seat deployment is computed."""
    renewal_date: str | None
    term_start: str | None
    term_end: str | None
    arr: float
    list_price: float | None
    discount: float | None
    since: str | None


_Fact = tuple[str, float, str, Dimension]
"""(key after ``account.``, value, evidence, dimension)."""


def _facts(row: _Row, day: date, previous: dict[str, PreviousTerm]) -> Iterator[_Fact]:
    if row.purchased > 0 and row.assigned is not None:
        share = row.assigned / row.purchased
        yield (
            "seat_deployment",
            round(share, 4),
            f"{row.assigned} of {row.purchased} purchased seats assigned ({share:.0%})",
            "deployment",
        )
    if row.renewal_date:
        days = (date.fromisoformat(row.renewal_date) - day).days
        when = f"renews in {days} days" if days >= 0 else f"renewal date passed {-days} days ago"
        yield (
            "days_to_renewal",
            days,
            f"{when} (renewal date {row.renewal_date}, as of {day})",
            "current_state",
        )
    if row.term_start and row.term_end:
        yield _term_position(day, row.term_start, row.term_end)
    discount = _discount(row.arr, row.list_price, row.discount)
    if discount is not None:
        yield ("discount", *discount, "current_state")
    before = previous.get(row.account_id)
    if before is not None and before.arr > 0:
        change = row.arr / before.arr - 1
        yield (
            "price_change_at_renewal",
            round(change, 4),
            f"ARR {row.arr:,.0f} in the term from {row.term_start}, against "
            f"{before.arr:,.0f} in the term from {before.term_start} ({change:+.0%})",
            "current_state",
        )
    if row.since:
        tenure = (day - date.fromisoformat(row.since)).days + 1
        young = (
            f": trend not yet meaningful; usage windows start at the customer-since day, "
            f"not {YOUNG_DAYS} days back"
            if tenure < YOUNG_DAYS
            else ""
        )
        yield (
            "customer_days",
            tenure,
            f"customer for {tenure} days (since {row.since}){young}",
            "current_state",
        )


def _term_position(day: date, start: str, end: str) -> _Fact:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    length = (last - first).days + 1
    gone = min(max((day - first).days + 1, 0), length)
    share = gone / length
    if day < first:
        where = f"the term starts on {start}, {(first - day).days} days after {day}"
    elif day > last:
        where = f"the term ended on {end}, {(day - last).days} days before {day}"
    else:
        where = f"day {gone} of the {length}-day term from {start} to {end}"
    return ("term_position", round(share, 4), f"{where} ({share:.0%} gone by)", "current_state")


def _discount(
    arr: float, list_price: float | None, discount: float | None
) -> tuple[float, str] | None:
    """The discount as a share with its sentence: as given, or from the list price."""
    if discount is not None:
        priced = f" on a list price of {list_price:,.0f}" if list_price else ""
        return round(discount / 100, 4), f"{discount:g}% discount{priced} (ARR {arr:,.0f})"
    if list_price:
        share = max(0.0, 1 - arr / list_price)
        return (
            round(share, 4),
            f"ARR {arr:,.0f} against a list price of {list_price:,.0f}: {share:.0%} off",
        )
    return None


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(AccountsIngester())


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(AccountSource())
