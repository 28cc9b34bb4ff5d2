"""Product usage as telltales signals: is the account using what it bought, and how widely.

Registers the ``telemetry_usage`` schema, the ``telemetry.usage`` bulk ingester and
the ``telemetry`` signal source (seat utilisation, core-feature adoption and drops,
usage trends, coverage, login frequency, and each as a percentile within the
account's segment).
"""

from __future__ import annotations

from .records import register_ingesters
from .schema import register_migrations
from .signals import register_signal_sources

__all__ = ["register_ingesters", "register_migrations", "register_signal_sources"]
