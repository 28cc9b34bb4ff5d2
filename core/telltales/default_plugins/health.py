"""The health score: every account scored by its segment's scorecard, each day.

This is the core's own scorer, registered through ``register_scorers`` exactly as a
vendor's would be. Its settings are the checked scorecards (``[scoring]`` and
``[scorecards.<name>]``, docs/scorecards.md); a run given none uses the shipped
cards, DEAR for every segment.

The shadow scorer (``health_shadow``) scores every account with the ``[scoring]
shadow`` card, when one is configured, beside the health score: a fitted card earns
its place there before it is promoted (docs/backtest.md). The shipped rules read the
health score only, so the shadow drives no status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from telltales.contracts import BATCH_TABLE, ScoreBatch, Scorer
from telltales.hookspecs import hookimpl
from telltales.models import Score
from telltales.signals.scorecards import (
    HEALTH_SCORER,
    SHADOW_SCORER,
    Card,
    Scoring,
    default_scoring,
)
from telltales.store.queries import earlier_scores


class HealthScorer:
    """Scores a whole batch in one pass over its signals, with two queries in all.

    One query reads every account's segment, one reads the stored scores of 7 and
    30 days before for the trend; nothing is read per account.
    """

    name = HEALTH_SCORER

    def score(self, batch: ScoreBatch) -> Iterator[Score]:
        scoring = _scoring(batch)
        segments: dict[str, str] = dict(
            batch.db.execute(
                f"SELECT a.account_id, a.segment FROM accounts a "
                f"JOIN {BATCH_TABLE} b ON b.account_id = a.account_id"
            ).fetchall()
        )
        earlier = earlier_scores(batch.db, batch.as_of, scorer=self.name)
        card_for = scoring.card_for
        signals = batch.signals
        for account_id in batch.account_ids:
            card = card_for(segments.get(account_id, ""))
            yield card.score(
                account_id,
                self.name,
                signals.get(account_id, ()),
                batch.as_of,
                (earlier.get((account_id, self.name, 7)), earlier.get((account_id, self.name, 30))),
            )


class ShadowScorer:
    """The ``[scoring] shadow`` card for every account; nothing when none is configured."""

    name = SHADOW_SCORER

    def score(self, batch: ScoreBatch) -> Iterator[Score]:
        card: Card | None = _scoring(batch).shadow
        if card is None:
            return
        earlier = earlier_scores(batch.db, batch.as_of, scorer=self.name)
        signals = batch.signals
        for account_id in batch.account_ids:
            yield card.score(
                account_id,
                self.name,
                signals.get(account_id, ()),
                batch.as_of,
                (earlier.get((account_id, self.name, 7)), earlier.get((account_id, self.name, 30))),
            )


def _scoring(batch: ScoreBatch) -> Scoring:
    scoring = default_scoring() if batch.settings is None else batch.settings
    if not isinstance(scoring, Scoring):
        raise TypeError(f"expected scorecards as settings, got {type(scoring).__name__}")
    return scoring


@hookimpl
def register_scorers(register: Callable[[Scorer], None]) -> None:
    register(HealthScorer())
    register(ShadowScorer())
