"""Make a plugin look installed: a module plus a ``.dist-info`` with the entry point.

Putting the folder on ``sys.path`` (or ``PYTHONPATH`` for a subprocess) is enough for
``importlib.metadata`` to find it, exactly as it finds a pip-installed plugin.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def fake_install(site: Path, plugin: str, source: str, version: str = "0.0.1") -> Path:
    """Write module ``telltales_<plugin>`` and its distribution metadata into ``site``."""
    module = f"telltales_{plugin}"
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    dist = site / f"{module}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: {version}\n"
    )
    (dist / "entry_points.txt").write_text(f"[telltales]\n{plugin} = {module}\n")
    return site


GOOD_PLUGIN = """
    from telltales import BATCH_TABLE, Signal, hookimpl

    class Constant:
        name = "steady"

        def compute(self, batch):
            for (account_id,) in batch.db.execute(f"SELECT account_id FROM {BATCH_TABLE}"):
                yield Signal(account_id=account_id, key="steady.one", value=1,
                             dimension="interest", evidence="always one")

    @hookimpl
    def register_signal_sources(register):
        register(Constant())
"""

BROKEN_ON_IMPORT = """
    raise RuntimeError("vendor SDK missing")
"""

FAILS_AT_RUN = """
    from telltales import hookimpl

    class Flaky:
        name = "flaky"

        def compute(self, batch):
            raise TimeoutError("vendor API did not answer")

    @hookimpl
    def register_signal_sources(register):
        register(Flaky())
"""

RETURNS_OBJECTS = GOOD_PLUGIN.replace("register(Constant())", "return [Constant()]")
"""The good plugin's mistaken twin (issue 16): its hook returns the source instead of
calling ``register``."""

WRONG_SIGNATURE = GOOD_PLUGIN.replace(
    "def register_signal_sources(register):", "def register_signal_sources(register, settings):"
)
"""The good plugin with a parameter its hook does not give (issue 16)."""

CLASHING_MIGRATION = (
    GOOD_PLUGIN.replace("steady", "clash")
    + """
    from sqlite_utils import Migrations

    migrations = Migrations("clash")

    @migrations()
    def m001_tables(db):
        db["clash_notes"].create({"note_id": int}, pk="note_id")
        db["accounts"].create({"account_id": str}, pk="account_id")  # the core's table

    @hookimpl
    def register_migrations(register):
        register(migrations)

    class Note:
        name = "clash.note"
        reaches_customer = False

        def record(self, request):
            return "noted"

    @hookimpl
    def register_playbook_actions(register):
        register(Note())
"""
)
"""A good plugin (source ``clash``, action ``clash.note``) with a migration creating a
table the core already has (issue 16)."""
