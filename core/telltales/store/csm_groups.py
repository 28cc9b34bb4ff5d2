"""Which CSM groups are known, so that a misspelled one is refused, not stored.

A pilot for ``na-enterprize`` enables nothing for nobody, and a key limited to it
sees nothing; neither says so. A group is known when a stored account has it, or
when the configuration declares it with a ``[csm_groups.<group>]`` table (possibly
empty): that is how a group is set up before its accounts arrive, in a reviewed
file rather than by accepting any name. With no account and nothing declared, no
group is known and every name is refused, with what to do about it.

Only admins name groups (``POST /v1/pilots``, ``POST /v1/keys``, the host's CLI),
and an admin sees every group, so listing the known ones reveals nothing hidden.
"""

from __future__ import annotations

from collections.abc import Iterable

from telltales.store import Store


def known_csm_groups(store: Store, declared: Iterable[str]) -> list[str]:
    """The groups of stored accounts and those the configuration declares, sorted."""
    rows = store.db.execute("SELECT DISTINCT csm_group FROM accounts WHERE csm_group != ''")
    return sorted({str(row[0]) for row in rows} | set(declared))


def unknown_group_problem(
    store: Store, groups: Iterable[str], declared: Iterable[str]
) -> str | None:
    """Why the first unknown name in ``groups`` is refused, listing the known ones; or None."""
    wanted = list(groups)
    if not wanted:
        return None
    known = known_csm_groups(store, declared)
    unknown = [group for group in wanted if group not in known]
    if not unknown:
        return None
    if not known:
        return (
            f"no CSM group named {unknown[0]!r}: no group is known yet (no stored account has "
            "one, and the configuration declares none); ingest the accounts first, or declare "
            "the group with a [csm_groups.<group>] table"
        )
    return f"no CSM group named {unknown[0]!r} (known: {', '.join(known)})"
