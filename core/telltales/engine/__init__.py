"""The daily run and what it leaves behind for readers.

``pipeline`` runs one day for a batch of accounts: every signal source, every
scorer, the rules and statuses, and the playbooks they start. ``health`` reads one
account's health back as of a day: score, status, the reasons and the next action.
Both sit above ``signals`` and ``playbooks`` because they join them.
"""
