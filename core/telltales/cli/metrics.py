"""``telltales metrics NAME``: the program's metrics, as the API reports them, in a terminal.

The same functions as ``GET /v1/metrics/...``; the output is a table of the overall row
and one per group (``--group-by``), under the metric's definition and the filters as
applied, so a number is never shown without what it counts.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, get_args

import click
import msgspec

from telltales import metrics
from telltales.cli.app import DAY, App, day_of
from telltales.cli.tables import Align, render_table
from telltales.config import MetricSettings
from telltales.metrics import Cohort, GroupBy, MetricFilter, MetricInputError
from telltales.store import Store

Report = (
    metrics.RiskReversal
    | metrics.TimeToAcknowledge
    | metrics.PlaybookCompletion
    | metrics.Retention
    | metrics.RenewalByCohort
    | metrics.Discounting
    | metrics.AlertLoad
    | metrics.FlapRate
)
NAMES = tuple(metrics.DEFINITIONS)
_ONLY = {
    "window_days": ("risk-reversal",),
    "as_of": ("risk-reversal", "flap-rate"),
    "lookback_days": ("renewal-by-cohort", "discounting"),
}


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(metrics_command)


@click.command(name="metrics")
@click.argument("name", type=click.Choice(NAMES))
@click.option("--csm-group", help="Only events of this CSM group (as recorded then).")
@click.option("--segment", help="Only events of this segment.")
@click.option("--cohort", type=click.Choice(get_args(Cohort)), help="Pilot, control or none.")
@click.option("--from", "from_", type=DAY, help="First day of the period. [default: --to - 89]")
@click.option("--to", type=DAY, help="Last day of the period. [default: today (UTC)]")
@click.option("--group-by", type=click.Choice(get_args(GroupBy)), help="Also one row per group.")
@click.option("--window-days", type=int, help="risk-reversal: 30 or 60. [default: 30]")
@click.option(
    "--as-of",
    "as_of",
    type=DAY,
    help="risk-reversal, flap-rate: age episodes on. [default: today]",
)
@click.option(
    "--lookback-days",
    type=int,
    help="renewal-by-cohort, discounting: days before a renewal a flag counts. [default: 90]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as the API returns it.")
@click.pass_obj
def metrics_command(
    app: App,
    name: str,
    csm_group: str | None,
    segment: str | None,
    cohort: Cohort | None,
    from_: datetime | None,
    to: datetime | None,
    group_by: GroupBy | None,
    window_days: int | None,
    as_of: datetime | None,
    lookback_days: int | None,
    as_json: bool,
) -> None:
    """Show metric NAME (risk-reversal, time-to-acknowledge, playbook-completion, retention,
    renewal-by-cohort, discounting, alert-load, flap-rate); docs/metrics.md defines each one."""
    given = {"window_days": window_days, "as_of": as_of, "lookback_days": lookback_days}
    for option, value in given.items():
        if value is not None and name not in _ONLY[option]:
            raise click.UsageError(
                f"--{option.replace('_', '-')} applies to {' and '.join(_ONLY[option])} only"
            )
    metric_filter = MetricFilter(
        csm_group=csm_group,
        segment=segment,
        cohort=cohort,
        from_=day_of(from_),
        to=day_of(to),
        group_by=group_by,
    )
    settings = app.config.values.metrics
    try:
        with app.open() as store:
            report = _compute(
                name,
                store,
                metric_filter,
                settings,
                window_days=window_days,
                as_of=as_of,
                lookback_days=lookback_days,
            )
    except MetricInputError as error:
        raise click.UsageError(f"--{error.field.replace('_', '-')}: {error.reason}") from error
    if as_json:
        click.echo(msgspec.json.encode(report).decode())
        return
    _print(report)


def _compute(
    name: str,
    store: Store,
    metric_filter: MetricFilter,
    settings: MetricSettings,
    *,
    window_days: int | None,
    as_of: datetime | None,
    lookback_days: int | None,
) -> Report:
    lookback = metrics.DEFAULT_LOOKBACK_DAYS if lookback_days is None else lookback_days
    if name == "risk-reversal":
        window = 30 if window_days is None else window_days
        return metrics.risk_reversal(
            store, metric_filter, window_days=window, as_of=day_of(as_of), settings=settings
        )
    if name == "renewal-by-cohort":
        return metrics.renewal_by_cohort(
            store, metric_filter, lookback_days=lookback, settings=settings
        )
    if name == "discounting":
        return metrics.discounting(store, metric_filter, lookback_days=lookback, settings=settings)
    if name == "retention":
        return metrics.retention(store, metric_filter, settings=settings)
    if name == "playbook-completion":
        return metrics.playbook_completion(store, metric_filter, settings=settings)
    if name == "flap-rate":
        return metrics.flap_rate(store, metric_filter, as_of=day_of(as_of), settings=settings)
    plain: dict[str, Callable[..., Report]] = {
        "time-to-acknowledge": metrics.time_to_acknowledge,
        "alert-load": metrics.alert_load,
    }
    return plain[name](store, metric_filter)


# How each report prints: a title, then columns of (header, attribute path, format).
Column = tuple[str, str, str]
_COLUMNS: dict[str, list[Column]] = {
    "risk-reversal": [
        ("rate", "rate", "share"),
        ("reversed", "reversed", "count"),
        ("old enough", "old_enough", "count"),
        ("too young", "too_young", "count"),
        ("episodes", "episodes", "count"),
    ],
    "time-to-acknowledge": [
        ("median", "median_hours", "hours"),
        ("p90", "p90_hours", "hours"),
        ("acknowledged", "acknowledged", "count"),
        ("open, not yet", "unacknowledged_open", "count"),
        ("closed, never", "closed_unacknowledged", "count"),
        ("episodes", "episodes", "count"),
    ],
    "playbook-completion": [
        ("rate", "rate", "share"),
        ("completed", "completed", "count"),
        ("closed", "closed", "count"),
        ("open", "open", "count"),
        ("with tasks", "with_tasks", "count"),
        ("no tasks", "without_tasks", "count"),
        ("tasks done", "tasks_done", "count"),
        ("dismissed", "tasks_dismissed", "count"),
    ],
    "retention": [
        ("GRR", "grr", "share"),
        ("NRR", "nrr", "share"),
        ("ARR before", "arr_before", "money"),
        ("ARR after", "arr_after", "money"),
        ("retained", "arr_retained", "money"),
        ("renewals", "renewals", "count"),
        ("churned", "churned", "count"),
    ],
    "renewal-by-cohort": [
        ("risk cohort", "risk_cohort", "text"),
        ("logo rate", "logo_renewal_rate", "share"),
        ("GRR", "grr", "share"),
        ("NRR", "nrr", "share"),
        ("renewed", "renewed", "count"),
        ("renewals", "renewals", "count"),
        ("ARR before", "arr_before", "money"),
        ("ARR after", "arr_after", "money"),
    ],
    "discounting": [
        ("flagged mean", "flagged.mean_discount_percent", "percent"),
        ("flagged", "flagged.renewals", "count"),
        ("others mean", "not_flagged.mean_discount_percent", "percent"),
        ("others", "not_flagged.renewals", "count"),
        ("difference", "difference_points", "points"),
        ("churned, left out", "churned_left_out", "count"),
    ],
    "flap-rate": [
        ("rate", "rate", "share"),
        ("flapped", "flapped", "count"),
        ("old enough", "old_enough", "count"),
        ("too young", "too_young", "count"),
        ("entries", "entries", "count"),
    ],
    "alert-load": [
        ("live mean/wk", "mean_live_per_week", "number"),
        ("live max/wk", "max_live_per_week", "number"),
        ("shadow mean/wk", "mean_shadow_per_week", "number"),
        ("shadow max/wk", "max_shadow_per_week", "number"),
        ("live", "fired_live", "count"),
        ("shadow", "fired_shadow", "count"),
        ("owners", "owners", "count"),
    ],
}
_INTERVALS: dict[str, tuple[str, str]] = {
    "rate": ("rate_interval", "sample"),
    "grr": ("grr_interval", "sample"),
    "nrr": ("nrr_interval", "sample"),
    "logo_renewal_rate": ("logo_renewal_rate_interval", "sample"),
    "flagged.mean_discount_percent": ("flagged.mean_interval", "flagged.sample"),
    "not_flagged.mean_discount_percent": ("not_flagged.mean_interval", "not_flagged.sample"),
    "difference_points": ("difference.interval", "difference"),
}
"""A figure's interval and the sample (or comparison) that says whether it may be shown."""
_NOTES: dict[str, list[str]] = {
    "risk-reversal": ["sample"],
    "flap-rate": ["sample"],
    "playbook-completion": ["sample"],
    "retention": ["sample"],
    "renewal-by-cohort": ["sample"],
    "discounting": ["flagged.sample", "not_flagged.sample"],
}
"""The samples whose "too few ... yet" the note column gives, per metric."""
_OWNER_COLUMNS: list[Column] = [
    ("live/wk", "live_per_week", "number"),
    ("shadow/wk", "shadow_per_week", "number"),
    ("live", "fired_live", "count"),
    ("shadow", "fired_shadow", "count"),
]


def _print(report: Report) -> None:
    title = report.metric
    if isinstance(report, metrics.RiskReversal):
        title += f" (window {report.window_days} days, episodes aged as of {report.as_of})"
    elif isinstance(report, metrics.FlapRate):
        title += f" (window {report.window_days} days, entries aged as of {report.as_of})"
    elif isinstance(report, metrics.RenewalByCohort | metrics.Discounting):
        title += f" (lookback {report.lookback_days} days)"
    elif isinstance(report, metrics.AlertLoad):
        title += f" ({report.days} days = {report.weeks:.2f} weeks)"
    click.secho(title, bold=True)
    click.echo(textwrap.fill(report.definition, width=100))
    click.echo(f"filters: {_describe(report.filters)}")
    if isinstance(report, metrics.TimeToAcknowledge):
        click.echo(textwrap.fill(f"percentiles: {report.percentile_method}", width=100))
    confidence = getattr(report, "confidence", None)
    if confidence is not None:
        click.echo(
            f"in brackets: {confidence:.0%} interval (docs/metrics.md); a figure that rests "
            "on too few cases is not shown"
        )
    click.echo()
    overall = report.overall if isinstance(report.overall, list) else [report.overall]
    rows: Sequence[msgspec.Struct] = [*overall, *report.groups]
    first = report.filters.group_by or "group"
    notes = _NOTES.get(report.metric, [])
    columns: list[Column] = [(first, "group", "group"), *_COLUMNS[report.metric]]
    _table([*columns, *([("note", "", "note")] if notes else [])], rows, notes)
    if isinstance(report, metrics.AlertLoad) and report.by_owner:
        click.echo()
        _table([("owner", "owner", "owner"), *_OWNER_COLUMNS], report.by_owner)
    comparisons = getattr(report, "comparisons", [])
    if comparisons:
        click.echo()
        for comparison in comparisons:
            click.echo(_comparison(comparison))


def _comparison(comparison: metrics.Comparison) -> str:
    """One line: ``pilot - control, grr: +41.7 pts (-10.2 to +93.6)`` or why it is not shown."""
    label = f"{comparison.first} - {comparison.second}, {comparison.figure}"
    percent = comparison.figure == "mean_discount_percent"
    scale = 1 if percent else 100
    if comparison.interval is None or comparison.difference is None:
        return f"{label}: {comparison.withheld}"
    low, high = comparison.interval.low * scale, comparison.interval.high * scale
    return f"{label}: {comparison.difference * scale:+.1f} pts ({low:+.1f} to {high:+.1f})"


def _describe(applied: MetricFilter) -> str:
    parts = [f"period {applied.from_} to {applied.to}"]
    parts.extend(
        f"{field} {getattr(applied, field)}"
        for field in ("csm_group", "segment", "cohort")
        if getattr(applied, field) is not None
    )
    if applied.limited_to is not None:
        parts.append(f"limited to groups {', '.join(applied.limited_to)}")
    return "; ".join(parts)


def _table(
    columns: Sequence[Column], rows: Sequence[msgspec.Struct], notes: Sequence[str] = ()
) -> None:
    cells = [[header for header, _, _ in columns]]
    for row in rows:
        cells.append([_cell(row, path, kind, notes) for _, path, kind in columns])
    align: list[Align] = [
        "left" if kind in ("group", "owner", "text", "note") else "right" for _, _, kind in columns
    ]
    for line in render_table(cells, align):
        click.echo(line)


def _cell(row: object, path: str, kind: str, notes: Sequence[str]) -> str:
    """A cell: the figure with its interval, "-" when its sample is too small, or the note."""
    if kind == "note":
        withheld = [_value(row, sample).withheld for sample in notes]
        prefixes = [sample.rsplit(".", 1)[0] + ": " if "." in sample else "" for sample in notes]
        return "; ".join(p + w for p, w in zip(prefixes, withheld, strict=True) if w)
    found = _INTERVALS.get(path)
    if found is None:
        return _format(_value(row, path), kind)
    interval_path, sample_path = found
    if not _value(row, sample_path).enough:
        return "-"
    figure = _format(_value(row, path), kind)
    interval = _value(row, interval_path)
    if interval is None:
        return figure
    low, high = interval.low, interval.high
    return f"{figure} ({_format(low, kind)} to {_format(high, kind)})"


def _value(row: object, path: str) -> Any:
    for part in path.split("."):
        row = getattr(row, part)
    return row


def _format(value: object, kind: str) -> str:
    if kind == "group":
        return "all" if value is None else str(value) or "(none)"
    if kind == "owner":
        return str(value) or "(no owner)"
    if value is None:
        return "-"
    if not isinstance(value, int | float):
        return str(value)
    formats = {
        "count": f"{value:,.0f}",
        "share": f"{value * 100:.1f}%",
        "percent": f"{value:.1f}%",
        "points": f"{value:+.1f} pts",
        "hours": f"{value:.1f} h",
        "money": f"{value:,.0f}",
        "number": f"{value:.2f}",
    }
    return formats[kind]
