"""The metrics that show whether the program works, computed from the recorded history.

Each is a function over the store and a :class:`MetricFilter` returning a report with
the numbers, the counts behind them, its definition in one sentence and the filter
as applied; docs/metrics.md gives each one exactly, with a worked example.
"""

from __future__ import annotations

from telltales.metrics.acknowledgement import DEFINITION as _ACKNOWLEDGEMENT
from telltales.metrics.acknowledgement import TimeToAcknowledge, time_to_acknowledge
from telltales.metrics.alert_load import DEFINITION as _ALERT_LOAD
from telltales.metrics.alert_load import AlertLoad, alert_load
from telltales.metrics.common import Cohort, GroupBy, MetricFilter, MetricInputError
from telltales.metrics.discounting import DEFINITION as _DISCOUNTING
from telltales.metrics.discounting import Discounting, discounting
from telltales.metrics.flags import DEFAULT_LOOKBACK_DAYS
from telltales.metrics.flaps import DEFINITION as _FLAP_RATE
from telltales.metrics.flaps import FlapRate, flap_rate
from telltales.metrics.playbook_completion import DEFINITION as _COMPLETION
from telltales.metrics.playbook_completion import PlaybookCompletion, playbook_completion
from telltales.metrics.renewal_cohorts import DEFINITION as _RENEWAL_COHORTS
from telltales.metrics.renewal_cohorts import RenewalByCohort, renewal_by_cohort
from telltales.metrics.retention import DEFINITION as _RETENTION
from telltales.metrics.retention import Retention, retention
from telltales.metrics.risk_reversal import DEFINITION as _RISK_REVERSAL
from telltales.metrics.risk_reversal import RiskReversal, risk_reversal
from telltales.metrics.uncertainty import Comparison, Interval, Sample

DEFINITIONS: dict[str, str] = {
    "risk-reversal": _RISK_REVERSAL,
    "time-to-acknowledge": _ACKNOWLEDGEMENT,
    "playbook-completion": _COMPLETION,
    "retention": _RETENTION,
    "renewal-by-cohort": _RENEWAL_COHORTS,
    "discounting": _DISCOUNTING,
    "alert-load": _ALERT_LOAD,
    "flap-rate": _FLAP_RATE,
}
"""Each metric's definition by its name in the API and the CLI."""

__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
    "DEFINITIONS",
    "AlertLoad",
    "Cohort",
    "Comparison",
    "Discounting",
    "FlapRate",
    "GroupBy",
    "Interval",
    "MetricFilter",
    "MetricInputError",
    "PlaybookCompletion",
    "RenewalByCohort",
    "Retention",
    "RiskReversal",
    "Sample",
    "TimeToAcknowledge",
    "alert_load",
    "discounting",
    "flap_rate",
    "playbook_completion",
    "renewal_by_cohort",
    "retention",
    "risk_reversal",
    "time_to_acknowledge",
]
