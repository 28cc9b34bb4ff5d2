"""``telltales accounts``, ``signals`` and ``score``: what is known about accounts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import get_args

import click
import msgspec

from telltales import clock
from telltales.cli.app import DAY, App, day_of
from telltales.cli.export import CSV, echo_csv, one_format
from telltales.cli.tables import Align, render_table
from telltales.errors import InputError
from telltales.models import Account, AccountStatus, MeasureResult, Score, ScoreTrend, Signal
from telltales.signals.scorecards import HEALTH_SCORER
from telltales.store import Store, queries


@click.command()
@click.option(
    "--status",
    type=click.Choice(get_args(AccountStatus)),
    help="Only accounts in this status; a health status lists live accounts only.",
)
@click.option("--csm-group", help="Only this CSM group's accounts.")
@click.option("--segment", help="Only this segment's accounts.")
@click.option("--owner", help="Only this owner's (CSM's) accounts.")
@click.option(
    "--renewal-within",
    type=click.IntRange(0, 3650),
    help="Only accounts renewing within this many days of the day read.",
)
@click.option(
    "--sort",
    type=click.Choice(queries.ACCOUNT_SORTS),
    default="account_id",
    show_default=True,
    help="score: riskiest first; -arr: most revenue first; renewal_date: soonest first; "
    "-days_at_risk: At-Risk the longest first; - reverses a field.",
)
@click.option("--as-of", "as_of", type=DAY, help="Day to read. [default: today (UTC)]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@CSV
@click.pass_obj
def accounts(
    app: App,
    status: str | None,
    csm_group: str | None,
    segment: str | None,
    owner: str | None,
    renewal_within: int | None,
    sort: queries.AccountSort,
    as_of: datetime | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List the accounts as of a day: each one's version in force, and its status
    (--csv: the versions, in a form telltales ingest reads back), filtered and sorted
    like GET /v1/accounts."""
    one_format(as_json, as_csv)
    day = day_of(as_of) or clock.today()
    labels = app.plan.labels
    query = _Query(
        status=status,
        csm_group=csm_group,
        segment=segment,
        owner=owner,
        renewal_between=(day, day + timedelta(days=renewal_within))
        if renewal_within is not None
        else None,
        sort=sort,
    )
    with app.open() as store:
        rows = [overview for page in _pages(store, query, day, labels) for overview in page.rows]
    if as_csv:
        echo_csv([row.account for row in rows], Account)
        return
    if as_json:
        click.echo(msgspec.json.encode([row.account for row in rows]).decode())
        return
    for row in rows:
        account = row.account
        state = labels[row.status] if row.status else "no status yet"
        if not row.live:
            state = f"not live ({account.lifecycle} from {account.as_of})"
        click.echo(
            f"{account.account_id}\t{account.name}\t{account.csm_group or '-'}\t"
            f"{account.segment or '-'}\trenews {account.renewal_date or '-'}\t{state}"
        )


@dataclass(frozen=True)
class _Query:
    status: str | None
    csm_group: str | None
    segment: str | None
    owner: str | None
    renewal_between: tuple[date, date] | None
    sort: queries.AccountSort


def _pages(
    store: Store, query: _Query, day: date, labels: Mapping[str, str]
) -> Iterator[queries.OverviewPage]:
    """Every matching account, a page at a time, in the query's order."""
    after: tuple[float, str] | None = None
    while True:
        page = queries.account_overviews(
            store,
            scorer=HEALTH_SCORER,
            labels=labels,
            status=query.status,
            csm_group=query.csm_group,
            segment=query.segment,
            owner=query.owner,
            renewal_between=query.renewal_between,
            sort=query.sort,
            as_of=day,
            after=after,
            limit=PAGE,
        )
        yield page
        if page.resume is None:
            return
        after = page.resume


PAGE = 1000


@click.command()
@click.argument("account_ids", nargs=-1)
@click.option("--all", "all_accounts", is_flag=True, help="Every account in the database.")
@click.option("--as-of", "as_of", type=DAY, help="Day to show. [default: the latest computed]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@CSV
@click.pass_obj
def signals(
    app: App,
    account_ids: tuple[str, ...],
    all_accounts: bool,
    as_of: datetime | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Show an account's signals with their evidence (--csv: one row per signal)."""
    one_format(as_json, as_csv)
    if not account_ids and not all_accounts:
        raise InputError("name at least one ACCOUNT_ID, or pass --all")
    with app.open() as store:
        chosen = (
            queries.list_accounts(store, day_of(as_of))
            if all_accounts
            else [
                queries.get_account(store, account_id, day_of(as_of)) for account_id in account_ids
            ]
        )
        report = []
        for account in chosen:
            day = queries.latest_signal_day(store, account.account_id, day_of(as_of))
            found = queries.signals_for(store, account.account_id, day) if day else []
            report.append((account, day, found))
    if as_csv:
        echo_csv([signal for _, _, found in report for signal in found], Signal)
        return
    if as_json:
        payload = [
            {"account_id": account.account_id, "as_of": day, "signals": found}
            for account, day, found in report
        ]
        click.echo(msgspec.json.encode(payload).decode())  # a list, however many accounts
        return
    for account, day, found in report:
        click.secho(f"{account.account_id}  {account.name}", bold=True, nl=False)
        if day is None:
            click.echo("  - no signals computed yet; run `telltales run`")
            continue
        click.echo(f"  (as of {day})")
        width = max(len(signal.key) for signal in found) if found else 0
        for signal in found:
            click.echo(f"  {signal.key:<{width}}  {_number(signal.value):>8}  {signal.evidence}")


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.4g}"


@click.command()
@click.argument("account_ids", nargs=-1, required=True)
@click.option("--as-of", "as_of", type=DAY, help="Day to show. [default: the latest scored]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def score(app: App, account_ids: tuple[str, ...], as_of: datetime | None, as_json: bool) -> None:
    """Show an account's scores: grade, coverage, trend and the breakdown with evidence."""
    with app.open() as store:
        report = []
        for account_id in account_ids:
            account = queries.get_account(store, account_id, day_of(as_of))
            day = queries.latest_score_day(store, account_id, day_of(as_of))
            found = queries.scores_for(store, account_id, day) if day else []
            report.append((account, day, found))
    if as_json:
        payload = [
            {"account_id": account.account_id, "as_of": day, "scores": found}
            for account, day, found in report
        ]
        click.echo(msgspec.json.encode(payload).decode())  # a list, however many accounts
        return
    for account, day, found in report:
        click.secho(f"{account.account_id}  {account.name}", bold=True, nl=False)
        if day is None:
            click.echo("  - no scores computed yet; run `telltales run`")
            continue
        click.echo(f"  (as of {day})")
        for result in found:
            _print_score(result, day)


def _print_score(result: Score, day: date) -> None:
    value = (
        f"{result.value:.1f}  {result.label} ({result.grade})"
        if result.value is not None
        else f"insufficient data ({result.label})"
    )
    click.echo(
        f"  {result.scorer}: {value}  coverage {_percent(result.coverage)}"
        f"  config {result.config_id or '-'}"
    )
    trends = [
        _trend(days, trend, day) for days, trend in ((7, result.trend_7d), (30, result.trend_30d))
    ]
    click.echo(f"  trend: {'; '.join(trends)}")
    if not result.breakdown:
        return
    rows = [["component / measure", "value", "points", "weight", "configured", "evidence"]]
    components: dict[str, list[MeasureResult]] = {}
    for measure in result.breakdown:
        components.setdefault(measure.component, []).append(measure)
    for component, measures in components.items():
        rows.append(_component_row(component, measures))
        rows.extend(
            [
                f"  {m.measure}",
                "missing" if m.value is None else _number(m.value),
                "-" if m.points is None else _number(m.points),
                _percent(m.weight),
                "-" if m.configured_weight is None else _percent(m.configured_weight),
                m.evidence,
            ]
            for m in measures
        )
    for line in render_table(rows, _BREAKDOWN_ALIGN, indent="  "):
        click.echo(line)


_BREAKDOWN_ALIGN: list[Align] = ["left", "right", "right", "right", "right", "left"]
"""Names and evidence read left-aligned, the numbers between them right-aligned."""


def _component_row(component: str, measures: list[MeasureResult]) -> list[str]:
    """A component's points are its measures' points weighted as they counted."""
    counted = [(m.points, m.weight) for m in measures if m.points is not None]
    weight = sum(w for _, w in counted)
    configured = [m.configured_weight for m in measures if m.configured_weight is not None]
    return [
        component,
        "" if weight else "missing",
        f"{sum(p * w for p, w in counted) / weight:.1f}" if weight else "-",
        _percent(weight),
        _percent(sum(configured)) if configured else "-",
        "",
    ]


def _trend(days: int, trend: ScoreTrend | None, day: date) -> str:
    if trend is None:
        return f"no score {days} days before ({day - timedelta(days=days)})"
    was = "insufficient data" if trend.value is None else f"{trend.value:.1f}, {trend.grade},"
    change = "n/a" if trend.change is None else f"{trend.change:+.1f}"
    other = "" if trend.same_config else f", under another configuration: {trend.config_id}"
    return f"{change} vs {days} days before (was {was} on {trend.as_of}{other})"


def _percent(share: float) -> str:
    return f"{share * 100:.1f}".removesuffix(".0") + "%"


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(accounts)
    cli.add_command(signals)
    cli.add_command(score)
