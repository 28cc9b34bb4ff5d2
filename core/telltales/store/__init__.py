"""The SQLite file and everything read from or written to it outside the plugins.

``database`` opens, checks and migrates the file; ``queries`` reads accounts,
signals, scores and runs back; ``keys`` holds the API keys; ``processes`` names the
process that holds a claim, so a crashed one can be told from a live one.
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

__all__ = [
    "APPLICATION_ID",
    "DB_ENV",
    "DEFAULT_DB",
    "Store",
    "default_path",
    "is_file_fault",
    "open_store",
]
