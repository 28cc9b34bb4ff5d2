"""``GET /v1/metrics/...``: the metrics that show whether the program works.

Every metric takes the same cut (``csm_group``, ``segment``, ``cohort``, ``from``,
``to``, ``group_by``), built once by the ``metric_filter`` dependency; a key limited to
CSM groups gets numbers over its groups' events only, and naming another group is a
403. Each report carries the counts behind its numbers, its definition and the filter
as applied (docs/metrics.md); each rate, ratio and mean also carries the sample it rests
on, its interval, and (between pilot and control) the difference with its interval.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter, QueryParameter
from telltales import metrics
from telltales.metrics import Cohort, GroupBy, MetricFilter, MetricInputError

from telltales_api.auth import SECURITY, Key, check_groups, needs
from telltales_api.context import Context
from telltales_api.problems import (
    FieldError,
    Problem,
    problem_response,
    problem_responses,
)

FromDay = Annotated[
    date | None,
    QueryParameter(
        name="from",
        description="First day of the period (YYYY-MM-DD); default: `to` minus 89 days.",
    ),
]
ToDay = Annotated[
    date | None, Parameter(description="Last day of the period (inclusive); default: today.")
]
LookbackDays = Annotated[
    int,
    Parameter(
        ge=1,
        le=730,
        description="Days before a renewal in which being At-Risk flags it.",
    ),
]


def metric_filter(
    key: Key,
    csm_group: Annotated[str | None, Parameter(description="CSM group, as recorded.")] = None,
    segment: Annotated[str | None, Parameter(description="Segment, as recorded.")] = None,
    cohort: Annotated[Cohort | None, Parameter(description="Pilot cohort.")] = None,
    from_: FromDay = None,
    to: ToDay = None,
    group_by: Annotated[
        GroupBy | None, Parameter(description="Also one row per value of this column.")
    ] = None,
) -> MetricFilter:
    """The cut every metric takes, limited to the key's CSM groups."""
    if csm_group is not None:
        check_groups(key, [csm_group])
    return MetricFilter(
        csm_group=csm_group,
        segment=segment,
        cohort=cohort,
        from_=from_,
        to=to,
        group_by=group_by,
        limited_to=None if key.csm_groups is None else tuple(sorted(key.csm_groups)),
    )


Filter = NamedDependency[MetricFilter]
"""A handler's ``metric_filter`` parameter."""


def _on_metric_input(request: Request[Any, Any, Any], error: MetricInputError) -> Response[Problem]:
    return problem_response(
        request, 400, str(error), [FieldError(field=f"query.{error.field}", reason=error.reason)]
    )


def _route(name: str, summary: str) -> get:
    """The decorator of a metric route: read scope, a worker thread, the documented errors,
    and the metric's exact definition in the schema."""
    return get(
        f"/metrics/{name}",
        opt=needs("read"),
        sync_to_thread=True,
        summary=summary,
        description=f"{metrics.DEFINITIONS[name]} (docs/metrics.md has a worked example.)",
        responses=problem_responses(400, 401, 403),
    )


@_route("risk-reversal", "Risk status reversal rate")
def risk_reversal(
    context: Context,
    metric_filter: Filter,
    window_days: Annotated[
        Literal[30, 60], Parameter(description="W: days an episode has to return to Healthy.")
    ] = 30,
    as_of: Annotated[
        date | None, Parameter(description="Day the episodes' age is taken on; default today.")
    ] = None,
) -> metrics.RiskReversal:
    """Of the entries into At-Risk in the period at least W days old, the share back at
    Healthy within W days."""
    return metrics.risk_reversal(
        context.store,
        metric_filter,
        window_days=window_days,
        as_of=as_of,
        settings=context.config.values.metrics,
    )


@_route("time-to-acknowledge", "Time to acknowledge risk")
def time_to_acknowledge(context: Context, metric_filter: Filter) -> metrics.TimeToAcknowledge:
    """Hours from entering At-Risk to the first task of its playbook done: median, p90,
    and the episodes not acknowledged."""
    return metrics.time_to_acknowledge(context.store, metric_filter)


@_route("playbook-completion", "Playbook completion rate")
def playbook_completion(context: Context, metric_filter: Filter) -> metrics.PlaybookCompletion:
    """Of the live playbook runs started in the period, the share whose tasks were all done."""
    return metrics.playbook_completion(
        context.store, metric_filter, settings=context.config.values.metrics
    )


@_route("retention", "Gross and net dollar retention")
def retention(context: Context, metric_filter: Filter) -> metrics.Retention:
    """GRR and NRR over the renewals due in the period, with the sums behind them."""
    return metrics.retention(context.store, metric_filter, settings=context.config.values.metrics)


@_route("renewal-by-cohort", "Renewal rate by risk cohort")
def renewal_by_cohort(
    context: Context,
    metric_filter: Filter,
    lookback_days: LookbackDays = metrics.DEFAULT_LOOKBACK_DAYS,
) -> metrics.RenewalByCohort:
    """Renewals due in the period split into flagged with a playbook, flagged without,
    and never flagged: logo renewal rate, GRR and NRR for each."""
    return metrics.renewal_by_cohort(
        context.store,
        metric_filter,
        lookback_days=lookback_days,
        settings=context.config.values.metrics,
    )


@_route("discounting", "Discounting on at-risk renewals")
def discounting(
    context: Context,
    metric_filter: Filter,
    lookback_days: LookbackDays = metrics.DEFAULT_LOOKBACK_DAYS,
) -> metrics.Discounting:
    """The mean discount on renewals of flagged accounts against the others."""
    return metrics.discounting(
        context.store,
        metric_filter,
        lookback_days=lookback_days,
        settings=context.config.values.metrics,
    )


@_route("alert-load", "Alert load")
def alert_load(context: Context, metric_filter: Filter) -> metrics.AlertLoad:
    """Rules fired per CSM per week, live and shadow apart, per owner and overall."""
    return metrics.alert_load(context.store, metric_filter)


@_route("flap-rate", "Flap rate")
def flap_rate(
    context: Context,
    metric_filter: Filter,
    as_of: Annotated[
        date | None, Parameter(description="Day the entries' age is taken on; default today.")
    ] = None,
) -> metrics.FlapRate:
    """Of the entries into At-Risk in the period at least 14 days old, the share the rules
    moved out of At-Risk within 14 days."""
    return metrics.flap_rate(
        context.store, metric_filter, as_of=as_of, settings=context.config.values.metrics
    )


router = Router(
    path="/v1",
    tags=["metrics"],
    security=SECURITY,
    route_handlers=[
        risk_reversal,
        time_to_acknowledge,
        playbook_completion,
        retention,
        renewal_by_cohort,
        discounting,
        alert_load,
        flap_rate,
    ],
    dependencies={"metric_filter": Provide(metric_filter, sync_to_thread=False)},
    exception_handlers={MetricInputError: _on_metric_input},
)
