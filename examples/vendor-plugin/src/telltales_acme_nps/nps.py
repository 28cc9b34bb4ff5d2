"""The signal source: the Net Promoter Score of every account of a batch, in one query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

import msgspec
from telltales import BATCH_TABLE, Signal, SignalBatch, SignalSpec


# [docs:settings]
class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[plugins.acme_nps]`` in telltales.toml."""

    window_days: Annotated[int, msgspec.Meta(ge=1, le=730)] = 90
    min_responses: Annotated[int, msgspec.Meta(ge=1)] = 3
    # [/docs:settings]


# [docs:source]
class NpsSource:
    """``acme_nps.nps``: promoters (9-10) minus detractors (0-6), in points of -100..100."""

    name = "acme_nps"
    settings_type = Settings
    signals = (
        SignalSpec(
            key="acme_nps.nps",
            dimension="interest",
            description="Net Promoter Score of the answers in the window, -100..100",
        ),
    )

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        settings: Settings = batch.settings
        since = batch.as_of - timedelta(days=settings.window_days - 1)
        rows = batch.db.execute(
            f"""
            SELECT r.account_id,
                   count(*) AS answers,
                   sum(r.score >= 9) AS promoters,
                   sum(r.score <= 6) AS detractors
            FROM {BATCH_TABLE} b
            CROSS JOIN acme_nps_responses r
            WHERE r.account_id = b.account_id AND r.day BETWEEN ? AND ?
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
        # [/docs:source]
