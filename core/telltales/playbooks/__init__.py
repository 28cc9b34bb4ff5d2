"""From scores and signals to action: what holds, what changes, and who does what.

``rules`` and ``statuses`` decide an account's health status and record its
transitions; ``plan`` is the checked configuration of rules, playbooks and their
steps (``steps``); ``launch`` starts a playbook run (``runs``) when an account
enters a status; ``outbox`` delivers its actions once each; ``tasks`` is the work
they give people; ``pilots`` decides which groups act live, which are held out and
which run in shadow.
"""
