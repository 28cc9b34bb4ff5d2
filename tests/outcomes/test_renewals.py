"""Renewal outcomes: checked, stored with their snapshot and cohort, every version kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner, Result
from conftest import EXAMPLE_ACCOUNTS
from support.book import ACCOUNTS, Book
from telltales.cli import cli
from telltales.errors import InputError
from telltales.outcomes.renewals import (
    MAX_PROBLEMS,
    InvalidRecords,
    RenewalCounts,
    RenewalOutcome,
    list_renewals,
    record_renewals,
)
from telltales.playbooks.pilots import NewPilot, create_pilot, set_state
from telltales.signals.ingest import convert_records, ingest
from telltales.store import Store

OPS = "ops@vendor.example"


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    opened = Book(tmp_path)
    yield opened
    opened.store.close()


def outcome(account_id: str = "a1", **fields: Any) -> RenewalOutcome:
    given: dict[str, Any] = {
        "account_id": account_id,
        "renewal_date": "2025-06-30",
        "arr_before": 100000,
        "arr_after": 90000,
        "discount_percent": 10,
        "outcome": "renewed",
        **fields,
    }
    return msgspec.convert(given, RenewalOutcome)


def record(store: Store, *records: RenewalOutcome, **options: Any) -> RenewalCounts:
    return record_renewals(
        store, list(records), source=options.pop("source", "api"), by=OPS, **options
    )


def rows(store: Store, table: str) -> list[dict[str, Any]]:
    cursor = store.db.execute(f"SELECT * FROM {table} ORDER BY rowid")
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def problems_of(error: pytest.ExceptionInfo[InvalidRecords]) -> list[tuple[str, str]]:
    return [(p.path, p.reason) for p in error.value.problems]


# Checking


@pytest.mark.parametrize(
    ("fields", "path", "reason"),
    [
        (
            {"outcome": "churned", "arr_after": 5000},
            "renewals[0].arr_after",
            "a churned renewal keeps no ARR: arr_after must be 0, not 5000",
        ),
        (
            {"outcome": "renewed", "arr_after": 0},
            "renewals[0].arr_after",
            "a renewal with outcome 'renewed' keeps some ARR: arr_after must be more than 0 "
            "(say outcome 'churned' if the customer left)",
        ),
        (
            {"arr_before": float("inf")},
            "renewals[0].arr_before",
            "must be a finite number",
        ),
        (
            {"account_id": "nope"},
            "renewals[0].account_id",
            "unknown account 'nope'; add it with `telltales ingest accounts` first",
        ),
    ],
    ids=["churned-keeps-arr", "renewed-keeps-none", "infinite", "unknown-account"],
)
def test_an_invalid_renewal_is_named_by_index_and_field(
    book: Book, fields: dict[str, Any], path: str, reason: str
) -> None:
    with pytest.raises(InvalidRecords) as error:
        record(book.store, outcome(**fields))
    assert problems_of(error) == [(path, reason)]
    assert book.count("renewals") == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"arr_before": 0}, "Expected `float` > 0.0 - at `$.arr_before`"),
        ({"arr_after": -1}, "Expected `float` >= 0.0 - at `$.arr_after`"),
        ({"discount_percent": 101}, "Expected `float` <= 100.0 - at `$.discount_percent`"),
        ({"discount_percent": -1}, "Expected `float` >= 0.0 - at `$.discount_percent`"),
        ({"outcome": "expanded"}, "Invalid enum value 'expanded' - at `$.outcome`"),
    ],
)
def test_values_out_of_range_are_refused_by_the_type(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message.replace("$", r"\$")):
        outcome(**fields)


def test_a_churned_renewal_with_nothing_after_is_fine(book: Book) -> None:
    counts = record(book.store, outcome(outcome="churned", arr_after=0, discount_percent=0))
    assert counts == RenewalCounts(created=1)


def test_every_problem_of_a_batch_is_listed_and_nothing_is_stored(book: Book) -> None:
    batch = [
        outcome("a1"),
        outcome("ghost"),
        outcome("a2", outcome="churned", arr_after=1),
        outcome("a1"),  # the same renewal as the first
    ]
    with pytest.raises(InvalidRecords) as error:
        record(book.store, *batch)
    assert problems_of(error) == [
        (
            "renewals[1].account_id",
            "unknown account 'ghost'; add it with `telltales ingest accounts` first",
        ),
        ("renewals[2].arr_after", "a churned renewal keeps no ARR: arr_after must be 0, not 1"),
        (
            "renewals[3].renewal_date",
            "renewals[0] is the same renewal (a1 on 2025-06-30); send each renewal once",
        ),
    ]
    assert str(error.value).startswith("3 invalid record(s); nothing was stored:\n  renewals[1]")
    assert book.count("renewals") == 0
    assert book.count("renewal_revisions") == 0


def test_a_long_list_of_problems_is_cut_with_the_total(book: Book) -> None:
    batch = [outcome(f"ghost{n}") for n in range(MAX_PROBLEMS + 20)]
    with pytest.raises(InvalidRecords) as error:
        record(book.store, *batch)
    assert len(error.value.problems) == MAX_PROBLEMS
    assert error.value.total == MAX_PROBLEMS + 20
    assert str(error.value).endswith("\n  ... and 20 more")


def test_someone_records_them(book: Book) -> None:
    with pytest.raises(InputError, match="by: say who records the renewals"):
        record_renewals(book.store, [outcome()], source="api", by=" ")


def test_a_limited_caller_cannot_tell_another_groups_account_from_a_missing_one(
    book: Book,
) -> None:
    with pytest.raises(InvalidRecords) as error:
        record(
            book.store, outcome("a1"), outcome("b1"), outcome("zz"), csm_groups=frozenset({"g1"})
        )
    assert problems_of(error) == [
        (
            "renewals[1].account_id",
            "unknown account 'b1'; add it with `telltales ingest accounts` first",
        ),
        (
            "renewals[2].account_id",
            "unknown account 'zz'; add it with `telltales ingest accounts` first",
        ),
    ]
    assert record(book.store, outcome("a1"), csm_groups=frozenset({"g1"})) == RenewalCounts(
        created=1
    )


# Storing


def test_the_same_values_again_change_nothing_and_a_change_is_a_revision(book: Book) -> None:
    assert record(book.store, outcome("a1"), outcome("a2")) == RenewalCounts(created=2)
    first = rows(book.store, "renewals")
    assert record(book.store, outcome("a1"), outcome("a2"), source="cli") == RenewalCounts(
        unchanged=2
    )
    assert rows(book.store, "renewals") == first
    assert book.count("renewal_revisions") == 2

    corrected = outcome("a2", arr_after=95000, discount_percent=5)
    assert record(book.store, outcome("a1"), corrected, source="cli") == RenewalCounts(
        updated=1, unchanged=1
    )
    a2 = next(row for row in rows(book.store, "renewals") if row["account_id"] == "a2")
    assert (a2["arr_after"], a2["discount_percent"], a2["source"]) == (95000, 5, "cli")
    revisions = [
        (r["account_id"], r["arr_after"], r["discount_percent"], r["source"], r["recorded_by"])
        for r in rows(book.store, "renewal_revisions")
    ]
    assert revisions == [
        ("a1", 90000, 10, "api", OPS),
        ("a2", 90000, 10, "api", OPS),
        ("a2", 95000, 5, "cli", OPS),
    ]


def test_a_renewal_keeps_who_owned_the_account_when_it_was_recorded(book: Book) -> None:
    record(book.store, outcome("a1"))
    moved = {**ACCOUNTS[0], "owner": "zoe@vendor.example", "csm_group": "g2", "segment": "smb"}
    ingest(
        book.store, book.registry, "accounts", convert_records(book.registry, "accounts", [moved])
    )
    record(book.store, outcome("a1"))
    (row,) = rows(book.store, "renewals")
    assert (row["owner"], row["csm_group"], row["segment"]) == ("ann@vendor.example", "g1", "")
    # A corrected renewal is recorded anew, as the account is now.
    record(book.store, outcome("a1", arr_after=80000))
    (row,) = rows(book.store, "renewals")
    assert (row["owner"], row["csm_group"], row["segment"]) == ("zoe@vendor.example", "g2", "smb")


def test_the_cohort_is_the_accounts_under_the_pilot_covering_the_renewal_date(book: Book) -> None:
    plan = book.plan()
    # holdout_fraction('p1', a1) = 0.696 and ('p1', a3) = 0.412: with a share of 0.5,
    # a1 is treated (pilot) and a3 held out (control); b1's group g2 is in no pilot.
    book.pilot(plan, holdout=0.5, starts_on=date(2025, 3, 1))
    record(
        book.store,
        outcome("a1"),
        outcome("a3"),
        outcome("b1"),
        outcome("a1", renewal_date="2025-02-28"),  # before the pilot started
    )
    cohorts = {
        (r["account_id"], r["renewal_date"]): (r["cohort"], r["pilot_id"])
        for r in rows(book.store, "renewals")
    }
    assert cohorts == {
        ("a1", "2025-06-30"): ("pilot", "p1"),
        ("a3", "2025-06-30"): ("control", "p1"),
        ("b1", "2025-06-30"): ("none", None),
        ("a1", "2025-02-28"): ("none", None),
    }


def test_an_ended_pilot_still_covers_the_days_before_it_ended(book: Book) -> None:
    plan = book.plan()
    book.pilot(plan, starts_on=date(2025, 3, 1))
    set_state(book.store, "p1", "ended", by=OPS, reason="done")
    # Recorded after the pilot ended: a renewal of its time is still in its cohort, one
    # after it ended (today, at the latest) is in none.
    record(book.store, outcome("a1"), outcome("a1", renewal_date="2099-01-01"))
    cohorts = {r["renewal_date"]: r["cohort"] for r in rows(book.store, "renewals")}
    assert cohorts == {"2025-06-30": "pilot", "2099-01-01": "none"}


def test_a_pilot_never_enabled_covers_nothing(book: Book) -> None:
    new = NewPilot(
        pilot_id="p1",
        csm_groups=["g1"],
        rules=["drop"],
        playbooks=["respond"],
        starts_on=date(2025, 3, 1),
        enabled=False,
    )
    create_pilot(book.store, book.plan(), new, by=OPS)
    record(book.store, outcome("a1"))
    assert rows(book.store, "renewals")[0]["cohort"] == "none"


# Reading


def test_listing_filters_by_group_segment_dates_and_resumes_after_a_key(book: Book) -> None:
    record(
        book.store,
        outcome("a1", renewal_date="2025-01-31"),
        outcome("a2", renewal_date="2025-02-28"),
        outcome("b1", renewal_date="2025-02-28"),
        outcome("a3", renewal_date="2025-03-31"),
    )

    def keys(**filters: Any) -> list[tuple[str, str]]:
        return [
            (r.account_id, r.renewal_date.isoformat()) for r in list_renewals(book.store, **filters)
        ]

    assert keys() == [
        ("a1", "2025-01-31"),
        ("a2", "2025-02-28"),
        ("b1", "2025-02-28"),
        ("a3", "2025-03-31"),
    ]
    assert keys(csm_group="g2") == [("b1", "2025-02-28")]
    assert keys(groups=frozenset({"g1"}), start=date(2025, 2, 1)) == [
        ("a2", "2025-02-28"),
        ("a3", "2025-03-31"),
    ]
    assert keys(end=date(2025, 2, 28), after=("2025-02-28", "a2")) == [("b1", "2025-02-28")]
    assert keys(segment="enterprise") == []
    assert keys(account_id="a3", limit=1) == [("a3", "2025-03-31")]


# The CLI


def invoke(*args: str | Path, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    assert invoke("--db", path, "init").exit_code == 0
    assert invoke("--db", path, "ingest", "accounts", EXAMPLE_ACCOUNTS).exit_code == 0
    return path


FERRUM = {
    "account_id": "ferrum",
    "renewal_date": "2025-12-20",
    "arr_before": 160000,
    "arr_after": 150000,
    "discount_percent": 8,
    "outcome": "renewed",
}
TIDEWATER = {**FERRUM, "account_id": "tidewater", "arr_before": 15000, "arr_after": 18000}


def test_cli_imports_a_json_array_and_json_lines_through_the_same_path(
    db: Path, tmp_path: Path
) -> None:
    array = tmp_path / "renewals.json"
    array.write_text(json.dumps([FERRUM, TIDEWATER]))
    result = invoke("--db", db, "renewals", "import", array, "--by", OPS)
    assert result.exit_code == 0
    assert result.output == f"Renewals from {array}: 2 new, 0 changed, 0 unchanged\n"
    lines = "\n".join(json.dumps(r) for r in (FERRUM, {**TIDEWATER, "discount_percent": 0}))
    result = invoke("--db", db, "renewals", "import", "-", "--by", OPS, "--json", input=lines)
    assert json.loads(result.output) == {"created": 0, "updated": 1, "unchanged": 1}
    with Store(db) as store:
        sources = [
            (r["account_id"], r["source"], r["recorded_by"]) for r in rows(store, "renewals")
        ]
        assert sources == [("ferrum", "cli", OPS), ("tidewater", "cli", OPS)]
        assert len(rows(store, "renewal_revisions")) == 3


def error_lines(result: Result) -> list[str]:
    assert result.exit_code == 1
    return result.output.splitlines()


def test_cli_counts_renewals_from_one_in_an_array_and_in_json_lines(
    db: Path, tmp_path: Path
) -> None:
    churned = {**TIDEWATER, "outcome": "churned"}
    array = tmp_path / "renewals.json"
    array.write_text(json.dumps([FERRUM, churned]))
    assert error_lines(invoke("--db", db, "renewals", "import", array, "--by", OPS)) == [
        "Error: 1 invalid record(s); nothing was stored:",
        "  renewal 2, field 'arr_after': a churned renewal keeps no ARR: arr_after must be 0, "
        "not 18000",
    ]
    lines = f"{json.dumps(FERRUM)}\n\n{json.dumps(churned)}\n"
    result = invoke("--db", db, "renewals", "import", "-", "--by", OPS, input=lines)
    assert error_lines(result)[1].startswith(
        "  renewal 2 (line 3), field 'arr_after': a churned renewal"
    )
    array.write_text(json.dumps([FERRUM, {**FERRUM, "discount_percent": 120}]))
    assert error_lines(invoke("--db", db, "renewals", "import", array, "--by", OPS)) == [
        "Error: renewal 2, field 'discount_percent': expected `float` <= 100.0"
    ]
    result = invoke("--db", db, "renewals", "import", "-", "--by", OPS, input='{"account_id": 1}')
    assert error_lines(result) == [
        "Error: renewal 1, field 'account_id': expected `str`, got `int`"
    ]
    result = invoke("--db", db, "renewals", "import", "-", "--by", OPS, input="[{")
    assert error_lines(result)[0].startswith("Error: not valid JSON: ")
    with Store(db) as store:
        assert rows(store, "renewals") == []
