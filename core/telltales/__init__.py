"""telltales: signals of renewal risk that explain themselves, and playbooks that act on them."""

from telltales.contracts import (
    BATCH_TABLE,
    ActionOutcome,
    ActionRequest,
    CrmAdapter,
    DataDays,
    Freshness,
    Ingester,
    PlaybookAction,
    RenewalFlag,
    RuleFiring,
    RuleMatch,
    ScoreBatch,
    Scorer,
    SignalBatch,
    SignalSource,
    SignalSpec,
    new_in_batch,
)
from telltales.hookspecs import hookimpl
from telltales.models import Account, Contact, MeasureResult, Score, Signal, StatusTransition
from telltales.version import PLUGIN_API_VERSION, __version__

__all__ = [
    "BATCH_TABLE",
    "PLUGIN_API_VERSION",
    "Account",
    "ActionOutcome",
    "ActionRequest",
    "Contact",
    "CrmAdapter",
    "DataDays",
    "Freshness",
    "Ingester",
    "MeasureResult",
    "PlaybookAction",
    "RenewalFlag",
    "RuleFiring",
    "RuleMatch",
    "Score",
    "ScoreBatch",
    "Scorer",
    "Signal",
    "SignalBatch",
    "SignalSource",
    "SignalSpec",
    "StatusTransition",
    "__version__",
    "hookimpl",
    "new_in_batch",
]
