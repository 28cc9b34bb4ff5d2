"""From raw records to signals and scores.

``ingest`` stores plugins' raw records; ``settings`` checks each source's and
scorer's table before a run; ``scorecards`` is the core's health scorer (cards in
TOML). The daily run that drives them is ``telltales.engine``.
"""
