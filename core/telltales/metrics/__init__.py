"""The metrics that show whether the program works, computed from the recorded history.

Each is a function over the store and a :class:`MetricFilter` returning a report with
the numbers, the counts behind them, its definition in one sentence and the filter
as applied; docs/metrics.md gives each one exactly, with a worked example.
"""

from __future__ import annotations

from .acknowledgement import DEFINITION as _ACKNOWLEDGEMENT
from .acknowledgement import TimeToAcknowledge, time_to_acknowledge
from .alert_load import DEFINITION as _ALERT_LOAD
from .alert_load import AlertLoad, alert_load
from .common import Cohort, GroupBy, MetricFilter, MetricInputError
from .discounting import DEFINITION as _DISCOUNTING
from .discounting import Discounting, discounting
from .flags import DEFAULT_LOOKBACK_DAYS
from .playbook_completion import DEFINITION as _COMPLETION
from .playbook_completion import PlaybookCompletion, playbook_completion
from .renewal_cohorts import DEFINITION as _RENEWAL_COHORTS
from .renewal_cohorts import RenewalByCohort, renewal_by_cohort
from .retention import DEFINITION as _RETENTION
from .retention import Retention, retention
from .risk_reversal import DEFINITION as _RISK_REVERSAL
from .risk_reversal import RiskReversal, risk_reversal

DEFINITIONS: dict[str, str] = {
    "risk-reversal": _RISK_REVERSAL,
    "time-to-acknowledge": _ACKNOWLEDGEMENT,
    "playbook-completion": _COMPLETION,
    "retention": _RETENTION,
    "renewal-by-cohort": _RENEWAL_COHORTS,
    "discounting": _DISCOUNTING,
    "alert-load": _ALERT_LOAD,
}
"""Each metric's definition by its name in the API and the CLI."""

__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
    "DEFINITIONS",
    "AlertLoad",
    "Cohort",
    "Discounting",
    "GroupBy",
    "MetricFilter",
    "MetricInputError",
    "PlaybookCompletion",
    "RenewalByCohort",
    "Retention",
    "RiskReversal",
    "TimeToAcknowledge",
    "alert_load",
    "discounting",
    "playbook_completion",
    "renewal_by_cohort",
    "retention",
    "risk_reversal",
    "time_to_acknowledge",
]
