"""telltales: signals of renewal risk that explain themselves, and playbooks that act on them."""

from .contracts import (
    BATCH_TABLE,
    ActionOutcome,
    ActionRequest,
    CrmAdapter,
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
)
from .hookspecs import hookimpl
from .models import Account, Contact, MeasureResult, Score, Signal, StatusTransition
from .version import PLUGIN_API_VERSION, __version__

__all__ = [
    "BATCH_TABLE",
    "PLUGIN_API_VERSION",
    "Account",
    "ActionOutcome",
    "ActionRequest",
    "Contact",
    "CrmAdapter",
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
]
