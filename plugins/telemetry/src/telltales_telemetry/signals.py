"""The telemetry signal source: figures in, signals with their evidence out."""

from __future__ import annotations

import re
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from sys import intern

from sqlite_utils import Database
from telltales import (
    DataDays,
    DaysBatch,
    Freshness,
    Signal,
    SignalBatch,
    SignalSource,
    SignalSpec,
    hookimpl,
)

from .counts import add_counted
from .figures import Figures, Trend, compute_figures
from .settings import Settings

SOURCE = "telemetry"


def _spec(key: str, dimension: str, description: str, higher: bool | None = True) -> SignalSpec:
    return SignalSpec(
        key=f"{SOURCE}.{key}",
        dimension=dimension,  # type: ignore[arg-type]
        description=description,
        higher_is_better=higher,
    )


PERCENTILE_OF = {
    "seat_utilization_14d": True,
    "seat_utilization_30d": True,
    "core_feature_adoption_30d": True,
    "core_feature_drop_14d": True,
    "core_use_trend_90d": True,
    "active_teams_30d": True,
    "top_two_user_share_30d": False,
    "weekly_logins_per_user": True,
    "seat_deployment": True,
}
"""Figures that also get a ``<key>_pctl`` signal, and whether a higher value is better."""

SIGNALS: tuple[SignalSpec, ...] = (
    _spec("seat_utilization_14d", "adoption", "users active in the last 14 days / seats purchased"),
    _spec("seat_utilization_30d", "adoption", "users active in the last 30 days / seats purchased"),
    _spec(
        "feature_adoption_30d.*",
        "adoption",
        "per core feature: users who used it in the last 30 days / seats purchased",
    ),
    _spec(
        "core_feature_adoption_30d",
        "adoption",
        "the weakest core feature's users in the last 30 days / seats purchased",
    ),
    _spec(
        "feature_drop_14d.*",
        "adoption",
        "per core feature: change in active users, last 14 days against the 14 before "
        "(-0.7 = -70%)",
    ),
    _spec(
        "core_feature_drop_14d",
        "adoption",
        "the largest fall among core features' active users, last 14 days against the 14 before",
    ),
    *(
        _spec(
            f"core_use_trend_{days}d",
            "adoption",
            f"trend of daily core-feature events over {days} days, as change per 30 days "
            "relative to the window's mean (-0.2 = falling 20% a month)",
        )
        for days in (30, 60, 90)
    ),
    _spec(
        "logins_flat_core_declining",
        "adoption",
        "1 when logins hold flat or rise while core-feature use declines, else 0",
        higher=False,
    ),
    _spec("active_teams_30d", "adoption", "teams with an active user in the last 30 days"),
    _spec(
        "top_two_user_share_30d",
        "adoption",
        "share of the last 30 days' events made by the two most active users (0..1)",
        higher=False,
    ),
    _spec(
        "weekly_logins_per_user",
        "adoption",
        "logins per active user per week, over the last 30 days",
    ),
    *(
        _spec(
            f"{key}_pctl",
            "deployment" if key == "seat_deployment" else "adoption",
            f"percentile (0..100) of {key} among accounts of the same segment",
            higher=higher,
        )
        for key, higher in PERCENTILE_OF.items()
    ),
)


@cache
def slug(feature: str) -> str:
    """A feature name as the last part of a signal key (``Report Builder`` → ``report_builder``)."""
    return re.sub(r"[^a-z0-9_]+", "_", feature.lower()).strip("_") or "feature"


def _distinct_by_slug(features: tuple[str, ...]) -> tuple[str, ...]:
    """Core features whose keys differ: "Reporting" and "reporting" would emit one key twice."""
    kept: dict[str, str] = {}
    for feature in features:
        kept.setdefault(slug(feature), feature)
    return tuple(kept.values())


def _share_against(share: float, threshold: float) -> str:
    """A share as a percentage, with a decimal when whole percent would hide the comparison.

    149 of 300 seats is 49.7%: "50%, below the 50%" would read as a contradiction.
    """
    whole = _pct(share)
    return f"{share:.1%}" if whole == _pct(threshold) and share != threshold else whole


def _pct(share: float) -> str:
    return f"{share:.0%}"


def _change(change: float) -> str:
    return f"{change:+.0%}"


@dataclass(slots=True)
class _Out:
    """Signals of one account, before percentiles are added."""

    figures: Figures
    values: dict[str, float]
    signals: list[Signal]


class TelemetrySource:
    """Adoption signals from daily usage: utilisation, core features, trends, coverage."""

    name = SOURCE
    settings_type = Settings
    signals = SIGNALS
    # [docs:freshness]
    freshness = Freshness(
        tables=(
            DataDays(table="telemetry_usage", day_format="epoch_days"),
            DataDays(table="telemetry_daily_counts", day_format="epoch_days"),
        ),
        stale_after_days=3,
    )
    # [/docs:freshness]
    """Usage arrives daily; three days without any account's usage is an export that
    stopped, and its windows would read the silence as "-100%"."""

    def compute(self, batch: SignalBatch) -> Iterator[Signal]:
        figures = compute_figures(batch.db, batch.as_of)
        return _signals(batch.db, figures, batch.as_of, batch.account_ids, batch.settings)

    def compute_days(self, batch: DaysBatch) -> Iterator[tuple[date, list[Signal]]]:
        """Many days at once (plugin API 1.5), each read with that day's accounts
        (``DAYS_TABLE``). The aggregation over each day's windows is the cost, and is
        done per day as in ``compute``: a copy of the batch's rows, scanned instead of
        the whole table, saved nothing measurable (docs/backtest.md)."""
        for day in batch.days:
            figures = compute_figures(batch.db, day, of_days_table=True)
            found = _signals(batch.db, figures, day, batch.account_ids[day], batch.settings)
            yield day, list(found)


def _signals(
    db: Database,
    figures: dict[str, Figures],
    as_of: date,
    account_ids: Sequence[str],
    settings: Settings,
) -> Iterator[Signal]:
    """The signals of ``account_ids`` from the figures of a day's accounts and peers."""
    add_counted(db, figures, as_of)
    for found in figures.values():
        found.core_features = _distinct_by_slug(found.core_features)
    day = as_of.isoformat()
    outputs = {
        account_id: _account_signals(found, settings, day, _tenure(found, as_of))
        for account_id, found in figures.items()
        if found.has_usage
    }
    for account_id, found in figures.items():
        # Only accounts with telemetry: an unconnected account gets no telemetry signal.
        assigned = found.seats_assigned
        if found.has_usage and found.seats_purchased > 0 and assigned is not None:
            share = assigned / found.seats_purchased
            out = outputs.setdefault(account_id, _Out(found, {}, []))
            out.values["seat_deployment"] = share
    _add_percentiles(outputs, account_ids, settings)
    for account_id in account_ids:
        found_out = outputs.get(account_id)
        if found_out is not None:
            yield from found_out.signals
            # The engine keeps its own stamped copies: let these go as it goes.
            found_out.signals.clear()


def _tenure(f: Figures, as_of: date) -> int | None:
    """Days the account has been a customer on ``as_of`` (the day itself counted); None
    when its customer-since day is unknown."""
    return None if f.customer_since is None else (as_of - f.customer_since).days + 1


def _covers(tenure: int | None, days: int) -> bool:
    """Whether a window of ``days`` ending on the run's day lies within the customer's
    life: a window reaching back before it would read the days before the account
    existed as no use, and a young account as growing."""
    return tenure is None or tenure >= days


def _account_signals(f: Figures, settings: Settings, day: str, tenure: int | None) -> _Out:
    values: dict[str, float] = {}
    signals: list[Signal] = []
    account_id = f.account_id

    def emit(key: str, value: float, evidence: str, dimension: str = "adoption") -> None:
        values[key] = value
        signals.append(
            Signal(
                account_id=account_id,
                key=intern(f"{SOURCE}.{key}"),
                value=round(value, 4),
                dimension=dimension,  # type: ignore[arg-type]
                evidence=evidence,
            )
        )

    seats = f.seats_purchased
    # Counts name no users: over a window, the busiest day is all that is certain.
    least = "at least " if f.counted else ""
    peak = " (daily peak: counts name no users)" if f.counted else ""
    if seats > 0:
        low = _pct(settings.low_utilization)
        for days, active in ((14, f.users_14d), (30, f.users_30d)):
            share = active / seats
            verdict = (
                f"at or above the {low} threshold"
                if share >= settings.low_utilization
                else f"below the {low} that deserves a conversation"
                if not f.counted
                else f"the busiest day is below the {low} that deserves a conversation; "
                "distinct users over the window may be more"
            )
            emit(
                f"seat_utilization_{days}d",
                share,
                f"{least}{active} of {seats} purchased seats active in the {days} days to {day}"
                f"{peak} ({least}{_share_against(share, settings.low_utilization)}), {verdict}",
            )
        weak = _pct(settings.weak_adoption)
        weakest: tuple[float, str, int] | None = None
        for feature in f.core_features:
            found = f.features.get(feature)
            users = found.last_30d if found is not None else 0
            share = users / seats
            verdict = (
                f"{_share_against(share, settings.weak_adoption)}, weak: below {weak}"
                if share < settings.weak_adoption
                else f"{_share_against(share, settings.weak_adoption)}; below {weak} would be weak"
            )
            emit(
                f"feature_adoption_30d.{slug(feature)}",
                share,
                f"{least}{users} of {seats} seats used core feature {feature} in the 30 days "
                f"to {day}{peak} ({least}{verdict})",
            )
            if weakest is None or share < weakest[0]:
                weakest = (share, feature, users)
        if weakest is not None:
            share, feature, users = weakest
            emit(
                "core_feature_adoption_30d",
                share,
                f"weakest core feature is {feature}: {least}{users} of {seats} seats used it "
                f"in the 30 days to {day}{peak} ({least}"
                f"{_share_against(share, settings.weak_adoption)}, weak is below {weak})",
            )
    if _covers(tenure, 28):
        _drops(f, settings, day, emit)
    _trends(f, settings, day, emit, tenure)
    if f.counted:
        _counted_logins(f, day, emit)
    elif f.users_30d:
        teams = f.teams_30d
        emit(
            "active_teams_30d",
            len(teams),
            f"{len(teams)} {'team' if len(teams) == 1 else 'teams'} with active users in the "
            f"30 days to {day}" + (f": {', '.join(teams[:5])}" if teams else ""),
        )
        if f.events_30d > 0:
            share = f.top_events / f.events_30d
            emit(
                "top_two_user_share_30d",
                share,
                f"the two most active users ({', '.join(f.top_users)}) made "
                f"{f.top_events} of {f.events_30d} events in the 30 days to {day} "
                f"({_pct(share)}) across {f.users_30d} active users",
            )
        weekly = f.logins_30d / (30 / 7) / f.users_30d
        emit(
            "weekly_logins_per_user",
            weekly,
            f"{f.logins_30d} logins by {f.users_30d} active users in the 30 days to {day}: "
            f"{weekly:.1f} per user per week",
        )
    return _Out(f, values, signals)


Emit = Callable[..., None]


def _counted_logins(f: Figures, day: str, emit: Emit) -> None:
    """Logins per user from counts: over at least the busiest day's users, so at most.

    Teams and the two most active users need people by name: counts give neither,
    and no signal is better than a made-up one.
    """
    if not f.users_30d:
        return
    weekly = f.logins_30d / (30 / 7) / f.users_30d
    emit(
        "weekly_logins_per_user",
        weekly,
        f"{f.logins_30d} logins by at least {f.users_30d} active users (daily peak: counts "
        f"name no users) in the 30 days to {day}: at most {weekly:.1f} per user per week",
    )


def _drops(f: Figures, settings: Settings, day: str, emit: Emit) -> None:
    worst: tuple[float, str, int, int] | None = None
    for feature in f.core_features:
        found = f.features.get(feature)
        if found is None or found.previous_14d == 0:
            continue
        before, now = found.previous_14d, found.last_14d
        change = (now - before) / before
        flag = (
            f", a drop of more than {_pct(settings.drop_alert)}"
            if change < -settings.drop_alert
            else ""
        )
        what = "busiest day's users" if f.counted else "active users"
        emit(
            f"feature_drop_14d.{slug(feature)}",
            change,
            f"{what} of {feature}: {now} in the 14 days to {day}, {before} in the 14 "
            f"before, {_change(change)}{flag}",
        )
        if before < settings.drop_min_users:
            continue  # too few users for a change to mean anything
        if worst is None or change < worst[0]:
            worst = (change, feature, now, before)
    if worst is not None:
        change, feature, now, before = worst
        flag = (
            f", a drop of more than {_pct(settings.drop_alert)}"
            if change < -settings.drop_alert
            else ""
        )
        users = "users on its busiest day" if f.counted else "active users"
        emit(
            "core_feature_drop_14d",
            change,
            f"{'largest fall' if change < 0 else 'smallest rise'} among core features is "
            f"{feature}: {now} {users} in the 14 "
            f"days to {day}, {before} in the 14 before, {_change(change)}{flag}",
        )


def _describe(trend: Trend, what: str, day: str) -> str:
    return (
        f"{what} averaged {trend.mean:.1f} a day over the {trend.days} days to {day}; the "
        f"fitted trend changes by {trend.slope * 30:+.1f} a day every 30 days"
    )


def _trends(f: Figures, settings: Settings, day: str, emit: Emit, tenure: int | None) -> None:
    for days in (30, 60, 90):
        if not _covers(tenure, days):
            continue
        trend = f.core_trends.get(days)
        change = trend.change_per_30d if trend is not None else None
        if trend is None or change is None:
            continue
        emit(
            f"core_use_trend_{days}d",
            change,
            f"{_describe(trend, 'core-feature events', day)} ({_change(change)} of that average)",
        )
    window = settings.warning_window_days
    if not _covers(tenure, window):
        return
    core = f.core_trends.get(window)
    logins = f.login_trends.get(window)
    if core is None or logins is None:
        return
    core_change, login_change = core.change_per_30d, logins.change_per_30d
    if core_change is None or login_change is None:
        return
    declining = core_change < -settings.declining_per_30d
    flat = login_change >= -settings.flat_logins_band
    warning = declining and flat
    comparison = (
        f"logins {_change(login_change)} per 30 days while core-feature events "
        f"{_change(core_change)} per 30 days over the {window} days to {day}"
    )
    if warning:
        verdict = (
            f"warning: logins hold up (within {_pct(settings.flat_logins_band)} or rising) "
            f"while core-feature use declines faster than {_pct(settings.declining_per_30d)}"
        )
    else:
        verdict = "no warning: " + (
            "core-feature use is not declining" if not declining else "logins are falling too"
        )
    emit("logins_flat_core_declining", 1.0 if warning else 0.0, f"{comparison}; {verdict}")


_LABELS = {
    "seat_utilization_14d": "seat utilisation (14 days)",
    "seat_utilization_30d": "seat utilisation (30 days)",
    "core_feature_adoption_30d": "weakest core-feature adoption (30 days)",
    "core_feature_drop_14d": "largest core-feature change (14 days)",
    "core_use_trend_90d": "core-feature trend (90 days)",
    "active_teams_30d": "active teams (30 days)",
    "top_two_user_share_30d": "top-two-user share of events (30 days)",
    "weekly_logins_per_user": "weekly logins per active user",
    "seat_deployment": "seat deployment (assigned / purchased)",
}


_BOUND_FROM_COUNTS = {
    "seat_utilization_14d": "at least ",
    "seat_utilization_30d": "at least ",
    "core_feature_adoption_30d": "at least ",
    "weekly_logins_per_user": "at most ",
}
"""How a figure from counts relates to the exact one it stands for."""


def _format(key: str, value: float) -> str:
    if key in ("active_teams_30d",):
        return f"{value:.0f}"
    if key == "weekly_logins_per_user":
        return f"{value:.1f}"
    if key in ("core_feature_drop_14d", "core_use_trend_90d"):
        return _change(value)
    return _pct(value)


def _add_percentiles(outputs: dict[str, _Out], wanted: Iterable[str], settings: Settings) -> None:
    """Rank each figure among the accounts of the same segment that have it."""
    by_segment: dict[tuple[str, str], list[float]] = {}
    for out in outputs.values():
        for key in PERCENTILE_OF:
            value = out.values.get(key)
            if value is not None:
                by_segment.setdefault((out.figures.segment, key), []).append(value)
    for ordered in by_segment.values():
        ordered.sort()
    # statistics.median, as the support plugin's: the mean of the two middle values of an
    # even count. Once a segment, not once an account: each call copies and sorts the list.
    medians = {group: statistics.median(ordered) for group, ordered in by_segment.items()}
    for account_id in wanted:
        ranked = outputs.get(account_id)
        if ranked is None:
            continue
        out = ranked
        segment = out.figures.segment or "(no segment)"
        for key in PERCENTILE_OF:
            value = out.values.get(key)
            if value is None:
                continue
            peers = by_segment[(out.figures.segment, key)]
            if len(peers) < settings.min_segment_peers:
                continue
            below = bisect_left(peers, value)
            equal = bisect_right(peers, value) - below
            percentile = 100 * (below + 0.5 * equal) / len(peers)
            median = medians[(out.figures.segment, key)]
            out.signals.append(
                Signal(
                    account_id=account_id,
                    key=intern(f"{SOURCE}.{key}_pctl"),
                    value=round(percentile, 1),
                    dimension="deployment" if key == "seat_deployment" else "adoption",
                    evidence=(
                        f"{_LABELS[key]} "
                        f"{_BOUND_FROM_COUNTS.get(key, '') if out.figures.counted else ''}"
                        f"{_format(key, value)} ranks at percentile "
                        f"{percentile:.0f} of {len(peers)} {segment} accounts "
                        f"(segment median {_format(key, median)})"
                    ),
                )
            )


@hookimpl
def register_signal_sources(register: Callable[[SignalSource], None]) -> None:
    register(TelemetrySource())
