"""Backtests: how well scores and rules predicted what really renewed (docs/backtest.md).

``replay`` scores past days as of each day in a scratch copy of the database;
``observations`` turns that into one row per account and day with what happened
next; ``statistics`` and ``bootstrap`` compute the figures and their intervals
(pure, numbers only); ``report`` assembles the report card per cut; ``stored``
keeps each backtest and its observations; ``runner`` goes from request to report.
"""
