"""The histories that the metric tests and the metric command's tests both read.

Each is worked out by hand in its docstring.
"""

from __future__ import annotations

from datetime import date, timedelta

from support.metric_history import MetricHistory


def write_retention_history(history: MetricHistory) -> None:
    """Renewals due in Q1 2026 (ARR before -> after):

    emea  d1 100 -> 130 (expansion: retained 100)
          d2 200 -> 150 (contraction: retained 150)
          d3 100 -> 0   (churn: retained 0)
          d4 100 -> 100 (flat: retained 100)
    amer  g1 100 -> 150 (expansion: retained 100)
    not counted: d5, due 10 April 2026.

    emea: before 500, after 380, retained 350 -> GRR 0.70, NRR 0.76; 3 of 4 renewed.
    amer: before 100, after 150, retained 100 -> GRR 1.0, NRR 1.5 (expansion > 1).
    all:  before 600, after 530, retained 450 -> GRR 0.75, NRR 530/600 = 0.8833.
    """
    for account in ("d1", "d2", "d3", "d4", "d5"):
        history.account(account)
    history.account("g1", csm_group="amer", owner="bob")
    history.renewal("d1", "2026-01-15", 100, 130)
    history.renewal("d2", "2026-02-01", 200, 150)
    history.renewal("d3", "2026-02-15", 100, 0)
    history.renewal("d4", "2026-03-31", 100, 100)
    history.renewal("d5", "2026-04-10", 100, 0)
    history.renewal("g1", "2026-03-01", 100, 150)


def write_risk_reversal_history(history: MetricHistory) -> None:
    """Six risk episodes begin in Q1 2026; as of 31 March (W = 30):

    a1  At-Risk 5 Jan -> Healthy 17 Jan (12 days)                  old enough, reversed
    a2  At-Risk 10 Jan -> Concern 20 Jan -> Healthy 5 Feb (26 days) old enough, reversed
        (At-Risk -> Concern is no reversal; the later Concern -> Healthy is)
    a3  At-Risk 15 Jan -> Concern 25 Jan, and stays                 old enough, not reversed
    a4  At-Risk 1 Feb, an override At-Risk -> At-Risk 10 Feb (no new episode),
        Healthy 20 Mar (47 days)                                    old enough, not reversed
    a5  At-Risk 10 Mar -> Healthy 15 Mar (21 days before as_of)     too young
    b1  (group amer) At-Risk 8 Jan -> Healthy 20 Jan (12 days)      old enough, reversed
    c1  At-Risk 20 Dec 2025 -> Healthy 2 Jan: began before the period, not counted

    6 episodes, 5 old enough, 1 too young, 3 reversed -> 3/5 = 0.6.
    W = 60: old enough if entered by 30 Jan: a1, a2, a3, b1 -> 4 (a4, a5 too young),
    reversed a1, a2, b1 -> 3/4 = 0.75.
    emea only (W = 30): a1..a5: 5 episodes, 4 old enough, 2 reversed -> 0.5.
    """
    for account in ("a1", "a2", "a3", "a4", "a5", "c1"):
        history.account(account)
    history.account("b1", csm_group="amer", owner="bob")
    history.transition("a1", "2025-12-01", "healthy")
    history.transition("a1", "2026-01-05", "at_risk")
    history.transition("a1", "2026-01-17", "healthy")
    history.transition("a2", "2026-01-10", "at_risk")
    history.transition("a2", "2026-01-20", "concern")
    history.transition("a2", "2026-02-05", "healthy")
    history.transition("a3", "2026-01-15", "at_risk")
    history.transition("a3", "2026-01-25", "concern")
    history.transition("a4", "2026-02-01", "at_risk")
    history.transition("a4", "2026-02-10", "at_risk", cause="override")
    history.transition("a4", "2026-03-20", "healthy")
    history.transition("a5", "2026-03-10", "at_risk")
    history.transition("a5", "2026-03-15", "healthy")
    history.transition("b1", "2026-01-08", "at_risk")
    history.transition("b1", "2026-01-20", "healthy")
    history.transition("c1", "2025-12-20", "at_risk")
    history.transition("c1", "2026-01-02", "healthy")


def write_alert_load_history(history: MetricHistory) -> None:
    """Rule hits in the 28 days 2 to 29 March 2026 (4 weeks):

    ann (emea)  8 live firings, 2 shadow firings; also 3 days a rule stayed
                active and 1 day one was pending (not firings); 1 firing on
                1 March, before the period
    bob (emea)  4 live firings
    cy (amer)   4 shadow firings

    Per week: ann 2.0 live, 0.5 shadow; bob 1.0 live; cy 1.0 shadow.
    3 owners: live 12 / 3 / 4 = 1.0 mean, max 2.0 (ann);
              shadow 6 / 3 / 4 = 0.5 mean, max 1.0 (cy).
    emea only: 2 owners, live 12 / 2 / 4 = 1.5, shadow 2 / 2 / 4 = 0.25.
    """
    history.account("f1", owner="ann")
    history.account("f2", owner="bob")
    history.account("f3", owner="cy", csm_group="amer")
    for day in days("2026-03-02", 8):
        history.rule_hit("f1", day, "usage-drop")
    for day in days("2026-03-02", 2):
        history.rule_hit("f1", day, "seats-low", mode="shadow")
    for day in days("2026-03-10", 3):
        history.rule_hit("f1", day, "usage-drop", state="active")
    history.rule_hit("f1", "2026-03-20", "tickets", state="pending")
    history.rule_hit("f1", "2026-03-01", "usage-drop")
    for day in days("2026-03-09", 4):
        history.rule_hit("f2", day, "usage-drop")
    for day in days("2026-03-16", 4):
        history.rule_hit("f3", day, "usage-drop", mode="shadow")


def days(first: str, count: int) -> list[str]:
    start = date.fromisoformat(first)
    return [(start + timedelta(days=n)).isoformat() for n in range(count)]
