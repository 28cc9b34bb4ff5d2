"""Lifecycle: an account that churns or pauses stops being scored, and its episode ends.

The end is recorded, never rewritten: a transition to ``inactive`` (cause
``lifecycle``) with the reason, its open tasks dismissed with the same reason, its
playbook run closed, and it leaves the at-risk list.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telltales.engine.health import account_health
from telltales.errors import InputError
from telltales.outcomes.renewals import RenewalOutcome, record_renewals
from telltales.playbooks.statuses import override_status, transitions_of
from telltales.signals.ingest import convert_records, ingest
from telltales.store import history, queries

from tests.support.book import ACCOUNTS, RESPOND, Book, d


@pytest.fixture
def book(tmp_path: Path) -> Book:
    return Book(tmp_path)


def _version(book: Book, **fields: Any) -> None:
    base = next(a for a in ACCOUNTS if a["account_id"] == fields["account_id"])
    records = convert_records(book.registry, "accounts", [{**base, **fields}])
    ingest(book.store, book.registry, "accounts", records)


def _listed(book: Book, status: str, day: date) -> list[str]:
    found = queries.account_overviews(
        book.store, scorer="health", labels={}, status=status, as_of=day
    )
    return [o.account.account_id for o in found.rows]


def test_a_churned_account_leaves_with_its_episode_closed_and_its_tasks_dismissed(
    book: Book,
) -> None:
    plan = book.plan(RESPOND)
    book.pilot(plan)
    book.signal("a1", drop=-0.5)
    book.run(plan, d(10))
    (task,) = book.rows("SELECT task_id, state FROM tasks WHERE account_id = 'a1'")
    assert task[1] == "open"
    assert _listed(book, "at_risk", d(10)) == ["a1"]

    _version(book, account_id="a1", as_of="2026-11-12", lifecycle="churned")
    result = book.run(plan, d(13))

    assert result.not_live == 1
    assert result.accounts == len(ACCOUNTS) - 1
    assert result.actions is not None
    assert result.actions.ended == 1
    last = transitions_of(book.store, "a1")[-1]
    assert (last.from_status, last.to_status, last.cause, last.as_of) == (
        "at_risk",
        "inactive",
        "lifecycle",
        d(13),
    )
    assert last.evidence == "not live on 2026-11-13: the account is churned since 2026-11-12"
    assert book.rows("SELECT state FROM tasks WHERE task_id = ?", task[0]) == [("dismissed",)]
    assert book.rows(
        "SELECT by, reason FROM task_events WHERE task_id = ? AND state = 'dismissed'", task[0]
    ) == [("telltales", f"account {last.evidence}")]
    assert book.rows("SELECT state FROM playbook_runs WHERE account_id = 'a1'") == [("closed",)]
    assert book.count("signals WHERE account_id = 'a1' AND as_of = '2026-11-13'") == 0
    assert _listed(book, "at_risk", d(13)) == []
    assert _listed(book, "inactive", d(13)) == ["a1"]
    health = account_health(book.store, plan, "a1", d(13))
    assert (health.next_action.kind, health.next_action.action) == (
        "none",
        "No action: the account is not live",
    )
    assert health.next_action.why == f"Inactive since 2026-11-13: {last.evidence}"
    # The next run has nothing more to end, and the earlier days stay as they were.
    again = book.run(plan, d(14))
    assert again.actions is not None
    assert again.actions.ended == 0
    assert [t.to_status for t in transitions_of(book.store, "a1")] == ["at_risk", "inactive"]


def test_a_health_status_lists_only_live_accounts_even_before_the_next_run(book: Book) -> None:
    plan = book.plan(RESPOND)
    book.signal("a1", drop=-0.5)
    book.run(plan, d(10))
    _version(book, account_id="a1", as_of="2026-11-11", lifecycle="paused")
    assert _listed(book, "at_risk", d(10)) == ["a1"]
    assert _listed(book, "at_risk", d(11)) == []


def test_a_resumed_account_is_scored_again_from_inactive(book: Book) -> None:
    plan = book.plan(RESPOND)
    book.run(plan, d(10))
    _version(book, account_id="a2", as_of="2026-11-11", lifecycle="paused")
    book.run(plan, d(11))
    _version(book, account_id="a2", as_of="2026-11-12")
    book.run(plan, d(12))
    assert [(t.from_status, t.to_status, t.cause) for t in transitions_of(book.store, "a2")] == [
        (None, "healthy", "rules"),
        ("healthy", "inactive", "lifecycle"),
        ("inactive", "healthy", "rules"),
    ]


def test_a_churned_renewal_ends_the_account_and_its_correction_brings_it_back(
    book: Book,
) -> None:
    def renewal(arr_after: float) -> None:
        outcome = RenewalOutcome(
            account_id="a3",
            renewal_date=date(2026, 11, 1),
            arr_before=300000,
            arr_after=arr_after,
            outcome="renewed" if arr_after else "churned",
        )
        record_renewals(book.store, [outcome], source="api", by="crm")

    renewal(0)
    assert "a3" not in history.live_ids(book.store.db, d(1))
    assert "a3" in history.live_ids(book.store.db, date(2026, 10, 31))
    renewal(310000)
    assert "a3" in history.live_ids(book.store.db, d(1))


def test_an_account_not_live_has_no_status_to_override(book: Book) -> None:
    _version(book, account_id="a1", as_of="2020-01-01", lifecycle="churned")
    account = queries.get_account(book.store, "a1")
    with pytest.raises(InputError, match="account 'a1' is not live on .*churned since 2020-01-01"):
        override_status(
            book.store,
            account,
            "healthy",
            reason="r",
            until=datetime.now(UTC) + timedelta(days=3),
            by="ann",
        )
