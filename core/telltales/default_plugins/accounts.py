"""Accounts: how they are ingested, and the signals their own fields give."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime

import msgspec
from sqlite_utils import Database

from telltales.contracts import BATCH_TABLE, Ingester, SignalBatch, SignalSource, SignalSpec
from telltales.hookspecs import hookimpl
from telltales.models import Account, Signal


class AccountsIngester:
    """Upserts accounts by ``account_id``: sending the same file twice changes nothing."""

    name = "accounts"
    record_type = Account
    checks_account_ids = False

    def store(self, db: Database, records: Sequence[Account]) -> int:
        now = datetime.now(UTC).isoformat()
        rows = [
            (
                a.account_id,
                a.name,
                a.owner,
                a.csm_group,
                a.segment,
                a.industry,
                a.employee_count,
                a.arr,
                a.seats_purchased,
                a.seats_assigned,
                msgspec.json.encode(a.products).decode(),
                a.lifecycle_stage,
                a.renewal_date.isoformat() if a.renewal_date else None,
                msgspec.json.encode(a.core_features).decode(),
                now,
            )
            for a in records
        ]
        db.conn.executemany(
            """
            INSERT INTO accounts (
                account_id, name, owner, csm_group, segment, industry, employee_count, arr,
                seats_purchased, seats_assigned, products, lifecycle_stage, renewal_date,
                core_features, updated_at
            ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (account_id) DO UPDATE SET
                name = excluded.name, owner = excluded.owner, csm_group = excluded.csm_group,
                segment = excluded.segment, industry = excluded.industry,
                employee_count = excluded.employee_count, arr = excluded.arr,
                seats_purchased = excluded.seats_purchased,
                seats_assigned = excluded.seats_assigned, products = excluded.products,
                lifecycle_stage = excluded.lifecycle_stage,
                renewal_date = excluded.renewal_date, core_features = excluded.core_features,
                updated_at = excluded.updated_at
            """,
            rows,
        )
        return len(rows)


class AccountSource:
    """Signals read straight off the account record: seat deployment and renewal timing."""

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
    )

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        rows = batch.db.execute(
            f"""
            SELECT a.account_id, a.seats_purchased, a.seats_assigned, a.renewal_date
            FROM accounts a JOIN {BATCH_TABLE} b ON b.account_id = a.account_id
            """
        )
        for account_id, purchased, assigned, renewal_date in rows:
            if purchased > 0 and assigned is not None:
                share = assigned / purchased
                yield Signal(
                    account_id=account_id,
                    key="account.seat_deployment",
                    value=round(share, 4),
                    dimension="deployment",
                    evidence=(f"{assigned} of {purchased} purchased seats assigned ({share:.0%})"),
                )
            if renewal_date:
                days = (date.fromisoformat(renewal_date) - batch.as_of).days
                when = (
                    f"renews in {days} days"
                    if days >= 0
                    else f"renewal date passed {-days} days ago"
                )
                yield Signal(
                    account_id=account_id,
                    key="account.days_to_renewal",
                    value=days,
                    dimension="current_state",
                    evidence=f"{when} (renewal date {renewal_date}, as of {batch.as_of})",
                )


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(AccountsIngester())


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(AccountSource())
