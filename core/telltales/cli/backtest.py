"""``telltales backtest``: how well the scores and rules predicted what really renewed.

Replays the days asked for in a scratch copy of the database (nothing is written to
the real one but the stored report), and prints the report card: per scorecard AUC,
average precision, Brier score, lift and calibration; per rule precision, recall,
lead time, alert load and flap rate; overall, per segment and per CSM group.
docs/backtest.md says what each figure means.
"""

from __future__ import annotations

import getpass
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import get_args

import click
import msgspec

from telltales.backtest import plots as charts
from telltales.backtest import runner, stored
from telltales.backtest.alerting import Share
from telltales.backtest.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from telltales.backtest.observations import OutcomeKind
from telltales.backtest.report import CutReport, Figure, Report
from telltales.cli.app import DAY, App, day_of
from telltales.cli.tables import Align, render_table
from telltales.errors import InputError
from telltales.signals.scorecards import HEALTH_SCORER, Scoring, load_scoring
from telltales.signals.settings import scorer_settings, source_settings


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(backtest_command)


@click.command(name="backtest")
@click.option("--from", "from_", type=DAY, required=True, help="The first day to replay.")
@click.option("--to", type=DAY, required=True, help="The last day to replay.")
@click.option(
    "--every",
    type=click.IntRange(*runner.EVERY),
    default=runner.DEFAULT_EVERY,
    show_default=True,
    help="Replay every N days.",
)
@click.option(
    "--horizon",
    type=click.IntRange(*runner.HORIZON),
    default=runner.DEFAULT_HORIZON,
    show_default=True,
    help="Days after each day in which a churn counts.",
)
@click.option(
    "--scorecard",
    "scorecards",
    multiple=True,
    help="Also judge this card, applied to every account (repeatable).",
)
@click.option(
    "--outcome",
    type=click.Choice(get_args(OutcomeKind)),
    default="churn",
    show_default=True,
    help="What counts: a churn, or a contraction (a renewal at lower ARR, or a churn).",
)
@click.option(
    "--outcomes-through",
    type=DAY,
    help="The last day outcomes are known. [default: the latest renewal or account version]",
)
@click.option(
    "--judge-from", type=DAY, help="Out-of-time split: judge only the days from this one on."
)
@click.option(
    "--min-churns",
    type=click.IntRange(*runner.MIN_CHURNS),
    default=runner.DEFAULT_MIN_CHURNS,
    show_default=True,
    help="Fewer churns in a cut and its figures are not given.",
)
@click.option(
    "--resamples",
    type=click.IntRange(*runner.RESAMPLES),
    default=DEFAULT_RESAMPLES,
    show_default=True,
    help="Bootstrap resamples (of accounts) for the intervals; 0 for none.",
)
@click.option("--seed", default=DEFAULT_SEED, show_default=True, help="The bootstrap's seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored backtest as JSON.")
@click.option(
    "--plots",
    type=click.Path(file_okay=False, writable=True, path_type=Path),
    help="Also draw calibration.png, lift.png and lead_time.png into this folder.",
)
@click.pass_obj
def backtest_command(
    app: App,
    from_: datetime,
    to: datetime,
    every: int,
    horizon: int,
    scorecards: tuple[str, ...],
    outcome: OutcomeKind,
    outcomes_through: datetime | None,
    judge_from: datetime | None,
    min_churns: int,
    resamples: int,
    seed: int,
    as_json: bool,
    plots: Path | None,
) -> None:
    """Judge the scores and rules on past days against what happened next; store the report."""
    request = runner.Request(
        first_day=from_.date(),
        last_day=to.date(),
        every_days=every,
        horizon_days=horizon,
        outcome=outcome,
        outcomes_through=day_of(outcomes_through),
        judge_from=day_of(judge_from),
        scorecards=scorecards,
        min_churns=min_churns,
        resamples=resamples,
        seed=seed,
    )
    if plots:
        charts.require()
    backtest_id, found = run_backtest(app, request)
    assert found.report is not None
    drawn = []
    if plots:
        with app.open() as store:
            observed = stored.observations(store, backtest_id)
        drawn = charts.write(found.report, observed, plots)
    if as_json:
        click.echo(msgspec.json.encode(found).decode())
        return
    for line in describe(backtest_id, found.report):
        click.echo(line)
    if drawn:
        click.echo(f"\nCharts: {', '.join(str(path) for path in drawn)}")


def configured_scoring(app: App) -> Scoring:
    """The checked scorecards of the configuration, as a run gets them."""
    found = scorer_settings(app.config, app.registry).get(HEALTH_SCORER)
    return found if isinstance(found, Scoring) else load_scoring(app.config, app.registry)


def run_backtest(app: App, request: runner.Request) -> tuple[int, stored.Backtest]:
    """Check, replay, judge and store a backtest, with a progress bar on a terminal."""
    sources = source_settings(app.config, app.registry)
    scorers = scorer_settings(app.config, app.registry)
    scoring = configured_scoring(app)
    with app.open() as store:
        try:
            settings = runner.check(store, request, scoring)
        except runner.RequestProblem as problem:
            raise InputError(
                f"--{(problem.field or '').replace('_', '-')}: {problem.problem}; nothing was run"
            ) from problem
        engine = runner.Engine(app.registry, app.plan, sources, scorers, scoring)
        backtest_id = stored.start(store, settings, by=getpass.getuser())
        days = len(range(0, (settings.last_day - settings.first_day).days + 1, request.every_days))
        hidden = not sys.stderr.isatty() or bool(os.environ.get("CI"))
        with click.progressbar(
            length=days, label="Replaying", file=sys.stderr, hidden=hidden
        ) as bar:

            def advance(_day: date) -> None:
                bar.update(1)

            runner.execute(store, backtest_id, settings, engine, progress=advance)
        found = stored.get(store, backtest_id)
    assert found is not None
    return backtest_id, found


def describe(backtest_id: int, report: Report) -> list[str]:
    """The report card as lines of text: a heading, then each cut's tables."""
    s = report.settings
    days = len(range(0, (s.last_day - s.first_day).days + 1, s.every_days))
    cut = f", judged from {s.judge_from} (out of time)" if s.judge_from else ""
    lines = [
        f"Backtest {backtest_id}: {days} days from {s.first_day} to {s.last_day}, every "
        f"{s.every_days} days{cut}; outcome: {s.outcome} within {s.horizon_days} days; "
        f"outcomes known through {s.outcomes_through}",
        f"{report.observations} observations (account and day): {report.judged} judged, "
        f"{report.left_out} left out (horizon not over)"
        + (f", {report.before_cut} before the cut" if s.judge_from else ""),
        f"Intervals: 95%, bootstrap of {s.resamples} resamples of accounts (seed {s.seed}); "
        f"figures need {s.min_churns} churns in a cut",
    ]
    for found in report.cuts:
        lines += ["", *_cut_lines(found, s.shadow)]
    return lines


def _cut_lines(cut: CutReport, shadow: str | None) -> list[str]:
    title = "Overall" if cut.value is None else f"{cut.cut.replace('_', ' ')} {cut.value!r}"
    notes: list[str] = []
    lines = [
        f"{title}: {cut.accounts} accounts, {cut.observations} observations, {cut.churns} "
        f"churns; flap rate {_figure(cut.flap_rate, notes, percent=True)} of "
        f"{cut.at_risk_entries} At-Risk entries"
    ]
    rows = [
        [
            "scorecard",
            "coverage",
            "AUC",
            "avg precision",
            "Brier",
            "base-rate Brier",
            "lift top 10%",
        ]
    ]
    baseline = [cut.days_to_renewal] if cut.days_to_renewal else []
    for card in [*cut.scorecards, *baseline]:
        rows.append(
            [
                f"{card.scorecard} (shadow)" if card.scorecard == shadow else card.scorecard,
                "-" if card.coverage is None else f"{card.coverage:.0%}",
                _figure(card.auc, notes),
                _figure(card.average_precision, notes),
                _figure(card.brier, notes),
                "-" if card.brier_reference is None else f"{card.brier_reference:.3f}",
                _figure(card.lift_top_decile, notes),
            ]
        )
    card_align: list[Align] = ["left", "right", "left", "left", "left", "right", "left"]
    lines += render_table(rows, card_align, indent="  ")
    for card in cut.scorecards:
        lines.append(f"  calibration of {card.scorecard}:")
        grades = [["grade", "observations", "churned", "rate", "95% (Wilson)"]]
        for row in card.calibration:
            rate = "-" if row.rate is None else f"{row.rate:.1%}"
            wilson = "-" if row.low is None or row.high is None else _range(row.low, row.high, True)
            grades.append([row.grade, str(row.observations), str(row.churned), rate, wilson])
        lines += render_table(grades, ["left", "right", "right", "right", "left"], indent="    ")
    if cut.rules:
        rules = [
            [
                "rule",
                "flagged",
                "precision",
                "recall",
                "lead days median (IQR)",
                "alerts/CSM/week",
                "flap rate",
            ]
        ]
        for rule in cut.rules:
            lead = rule.lead_time_days
            rules.append(
                [
                    rule.rule,
                    str(rule.flagged),
                    _figure(rule.precision, notes, percent=True),
                    f"{_figure(rule.recall, notes, percent=True)} of {cut.churns}",
                    "-" if lead is None else f"{lead.median:g} ({lead.q1:g}-{lead.q3:g})",
                    "-"
                    if rule.alerts_per_csm_per_week is None
                    else f"{rule.alerts_per_csm_per_week:.2f}",
                    f"{_figure(rule.flap_rate, notes, percent=True)} of {rule.at_risk_entries}",
                ]
            )
        align: list[Align] = ["left", "right", "left", "left", "left", "right", "left"]
        lines += render_table(rules, align, indent="  ")
    lines += _status_lines(cut, notes)
    lines += [f"  -: {note}" for note in notes]
    return lines


def _status_lines(cut: CutReport, notes: list[str]) -> list[str]:
    """How many accounts the statuses flag on a typical day, and how early."""
    lines = []
    shares = cut.daily_shares
    if shares is not None and shares.at_risk and shares.not_healthy:
        at_risk, not_healthy = shares.at_risk, shares.not_healthy
        lines.append(
            f"  live accounts At-Risk on a replayed day: median {at_risk.median:.1%} "
            f"(IQR {at_risk.q1:.1%}-{at_risk.q3:.1%}) over {shares.days} days; "
            f"Concern or At-Risk: median {not_healthy.median:.1%}"
        )
    early = cut.early_flags
    if early is not None:
        lines.append(
            f"  churns flagged {early.lead_days}+ days ahead (of {early.churns} reachable): "
            f"At-Risk {_share(early.at_risk, notes)}, Concern or At-Risk "
            f"{_share(early.not_healthy, notes)}"
        )
    return lines


def _share(share: Share, notes: list[str]) -> str:
    if share.value is None or share.low is None or share.high is None:
        if share.reason and share.reason not in notes:
            notes.append(share.reason)
        return f"{share.count} (-)"
    return f"{share.count}, {share.value:.1%} ({_range(share.low, share.high, True)})"


def _figure(figure: Figure, notes: list[str], *, percent: bool = False) -> str:
    """The figure with its interval; ``-`` when not given, its reason added to ``notes``."""
    if figure.value is None:
        if figure.reason and figure.reason not in notes:
            notes.append(figure.reason)
        return "-"
    text = f"{figure.value:.1%}" if percent else f"{figure.value:.3f}"
    if figure.low is not None and figure.high is not None:
        text += f" ({_range(figure.low, figure.high, percent)})"
    return text


def _range(low: float, high: float, percent: bool) -> str:
    return f"{low:.1%}-{high:.1%}" if percent else f"{low:.3f}-{high:.3f}"
