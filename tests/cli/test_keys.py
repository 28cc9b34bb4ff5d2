"""``telltales keys``: a token is printed once, stored hashed, listed never, revocable."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from telltales.cli import cli
from telltales.plugins import load_registry
from telltales.store import open_store
from telltales.store.keys import ApiKey, verify_token

ACCOUNTS = Path(__file__).parents[2] / "examples" / "data" / "accounts.json"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    assert invoke("--db", path, "init").exit_code == 0
    return path


def live_key(db: Path, token: str) -> ApiKey | None:
    registry = load_registry(use_entry_points=False)
    with open_store(db, [e.obj for e in registry.migrations.values()]) as store:
        return verify_token(store, token)


@pytest.fixture
def emea(tmp_path: Path) -> Path:
    """A configuration that declares CSM group ``emea`` (no account has it yet)."""
    path = tmp_path / "telltales.toml"
    path.write_text('[csm_groups.emea]\nmanager = "mia@vendor.example"\n')
    return path


def test_create_prints_the_token_alone_and_says_it_is_shown_once(db: Path, emea: Path) -> None:
    result = invoke(
        "--db", db, "--config", emea, "keys", "create", "--scope", "read", "--scope", "act",
        "--csm-group", "emea", "--name", "crm-sync",
    )  # fmt: skip
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert token.startswith("tt_")
    assert "\n" not in token
    assert "shown once" in result.stderr
    assert "act, read; emea" in result.stderr
    key = live_key(db, token)
    assert key is not None
    assert key.scopes == frozenset({"read", "act"})
    assert key.csm_groups == frozenset({"emea"})
    assert key.name == "crm-sync"


def test_the_token_is_stored_hashed_and_never_listed(db: Path) -> None:
    token = invoke("--db", db, "keys", "create", "--scope", "admin").stdout.strip()
    secret = token.split("_", 2)[2]
    with sqlite3.connect(db) as conn:
        stored = " ".join(str(v) for row in conn.execute("SELECT * FROM api_keys") for v in row)
    assert secret not in stored
    for args in (("keys", "list"), ("keys", "list", "--json")):
        listed = invoke("--db", db, *args)
        assert listed.exit_code == 0
        assert secret not in listed.output
    (entry,) = json.loads(invoke("--db", db, "keys", "list", "--json").stdout)
    assert entry["scopes"] == ["admin"]
    assert entry["csm_groups"] is None
    assert entry["created_by"].startswith("cli")
    assert entry["revoked_at"] is None
    assert set(entry) == {
        "key_id",
        "name",
        "scopes",
        "csm_groups",
        "created_by",
        "created_at",
        "revoked_at",
    }


def test_create_as_json_has_the_key_and_its_token(db: Path) -> None:
    result = invoke(
        "--db", db, "keys", "create", "--scope", "ingest", "--by", "ops@vendor.example", "--json"
    )
    payload = json.loads(result.stdout)
    assert payload["key"]["scopes"] == ["ingest"]
    assert payload["key"]["created_by"] == "ops@vendor.example"
    assert payload["token"].startswith(f"tt_{payload['key']['key_id']}_")
    assert live_key(db, payload["token"]) is not None


def test_revoke_takes_effect_at_once_and_twice_is_refused(db: Path) -> None:
    token = invoke("--db", db, "keys", "create", "--scope", "read").stdout.strip()
    key_id = token.split("_")[1]
    result = invoke("--db", db, "keys", "revoke", key_id)
    assert result.exit_code == 0
    assert f"Revoked API key {key_id}" in result.output
    assert live_key(db, token) is None
    listed = invoke("--db", db, "keys", "list").stdout
    assert "revoked" in listed
    again = invoke("--db", db, "keys", "revoke", key_id)
    assert again.exit_code == 1
    assert again.output.startswith(f"Error: API key '{key_id}' was already revoked")
    unknown = invoke("--db", db, "keys", "revoke", "nosuchkey")
    assert unknown.exit_code == 1
    assert "Error: no API key 'nosuchkey'" in unknown.output


def test_the_host_may_revoke_the_last_admin_key_and_is_warned(db: Path) -> None:
    """The API refuses it (only the host could recover); the command is the host."""
    first = invoke("--db", db, "keys", "create", "--scope", "admin").stdout.strip()
    second = invoke("--db", db, "keys", "create", "--scope", "admin").stdout.strip()
    revoked = invoke("--db", db, "keys", "revoke", first.split("_")[1])
    assert revoked.exit_code == 0
    assert "Warning" not in revoked.stderr  # another admin key is live
    last = invoke("--db", db, "keys", "revoke", second.split("_")[1])
    assert last.exit_code == 0
    assert live_key(db, second) is None
    assert last.stderr == (
        "Warning: no live admin key is left, so no key can manage keys over the API; "
        "create one with `telltales keys create --scope admin`\n"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--scope", "admin", "--csm-group", "emea"), 1, "an admin key sees every CSM group"),
        (("--scope", "read", "--csm-group", " "), 1, "a CSM group name cannot be empty"),
        (
            (
                "--scope",
                "owner",
            ),
            2,
            "'owner' is not one of 'read', 'ingest', 'act', 'admin'",
        ),
        ((), 2, "Missing option '--scope'"),
        (("--scope", "read", "--name", "x" * 101), 1, "at most 100 characters, none of them"),
    ],
)
def test_mistakes_are_one_line_and_store_nothing(
    db: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    result = invoke("--db", db, "keys", "create", *args)
    assert result.exit_code == code
    assert message in result.output
    assert json.loads(invoke("--db", db, "keys", "list", "--json").stdout) == []


def test_keys_need_an_existing_database(tmp_path: Path) -> None:
    result = invoke("--db", tmp_path / "none.db", "keys", "create", "--scope", "read")
    assert result.exit_code == 1
    assert "Error: no telltales database" in result.output


def key_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        found: int = conn.execute("SELECT count(*) FROM api_keys").fetchone()[0]
    return found


def test_a_misspelled_csm_group_is_refused_listing_the_known_ones(db: Path, emea: Path) -> None:
    create = ("keys", "create", "--scope", "read", "--csm-group")
    empty = invoke("--db", db, *create, "na-enterprize")
    assert (empty.exit_code, empty.stderr.strip()) == (
        1,
        "Error: no CSM group named 'na-enterprize': no group is known yet (no stored account "
        "has one, and the configuration declares none); ingest the accounts first, or declare "
        "the group with a [csm_groups.<group>] table",
    )
    assert invoke("--db", db, "ingest", "accounts", ACCOUNTS).exit_code == 0
    typo = invoke(
        "--db", db, "--config", emea, *create, "na-enterprise", "--csm-group", "na-enterprize"
    )  # fmt: skip
    assert (typo.exit_code, typo.stderr.strip()) == (
        1,
        "Error: no CSM group named 'na-enterprize' (known: apac-midmarket, emea, "
        "emea-midmarket, emea-smb, na-enterprise, na-smb)",
    )
    assert key_count(db) == 0
    assert invoke("--db", db, *create, "na-enterprise").exit_code == 0  # an account's group
