"""Acme Surveys NPS responses as a telltales signal source.

Registers three things: a schema (``register_migrations``), a record type the core
ingests (``register_ingesters``, served as ``telltales ingest acme_nps.responses``)
and a signal source (``register_signal_sources``) that computes the Net Promoter
Score of every account of a batch in one SQL query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from typing import Annotated

import msgspec
from sqlite_utils import Database, Migrations
from telltales import BATCH_TABLE, Ingester, Signal, SignalBatch, SignalSource, hookimpl

migrations = Migrations("acme_nps")


@migrations()
def m001_responses(db: Database) -> None:
    db["acme_nps_responses"].create(
        {"response_id": str, "account_id": str, "respondent": str, "score": int, "day": str},
        pk="response_id",
        foreign_keys=[("account_id", "accounts", "account_id")],
    )
    db["acme_nps_responses"].create_index(["account_id", "day"])


class Response(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One survey answer, as Acme's export gives it."""

    response_id: Annotated[str, msgspec.Meta(min_length=1)]
    account_id: Annotated[str, msgspec.Meta(min_length=1)]
    respondent: str = ""
    score: Annotated[int, msgspec.Meta(ge=0, le=10)]
    day: date


class ResponsesIngester:
    """Upserts by ``response_id``, so re-sending an export changes nothing."""

    name = "acme_nps.responses"
    record_type = Response

    def store(self, db: Database, records: Sequence[Response]) -> int:
        db.conn.executemany(
            "INSERT INTO acme_nps_responses (response_id, account_id, respondent, score, day) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (response_id) DO UPDATE SET "
            "account_id = excluded.account_id, respondent = excluded.respondent, "
            "score = excluded.score, day = excluded.day",
            [
                (r.response_id, r.account_id, r.respondent, r.score, r.day.isoformat())
                for r in records
            ],
        )
        return len(records)


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[plugins.acme_nps]`` in telltales.toml."""

    window_days: Annotated[int, msgspec.Meta(ge=1, le=730)] = 90
    min_responses: Annotated[int, msgspec.Meta(ge=1)] = 3


class NpsSource:
    """``acme_nps.nps``: promoters (9-10) minus detractors (0-6), in points of -100..100."""

    name = "acme_nps"
    settings_type = Settings

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        settings: Settings = batch.settings
        since = batch.as_of - timedelta(days=settings.window_days - 1)
        rows = batch.db.execute(
            f"""
            SELECT r.account_id,
                   count(*) AS answers,
                   sum(r.score >= 9) AS promoters,
                   sum(r.score <= 6) AS detractors
            FROM acme_nps_responses r
            JOIN {BATCH_TABLE} b ON b.account_id = r.account_id
            WHERE r.day BETWEEN ? AND ?
            GROUP BY r.account_id
            HAVING count(*) >= ?
            """,
            [since.isoformat(), batch.as_of.isoformat(), settings.min_responses],
        )
        for account_id, answers, promoters, detractors in rows:
            nps = round(100 * (promoters - detractors) / answers)
            yield Signal(
                account_id=account_id,
                key="acme_nps.nps",
                value=nps,
                dimension="interest",
                evidence=(
                    f"NPS {nps:+d} from {answers} responses in the {settings.window_days} days "
                    f"to {batch.as_of}: {promoters} promoters, {detractors} detractors"
                ),
            )


@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)


@hookimpl
def register_ingesters(register: Callable[[Ingester], None]) -> None:
    register(ResponsesIngester())


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(NpsSource())
