"""``telltales scorecards fit``: learn a card's weights from a backtest's observations.

The observations come from a stored backtest (``--backtest ID``) or from one run
now (``--from``/``--to``, as ``telltales backtest``). The fitted card is written to a
new file, never over an existing one, as a ``[scorecards.<name>]`` table with its
provenance in comments; added to telltales.toml it can run in shadow
(``[scoring] shadow``) and be promoted (docs/backtest.md).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import get_args

import click
import msgspec

from telltales.backtest import fit, runner, stored
from telltales.backtest.observations import OutcomeKind
from telltales.cli.app import DAY, App, day_of
from telltales.cli.backtest import configured_scoring, run_backtest
from telltales.cli.tables import Align, render_table
from telltales.config import LoadedConfig
from telltales.config.loading import Config
from telltales.errors import InputError
from telltales.signals.scorecards import Card, Scoring, load_scoring

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def register_commands(cli: click.Group) -> None:
    """Add this module's commands to ``cli``."""
    cli.add_command(scorecards)


@click.group(name="scorecards")
def scorecards() -> None:
    """Learn scorecards from what really renewed."""


@scorecards.command(name="fit")
@click.option("--card", help="The card to start from. [default: the [scoring] default card]")
@click.option("--backtest", "backtest_id", type=int, help="Fit from this stored backtest.")
@click.option(
    "--from", "from_", type=DAY, help="Run a backtest from this day (without --backtest)."
)
@click.option("--to", type=DAY, help="... to this day.")
@click.option("--every", default=runner.DEFAULT_EVERY, show_default=True, help="Every N days.")
@click.option(
    "--horizon", default=runner.DEFAULT_HORIZON, show_default=True, help="Churn within N days."
)
@click.option(
    "--outcome", type=click.Choice(get_args(OutcomeKind)), default="churn", show_default=True
)
@click.option("--outcomes-through", type=DAY, help="The last day outcomes are known.")
@click.option(
    "--train-until",
    type=DAY,
    help="Learn from the days before this one, with the outcomes known on it "
    "(out of time). [default: every observation judged]",
)
@click.option(
    "--cut", type=DAY, help="Cross-validation: learn before, judge from. [default: middle]"
)
@click.option("--folds", default=fit.FOLDS, show_default=True, type=click.IntRange(2, 20))
@click.option("--min-churns", default=fit.MIN_CHURNS, show_default=True, type=click.IntRange(1))
@click.option(
    "--prior-churns",
    default=fit.PRIOR_CHURNS,
    show_default=True,
    type=click.IntRange(0),
    help="How many churns the current weights count as (shrinkage).",
)
@click.option("--name", help="The fitted card's name. [default: <card>_fitted]")
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), help="[default: <name>.toml]"
)
@click.option("--json", "as_json", is_flag=True, help="Print the fit as JSON.")
@click.pass_obj
def fit_command(
    app: App,
    card: str | None,
    backtest_id: int | None,
    from_: datetime | None,
    to: datetime | None,
    every: int,
    horizon: int,
    outcome: OutcomeKind,
    outcomes_through: datetime | None,
    train_until: datetime | None,
    cut: datetime | None,
    folds: int,
    min_churns: int,
    prior_churns: int,
    name: str | None,
    out: Path | None,
    as_json: bool,
) -> None:
    """Learn a card's weights (and directions) from backtest observations; write a new card."""
    fit.require_sklearn()
    scoring = configured_scoring(app)
    current = _card(scoring, card)
    name = name or f"{current.name}_fitted"
    if not _NAME.match(name):
        raise InputError(f"--name: {name!r} is not a card name (lowercase letters, digits and _)")
    if name in scoring.cards:
        raise InputError(f"--name: a scorecard {name!r} exists already; choose another name")
    target = out or Path(f"{name}.toml")
    if target.exists():
        raise InputError(
            f"--out: {target} exists; a fitted card never overwrites a file: choose another "
            "--out; nothing was written"
        )
    if backtest_id is None:
        if from_ is None or to is None:
            raise InputError(
                "--backtest: give a stored backtest's id, or --from and --to to run one"
            )
        backtest_id, found = run_backtest(
            app,
            runner.Request(
                first_day=from_.date(),
                last_day=to.date(),
                every_days=every,
                horizon_days=horizon,
                outcome=outcome,
                outcomes_through=day_of(outcomes_through),
                resamples=0,
            ),
        )
        click.echo(f"Backtest {backtest_id} stored.", err=True)
    else:
        with app.open() as store:
            got = stored.get(store, backtest_id)
            if got is None or got.state != "done":
                state = "no such backtest" if got is None else f"it is {got.state}"
                raise InputError(f"--backtest: {backtest_id}: {state}; nothing was written")
            found = got
    with app.open() as store:
        observations = stored.observations(store, backtest_id)
    settings = found.settings
    missing = [m.key for m in current.measures if m.key not in settings.measured]
    if missing:
        raise InputError(
            f"--backtest: backtest {backtest_id} kept no values of {', '.join(missing)} (it was "
            "stored before values were kept, or the card is newer): run a new backtest; "
            "nothing was written"
        )
    through = day_of(train_until) or settings.outcomes_through
    if not settings.first_day < through <= settings.outcomes_through:
        raise InputError(
            f"--train-until: {through} is outside {settings.first_day} .. "
            f"{settings.outcomes_through} (the backtest's days and outcomes); nothing was written"
        )
    try:
        result, fitted = fit.fit(
            observations,
            current,
            name=name,
            horizon=settings.horizon_days,
            through=through,
            cut=day_of(cut),
            folds=folds,
            prior_churns=prior_churns,
            min_churns=min_churns,
        )
    except fit.FitProblem as problem:
        option = (problem.field or "").replace("_", "-")
        raise InputError(f"--{option}: {problem.problem}; nothing was written") from problem
    text = fit.card_toml(result, fitted, f"backtest {backtest_id}")
    _check_loads(app, text, name)
    try:
        with target.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError as error:
        raise InputError(f"--out: {target} exists; nothing was written") from error
    if as_json:
        click.echo(msgspec.json.encode(result).decode())
        return
    for line in describe(result, target):
        click.echo(line)


def _card(scoring: Scoring, name: str | None) -> Card:
    if name is None:
        return scoring.default
    if name not in scoring.cards:
        known = ", ".join(sorted(scoring.cards))
        raise InputError(f"--card: no scorecard {name!r} (known: {known})")
    return scoring.cards[name]


def _check_loads(app: App, text: str, name: str) -> None:
    """The written card must load as any card of telltales.toml does: checked before writing."""
    values = msgspec.toml.decode(text, type=Config)
    loaded = LoadedConfig(values=values, source="(fitted card)", config_id="fitted", text=text)
    load_scoring(loaded, app.registry).cards[name]


def describe(result: fit.Fit, target: Path) -> list[str]:
    """The fit as lines of text: what it learned from, how it did, each measure."""
    cv = result.cross_validation
    lines = [
        f"Fitted {result.name!r} from {result.card!r}: {result.observations:,} observations of "
        f"{result.accounts:,} accounts, {result.first_day} to {result.last_day}, "
        f"{result.churns} churns within {result.horizon_days} days (outcomes known through "
        f"{result.through}).",
    ]
    if cv.fitted is not None and cv.current is not None:
        lines.append(
            f"Cross-validated by account, learned before {cv.cut} and judged from it on: "
            f"ROC AUC {fit.describe_spread(cv.fitted)}; {result.card!r} on the same folds "
            f"{fit.describe_spread(cv.current)}."
        )
    else:
        lines.append(f"Not cross-validated: {cv.reason}.")
    lines.append(
        f"Shrunk toward {result.card!r}: weight = {result.blend:.2f} x learned + "
        f"{1 - result.blend:.2f} x current ({result.churns} churns against a prior of "
        f"{result.prior_churns})."
    )
    rows = [["measure", "current", "learned", "fitted", "own AUC", "with data", ""]]
    ordered = sorted(result.measures, key=lambda m: -abs(m.learned or 0.0))
    for measure in ordered:
        note = "points the wrong way: turned round" if measure.flipped else ""
        if measure.learned is None:
            note = "no data: keeps its weight"
        rows.append(
            [
                measure.signal,
                f"{measure.current:.3f}",
                "-" if measure.learned is None else f"{measure.learned:+.3f}",
                f"{measure.fitted:.3f}",
                "-" if measure.auc is None else f"{measure.auc:.3f}",
                f"{measure.coverage:.0%}",
                note,
            ]
        )
    align: list[Align] = ["left", "right", "right", "right", "right", "right", "left"]
    lines += ["", *render_table(rows, align, indent="  ")]
    carry = [m.signal for m in ordered if m.learned is not None][:3]
    lines += [
        "",
        f"Carry the prediction (largest learned shares): {', '.join(carry)}.",
        "learned: share of the regression's coefficients, negative when more points meant "
        "more churn; own AUC: the measure alone (below 0.5: the wrong way).",
        f"Wrote {target}. To score it in shadow beside the live card, add it to telltales.toml "
        f'and set [scoring] shadow = "{result.name}" (docs/backtest.md).',
    ]
    return lines
