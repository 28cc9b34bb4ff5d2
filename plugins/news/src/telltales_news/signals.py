"""The ``news`` signal source: each account's recent news, faded by age."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from itertools import groupby
from typing import NamedTuple, cast

from telltales import BATCH_TABLE, DataDays, Freshness, Signal, SignalBatch, SignalSpec

from .records import KINDS, Kind
from .settings import Settings


class FadedItem(NamedTuple):
    """One news item with its impact as of the day of the run."""

    item_id: str
    kind: Kind
    day: date
    age_days: int
    headline: str
    url: str
    source: str
    severity: float
    base: float
    impact: float

    def rank(self) -> tuple[float, date, str]:
        """Strongest first; between equals the most recent, then the feed's id, so reruns agree."""
        return (self.impact, self.day, self.item_id)


_KIND_DESCRIPTIONS: dict[Kind, str] = {
    "acquired": "the account was acquired",
    "acquirer": "the account acquired another company",
    "merger": "the account merged with another company",
    "layoffs": "the account laid off staff",
    "leadership_change": "the account's leadership changed",
    "industry_disruption": "the account's industry was disrupted",
}


class NewsSource:
    """Current-state signals from news: higher values mean fresher, stronger news.

    News is a condition, not a trend: the strongest item explains the risk better
    than a sum, which would let many minor items outweigh one acquisition.
    """

    name = "news"
    freshness = Freshness(tables=(DataDays(table="news_items"),))
    """No news is no news: never stale by default."""
    settings_type = Settings
    signals = (
        *(
            SignalSpec(
                key=f"news.{kind}",
                dimension="current_state",
                description=(
                    f"strongest faded impact of the items saying {description}: "
                    "base x severity x 0.5^(age / half-life) (0..1)"
                ),
                higher_is_better=False,
            )
            for kind, description in _KIND_DESCRIPTIONS.items()
        ),
        SignalSpec(
            key="news.impact",
            dimension="current_state",
            description="strongest faded impact of any news item within the horizon (0..1)",
            higher_is_better=False,
        ),
        SignalSpec(
            key="news.items_180d",
            dimension="current_state",
            description="news items within the horizon, 180 days by default (count)",
            higher_is_better=None,
        ),
    )

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        settings: Settings = batch.settings
        since = batch.as_of - timedelta(days=settings.horizon_days)
        rows = batch.db.execute(
            f"""
            SELECT n.account_id, n.item_id, n.kind, n.day, n.headline, n.url, n.source,
                   n.severity
            FROM {BATCH_TABLE} b CROSS JOIN news_items n
            WHERE n.account_id = b.account_id AND n.day BETWEEN ? AND ?
            ORDER BY n.account_id, n.day, n.item_id
            """,
            [since.isoformat(), batch.as_of.isoformat()],
        )
        for account_id, account_rows in groupby(rows, key=lambda row: str(row[0])):
            items = [_faded(row[1:], batch.as_of, settings) for row in account_rows]
            yield from _account_signals(account_id, items, since, batch.as_of, settings)


def _faded(row: Iterable[object], as_of: date, settings: Settings) -> FadedItem:
    item_id, kind, day_text, headline, url, source, severity = row
    day = date.fromisoformat(str(day_text))
    age_days = (as_of - day).days
    typed_kind = cast(Kind, kind)
    base = settings.base_impact.of(typed_kind)
    sev = float(cast(float, severity))
    impact = base * sev * 0.5 ** (age_days / settings.half_life_days)
    return FadedItem(
        item_id=str(item_id),
        kind=typed_kind,
        day=day,
        age_days=age_days,
        headline=str(headline),
        url=str(url),
        source=str(source),
        severity=sev,
        base=base,
        impact=impact,
    )


def _account_signals(
    account_id: str, items: list[FadedItem], since: date, as_of: date, settings: Settings
) -> Iterator[Signal]:
    horizon = f"up to {settings.horizon_days} days old"
    for kind in KINDS:
        of_kind = [item for item in items if item.kind == kind]
        if not of_kind:
            continue
        strongest = max(of_kind, key=FadedItem.rank)
        among = (
            f"; the strongest of {len(of_kind)} {kind} items {horizon}" if len(of_kind) > 1 else ""
        )
        yield Signal(
            account_id=account_id,
            key=f"news.{kind}",
            value=round(strongest.impact, 4),
            dimension="current_state",
            evidence=f"{_describe(strongest, settings)}{among}",
        )
    strongest = max(items, key=FadedItem.rank)
    among = (
        f"the strongest of {len(items)} news items {horizon}"
        if len(items) > 1
        else f"the only news item {horizon}"
    )
    yield Signal(
        account_id=account_id,
        key="news.impact",
        value=round(strongest.impact, 4),
        dimension="current_state",
        evidence=f"{strongest.kind}: {_describe(strongest, settings)}, {among}",
    )
    per_kind = ", ".join(
        f"{sum(item.kind == kind for item in items)} {kind}"
        for kind in KINDS
        if any(item.kind == kind for item in items)
    )
    yield Signal(
        account_id=account_id,
        key="news.items_180d",
        value=len(items),
        dimension="current_state",
        evidence=(
            f"{_count(len(items), 'news item')} dated {since} to {as_of} ({horizon}): {per_kind}"
        ),
    )


def _describe(item: FadedItem, settings: Settings) -> str:
    """The item and the arithmetic of its fade, so a reader can check the number."""
    link = f"{item.source}, {item.url}" if item.source else item.url
    severity = f" x severity {_number(item.severity)}" if item.severity != 1 else ""
    return (
        f"'{item.headline}' ({item.day}, {_age(item.age_days)}, {link}): "
        f"impact {item.impact:.2f} = {_number(item.base)}{severity} x "
        f"0.5^({item.age_days}/{settings.half_life_days})"
    )


def _age(days: int) -> str:
    if days == 0:
        return "today"
    return f"{_count(days, 'day')} ago"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _number(value: float) -> str:
    """Up to three decimals, at least one: 1.0, 0.75, 0.125."""
    text = f"{value:.3f}".rstrip("0")
    return f"{text}0" if text.endswith(".") else text
