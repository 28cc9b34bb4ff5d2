"""Which accounts a key may see: those of its CSM groups, and no sign of the others.

An account of another group answers exactly as a missing one does (404, the same
words), so a key limited to a group cannot learn which accounts other groups hold.
"""

from __future__ import annotations

from telltales.errors import UnknownAccountError
from telltales.models import Account
from telltales.store import Store
from telltales.store.keys import ApiKey
from telltales.store.queries import get_account


def unknown_account(account_id: str) -> UnknownAccountError:
    """The error for an account hidden from the key: word for word a missing one's."""
    return UnknownAccountError(f"unknown account {account_id!r}")


def visible_account(store: Store, key: ApiKey, account_id: str) -> Account:
    """The account, if it exists and the key sees its group; else a 404."""
    account = get_account(store, account_id)
    if not key.sees(account.csm_group):
        raise unknown_account(account_id)
    return account
