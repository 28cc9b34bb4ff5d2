"""Which accounts a key may see and write: those of its CSM groups, and no sign of others.

An account of another group answers exactly as a missing one does (404 to a read,
the same 422 to a write naming it), so a key limited to a group cannot learn which
accounts other groups hold. Access is decided first, by the account's group alone,
before anything of the account is read or composed: an answer built and then thrown
away would take measurably longer than a missing account's, and tell the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlite_utils import Database
from telltales.errors import UnknownAccountError
from telltales.store import Store
from telltales.store.keys import ApiKey

from telltales_api.auth import group_clause
from telltales_api.problems import FieldError, ProblemError

MAX_FIELD_ERRORS = 100
"""Records named one by one in a refusal; the detail gives the total."""


def unknown_account(account_id: str) -> UnknownAccountError:
    """The error for an account hidden from the key: word for word a missing one's."""
    return UnknownAccountError(f"unknown account {account_id!r}")


def check_visible(store: Store, key: ApiKey, account_id: str) -> None:
    """A 404 unless the account exists and the key sees its group; one indexed read."""
    clause, params = group_clause(key)
    found = store.db.execute(
        f"SELECT 1 FROM accounts WHERE account_id = ? AND {clause}", [account_id, *params]
    ).fetchone()
    if found is None:
        raise unknown_account(account_id)


def refuse_unwritable_accounts(
    db: Database, key: ApiKey, records: Sequence[Any], field: str, *, creates: bool = False
) -> None:
    """422 naming each record (``{field}[3].account_id``) whose account the key may not
    write: missing, or outside the key's groups, in the same words for both.

    ``creates``: the records are accounts, which a key for every group may create (so
    only a key limited to groups is held to existing accounts).
    """
    limited = key.csm_groups is not None
    if creates and not limited:
        return
    ids = sorted({record.account_id for record in records})
    clause, params = group_clause(key, "a.csm_group")
    missing = {
        row[0]
        for row in db.execute(
            "SELECT j.value FROM json_each(?) j WHERE NOT EXISTS (SELECT 1 FROM accounts a "
            f"WHERE a.account_id = j.value AND {clause})",
            [msgspec.json.encode(ids).decode(), *params],
        )
    }
    if not missing:
        return
    bad = [i for i, record in enumerate(records) if record.account_id in missing]
    if creates:
        detail = (
            f"{len(bad)} account(s) unknown (or of a CSM group this key may not write to); "
            "nothing was stored: a key limited to CSM groups updates its groups' accounts, "
            "and a key for every group creates them"
        )
    else:
        detail = (
            f"{len(bad)} record(s) name an unknown account"
            + (" (or one this key may not write to)" if limited else "")
            + "; nothing was stored (accounts are created with PUT /v1/accounts)"
        )
    raise ProblemError(
        422,
        detail,
        errors=[
            FieldError(
                field=f"{field}[{i}].account_id",
                reason=f"no account {records[i].account_id!r}"
                + (" that this key may write to" if limited else ""),
            )
            for i in bad[:MAX_FIELD_ERRORS]
        ],
    )
