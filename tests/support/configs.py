"""Configuration text shared by the outbox tests."""

SHELFWARE = """\
[rules.shelfware]
description = "Fewer than half the purchased seats assigned"
status = "at_risk"
severity = "high"
conditions = [{ signal = "account.seat_deployment", below = 0.5 }]

[rules.score_red]
enabled = false

[playbooks.at_risk_response]
enabled = false
"""
"""One rule (under half the seats assigned: At-Risk), the shipped rule and playbook
that would also act switched off; a test adds its own playbook and settings."""
