"""The record type Acme's export gives, and how it is stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated

import msgspec
from sqlite_utils import Database


# [docs:record]
class Response(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One survey answer, as Acme's export gives it."""

    response_id: Annotated[str, msgspec.Meta(min_length=1)]
    account_id: Annotated[str, msgspec.Meta(min_length=1)]
    respondent: str = ""
    score: Annotated[int, msgspec.Meta(ge=0, le=10)]
    day: date
    # [/docs:record]


# [docs:ingester]
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
        # [/docs:ingester]
