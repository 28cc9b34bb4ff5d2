"""``[metrics]``: how sure a metric must be before it is shown, and at what confidence.

Checked with the rest of the file when it is loaded (a typo stops every command with
its line), because the minimums decide what the API, the CLI and the demo print.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

Minimum = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class MetricSettings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The fewest cases a figure may rest on, and the confidence of its interval."""

    min_renewals: Minimum = 20
    """Renewals behind a renewal rate, GRR, NRR or mean discount: below, "too few renewals yet"."""
    min_episodes: Minimum = 20
    """Risk episodes old enough behind a reversal rate."""
    min_runs: Minimum = 20
    """Live playbook runs with tasks behind a completion rate."""
    confidence: Annotated[float, msgspec.Meta(ge=0.5, le=0.999)] = 0.95
    """Of every interval; 0.95 gives the usual 95% interval."""
