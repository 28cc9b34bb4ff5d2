"""The SQLite file and everything read from or written to it outside the plugins.

``database`` opens, checks and migrates the file; ``plugin_schemas`` applies each
plugin's migrations in a savepoint and leaves out a plugin whose migrations fail;
``queries`` reads accounts, signals, scores and runs back; ``keys`` holds the API
keys; ``csm_groups`` says which CSM groups are known; ``processes`` names the process
that holds a claim, so a crashed one can be told from a live one.
"""

from telltales.store.database import (
    APPLICATION_ID,
    DB_ENV,
    DEFAULT_DB,
    Store,
    default_path,
    is_file_fault,
    open_store,
)
from telltales.store.plugin_schemas import open_for_plugins

__all__ = [
    "APPLICATION_ID",
    "DB_ENV",
    "DEFAULT_DB",
    "Store",
    "default_path",
    "is_file_fault",
    "open_for_plugins",
    "open_store",
]
