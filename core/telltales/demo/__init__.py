"""``telltales demo``: a synthetic book of business, replayed through telltales.

world.py holds the accounts and their hidden health, behaviour.py what they do each
week, csms.py the simulated CSMs, replay.py the build, summary.py what is printed.
"""
