"""API keys: created once, shown once, stored hashed, revocable.

A key is ``tt_<key_id>_<secret>``. Only the SHA-256 of the secret is stored: the
secret is 32 random bytes, so a fast hash is as safe as a slow one here (there is
nothing to guess), and checking a key costs one primary-key read. A key holds
scopes (``read``, ``ingest``, ``act``, ``admin``; ``admin`` implies the others) and,
optionally, the CSM groups it is limited to; ``csm_groups = None`` sees every group.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Literal

import msgspec

from telltales import clock
from telltales.errors import InputError
from telltales.models import is_blank
from telltales.store import Store
from telltales.store.csm_groups import unknown_group_problem

Scope = Literal["read", "ingest", "act", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "ingest", "act", "admin")
PREFIX = "tt_"
MAX_NAME = 100
MAX_GROUP = 200
NAME_PATTERN = (
    r"^[^\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    r"\ufeff\ufff9-\ufffb]*(?![\s\S])"
)
r"""A key's name: no control character and no invisible formatting one (a zero-width
space, a bidirectional override), which would make a name in a list read as another.
Written so that Python and JSON Schema read it alike (``(?![\s\S])`` ends the text
in both), so the schema states exactly this rule."""
_NAME = re.compile(NAME_PATTERN)


class UnknownKeyError(InputError):
    """A key id that the store does not hold."""


class KeyRevokedError(InputError):
    """The key was revoked already: revoking twice is refused, so a typo is noticed."""


class LastAdminKeyError(InputError):
    """Revoking the last live admin key would leave no key that can manage keys."""


class ApiKey(msgspec.Struct, kw_only=True, frozen=True):
    """What a key may do; never the secret."""

    key_id: str
    name: str
    scopes: frozenset[Scope]
    csm_groups: frozenset[str] | None
    """The groups this key is limited to; None for every group."""
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def sees(self, csm_group: str) -> bool:
        return self.csm_groups is None or csm_group in self.csm_groups


class KeyDescription(msgspec.Struct, kw_only=True):
    """A key as the CLI and the API show it: sorted lists, so the output is stable."""

    key_id: str
    name: str
    scopes: list[Scope]
    csm_groups: list[str] | None
    """The groups the key is limited to; null for every group."""
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


def describe(key: ApiKey) -> KeyDescription:
    return KeyDescription(
        key_id=key.key_id,
        name=key.name,
        scopes=sorted(key.scopes),
        csm_groups=None if key.csm_groups is None else sorted(key.csm_groups),
        created_by=key.created_by,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    store: Store,
    *,
    scopes: Iterable[str],
    csm_groups: Sequence[str] | None = None,
    declared_groups: Collection[str] | None = None,
    name: str = "",
    by: str,
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its token, which is never shown again.

    Where a person names the groups (``telltales keys create``, ``POST /v1/keys``),
    ``declared_groups`` is the configuration's ``[csm_groups.<group>]``, and each of
    ``csm_groups`` must be known (a stored account's, or declared): a key limited to a
    misspelled group would see nothing, and say nothing. None leaves the names
    unchecked, for code that makes keys before any account exists (the test kit).
    """
    wanted = sorted(set(scopes))
    if not wanted:
        raise InputError(
            "a key needs at least one scope (read, ingest, act, admin)", field="scopes"
        )
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise InputError(
            f"unknown scope {unknown[0]!r}: use read, ingest, act or admin", field="scopes"
        )
    groups = sorted(set(csm_groups)) if csm_groups else None
    if groups is not None and "admin" in wanted:
        raise InputError(
            "an admin key sees every CSM group: give it no CSM groups", field="csm_groups"
        )
    if groups is not None and any(is_blank(g) for g in groups):
        raise InputError("a CSM group name cannot be empty", field="csm_groups")
    if groups is not None and any(len(g) > MAX_GROUP for g in groups):
        raise InputError(f"a CSM group name is at most {MAX_GROUP} characters", field="csm_groups")
    unknown_group = (
        None
        if groups is None or declared_groups is None
        else unknown_group_problem(store, groups, declared_groups)
    )
    if unknown_group:
        raise InputError(unknown_group, field="csm_groups")
    if len(name) > MAX_NAME or _NAME.match(name) is None:
        raise InputError(
            f"a key's name is at most {MAX_NAME} characters, none of them a control or "
            "invisible formatting character",
            field="name",
        )
    if not by.strip():
        raise InputError("say who creates the key")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    created = clock.now().replace(microsecond=0)
    with store.transaction() as db:
        db.execute(
            "INSERT INTO api_keys (key_id, secret_hash, name, scopes, csm_groups, created_by,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                key_id,
                _hash(secret),
                name,
                json.dumps(wanted),
                None if groups is None else json.dumps(groups),
                by,
                created.isoformat(),
            ],
        )
    key = ApiKey(
        key_id=key_id,
        name=name,
        scopes=frozenset(wanted),  # type: ignore[arg-type]
        csm_groups=None if groups is None else frozenset(groups),
        created_by=by,
        created_at=created,
    )
    return key, f"{PREFIX}{key_id}_{secret}"


_COLUMNS = "key_id, name, scopes, csm_groups, created_by, created_at, revoked_at"


def _key(row: Sequence[object]) -> ApiKey:
    key_id, name, scopes, groups, by, created, revoked = row
    return ApiKey(
        key_id=str(key_id),
        name=str(name),
        scopes=frozenset(json.loads(str(scopes))),
        csm_groups=None if groups is None else frozenset(json.loads(str(groups))),
        created_by=str(by),
        created_at=datetime.fromisoformat(str(created)),
        revoked_at=None if revoked is None else datetime.fromisoformat(str(revoked)),
    )


def verify_token(store: Store, token: str) -> ApiKey | None:
    """The live key a token belongs to, or None (unknown, malformed or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    key_id, _, secret = token[len(PREFIX) :].partition("_")
    if not key_id or not secret:
        return None
    row = store.db.execute(
        f"SELECT {_COLUMNS}, secret_hash FROM api_keys WHERE key_id = ?", [key_id]
    ).fetchone()
    if row is None or row[6] is not None:
        return None
    if not hmac.compare_digest(str(row[7]), _hash(secret)):
        return None
    return _key(row[:7])


def key_by_id(store: Store, key_id: str) -> ApiKey | None:
    """The key with this id, revoked or not; None if there is none."""
    row = store.db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
    return None if row is None else _key(row)


def list_keys(
    store: Store, *, after: tuple[str, str] | None = None, limit: int | None = None
) -> list[ApiKey]:
    """Keys in the order they were made, revoked ones included (they say when).

    ``after`` is the ``(created_at, key_id)`` of the last key of the previous page.
    """
    where, params = ("WHERE (created_at, key_id) > (?, ?)", list(after)) if after else ("", [])
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM api_keys {where} ORDER BY created_at, key_id LIMIT ?",
        [*params, -1 if limit is None else limit],
    )
    return [_key(row) for row in rows.fetchall()]


def revoke_key(store: Store, key_id: str, *, by: str, keep_an_admin: bool = False) -> ApiKey:
    """Revoke a key; the next request made with it is refused.

    ``keep_an_admin`` refuses to revoke the last live admin key (:class:`LastAdminKeyError`).
    The API passes True: over HTTP nothing could then create another key, and only
    someone on the host could recover. The ``telltales`` command runs on the host, so
    it may (and warns: :func:`live_admin_keys`).
    """
    with store.transaction() as db:
        row = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
        if row is None:
            raise UnknownKeyError(f"no API key {key_id!r}")
        if row[6] is not None:
            raise KeyRevokedError(f"API key {key_id!r} was already revoked at {row[6]}")
        if keep_an_admin and "admin" in _key(row).scopes and live_admin_keys(store) == 1:
            raise LastAdminKeyError(
                f"API key {key_id!r} is the last live admin key: revoking it would leave no "
                "key that can manage keys; create another admin key first (or revoke it "
                "on the host with `telltales keys revoke`)"
            )
        at = clock.now().replace(microsecond=0).isoformat()
        db.execute(
            "UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE key_id = ?",
            [at, by, key_id],
        )
        row = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
    return _key(row)


def live_admin_keys(store: Store) -> int:
    """How many keys hold the admin scope and are not revoked (keys do not expire)."""
    row = store.db.execute(
        "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL "
        "AND EXISTS (SELECT 1 FROM json_each(scopes) WHERE value = 'admin')"
    ).fetchone()
    return int(row[0])
