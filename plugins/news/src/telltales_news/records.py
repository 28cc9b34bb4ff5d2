"""News items as a feed delivers them, and how they are stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Literal, get_args

import msgspec
from sqlite_utils import Database
from telltales import new_in_batch

Kind = Literal[
    "acquired",
    "acquirer",
    "merger",
    "layoffs",
    "leadership_change",
    "industry_disruption",
]
"""What happened: ``acquired`` means the account was bought, ``acquirer`` that it bought
someone."""

KINDS: tuple[Kind, ...] = get_args(Kind)


URL_PATTERN = r"^https?://[^\s/\x00-\x1f\x7f-\x9f\ufeff]+[^\s\x00-\x1f\x7f-\x9f\ufeff]*$"
r"""http(s), a host, no spaces or control characters. The characters on which Python's
``\s`` and JSON Schema's (ECMA-262) disagree are listed explicitly, so the published
schema and the server accept exactly the same URLs."""


class NewsItem(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One news item about one account, as a news feed delivers it."""

    item_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    """The feed's own id: re-sending an item updates it instead of adding a copy."""
    account_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: Kind
    day: date
    """The day the item was published."""
    headline: Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=r"\S")]
    url: Annotated[str, msgspec.Meta(max_length=2000, pattern=URL_PATTERN)]
    """The link a CSM follows to read the story; it is quoted in the evidence."""
    source: Annotated[str, msgspec.Meta(max_length=200)] = ""
    """The publisher's name, when the feed gives it."""
    severity: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0
    """Scales the kind's base impact: a 2% layoff is not a 40% one."""


class NewsItemsIngester:
    """Upserts by ``item_id``, so re-sending a feed changes nothing and a correction wins."""

    name = "news.items"
    record_type = NewsItem

    def store(self, db: Database, records: Sequence[NewsItem]) -> int:
        db.conn.executemany(
            """
            INSERT INTO news_items (item_id, account_id, kind, day, headline, url, source, severity)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (item_id) DO UPDATE SET
                account_id = excluded.account_id, kind = excluded.kind, day = excluded.day,
                headline = excluded.headline, url = excluded.url, source = excluded.source,
                severity = excluded.severity
            """,
            [
                (
                    r.item_id,
                    r.account_id,
                    r.kind,
                    r.day.isoformat(),
                    r.headline,
                    r.url,
                    r.source,
                    r.severity,
                )
                for r in records
            ],
        )
        return new_in_batch(db, ((r.item_id,) for r in records))
