"""Bad data files (issue 7, part 7): one clear line, a non-zero exit, nothing changed.

Every command that opens the database, and the API server's start, is given a
database that is truncated (inside the header, mid-page, whole pages short), has its
write-ahead log missing or taken from another database, has a damaged page, is not
SQLite, is another application's, was migrated by newer code, is read-only, sits in
a read-only folder, or is a directory. Each must print one ``Error:`` line naming the
file and the problem, exit 1, and leave every file in the folder byte for byte as it
was. A database damaged deeper (found mid-query) must stop the CLI with one line and
make the server answer a problem detail, not a traceback. A configuration with each
kind of mistake must name the file, the line and the key, and write nothing.

The CLI runs in-process (click's runner) where its exit status and output are what
is tested, and as a subprocess for a few cases to prove no traceback reaches stderr.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.server import free_port, telltales
from telltales.cli import cli
from telltales.config import CONFIG_ENV
from telltales.errors import StoreError
from telltales.store import DB_ENV
from telltales.testing import ApiClient
from telltales_api import create_app
from telltales_api.context import ApiSettings

pytestmark = pytest.mark.reliability

DATA = Path(__file__).parents[2] / "examples" / "data"
ACCOUNTS = DATA / "accounts.json"
USAGE = DATA / "telemetry.usage.jsonl"
PAGE = 4096

COMMANDS: dict[str, list[str]] = {
    "init": ["init"],
    "ingest": ["ingest", "accounts", str(ACCOUNTS)],
    "run": ["run", "--as-of", "2025-03-01"],
    "accounts": ["accounts"],
    "signals": ["signals", "--all"],
    "score": ["score", "northwind"],
    "status": ["status", "northwind"],
    "playbooks": ["playbooks"],
    "tasks": ["tasks", "list"],
    "outbox": ["outbox", "list"],
    "worker": ["worker", "--once"],
    "pilots": ["pilots", "list"],
    "keys-list": ["keys", "list"],
    "keys-create": ["keys", "create", "--scope", "read"],
    "metrics": ["metrics", "alert-load"],
    "serve": ["serve", "--port", str(free_port())],
}
"""Every command that opens the database, with arguments that would otherwise work."""


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def assert_one_error_line(result: Result, *fragments: str, code: int = 1) -> str:
    """Exit ``code``, exactly one ``Error:`` line holding every fragment, no traceback."""
    assert result.exit_code == code, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry of ``folder`` and its bytes' hash: equal before and after, or changed."""
    return {
        entry.name: "folder" if entry.is_dir() else hashlib.sha256(entry.read_bytes()).hexdigest()
        for entry in sorted(folder.iterdir())
    }


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpointed telltales database with accounts, a day of usage and a read key."""
    path = tmp_path_factory.mktemp("pristine") / "telltales.db"
    for args in (
        ["init"],
        ["ingest", "accounts", ACCOUNTS],
        ["ingest", "telemetry.usage", USAGE],
        ["keys", "create", "--scope", "read", "--name", "reader"],
    ):
        result = invoke("--db", path, *args)
        assert result.exit_code == 0, result.output
    (path.parent / "token").write_text(result.stdout.strip())
    assert sorted(p.name for p in path.parent.iterdir()) == ["telltales.db", "token"]
    return path


@pytest.fixture(scope="module")
def foreign_wal(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The write-ahead log of another telltales database, caught before a checkpoint."""
    path = tmp_path_factory.mktemp("other") / "other.db"
    assert invoke("--db", path, "init").exit_code == 0
    with uncheckpointed(path) as conn:
        for n in range(50):
            conn.execute(
                "INSERT INTO accounts (account_id, name, updated_at) VALUES (?, ?, 'now')",
                [f"other-{n}", "o" * (100 * n + 1)],
            )
            conn.commit()
        return Path(f"{path}-wal").read_bytes()


class uncheckpointed:
    """A connection whose commits stay in the ``-wal`` until it is closed: a crash's state."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def page_of(path: Path, table: str) -> int:
    conn = sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True)
    try:
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", [table]
        ).fetchone()
    finally:
        conn.close()
    return int(root)


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as file:
        file.seek(offset)
        file.write(data)


def truncate(path: Path, size: int) -> None:
    with path.open("r+b") as file:
        file.truncate(size)


def wal_missing(db: Path) -> None:
    """Commits left in a ``-wal`` by a crash, then the ``-wal`` deleted: only ``-shm`` stays."""
    scratch = db.parent.parent / "scratch.db"
    shutil.copy(db, scratch)
    with uncheckpointed(scratch) as conn:
        conn.execute("UPDATE accounts SET name = name || ' (renamed)'")
        conn.commit()
        shutil.copy(scratch, db)
        shutil.copy(f"{scratch}-shm", f"{db}-shm")


def foreign_sqlite(db: Path) -> None:
    db.unlink()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE deals (id INTEGER PRIMARY KEY, stage TEXT)")
    conn.commit()
    conn.close()


def migrated_by_newer_code(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('telltales', 'm999_from_the_future', '2030-01-01')"
    )
    conn.commit()
    conn.close()


def directory(db: Path) -> None:
    db.unlink()
    db.mkdir()


def read_only_file(db: Path) -> None:
    db.chmod(0o444)


def read_only_folder(db: Path) -> None:
    db.parent.chmod(0o555)


Damage = Callable[[Path], None]

CASES: dict[str, tuple[Damage, str]] = {
    "cut-in-header": (lambda db: truncate(db, 50), "is truncated: 50 bytes"),
    "cut-mid-page": (
        lambda db: truncate(db, db.stat().st_size - 3 * PAGE - 1000),
        "is not a whole number of 4096-byte pages",
    ),
    "cut-whole-pages": (
        lambda db: truncate(db, db.stat().st_size - 2 * PAGE),
        "but its header counts",
    ),
    "wal-missing": (wal_missing, "-wal is missing, but"),
    "damaged-schema-page": (lambda db: overwrite(db, 100, b"\xff" * 64), "is damaged ("),
    "not-sqlite": (
        lambda db: db.write_text("account_id,name\nnorthwind,Northwind\n" * 200),
        "is not a telltales database: it is not an SQLite file",
    ),
    "foreign-sqlite": (foreign_sqlite, "is an SQLite database but not a telltales one"),
    "newer": (migrated_by_newer_code, "was migrated by newer code"),
    "read-only-file": (read_only_file, "is read-only"),
    "read-only-folder": (read_only_folder, "is read-only, and SQLite must create"),
    "directory": (directory, "is a directory"),
}


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A folder for the database alone (inputs live elsewhere); writable again afterwards."""
    path = tmp_path / "data"
    path.mkdir()
    yield path
    path.chmod(0o755)
    for entry in path.iterdir():
        if entry.is_file():
            entry.chmod(0o644)


def damaged_copy(pristine: Path, folder: Path, case: str, foreign_wal: bytes) -> Path:
    db = folder / "telltales.db"
    shutil.copy(pristine, db)
    if case == "foreign-wal":
        Path(f"{db}-wal").write_bytes(foreign_wal)
    else:
        CASES[case][0](db)
    return db


@pytest.fixture
def no_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` replaces the process with granian once its checks pass: never here."""

    def refuse(*args: object) -> None:
        raise AssertionError("serve got past its checks and would have started granian")

    monkeypatch.setattr(os, "execv", refuse)
    # serve exports the database and configuration for its workers; put them back after.
    monkeypatch.setenv(DB_ENV, "unset")
    monkeypatch.setenv(CONFIG_ENV, "unset")
    monkeypatch.delenv(CONFIG_ENV)


EXPECTED = {case: message for case, (_, message) in CASES.items()}
EXPECTED["foreign-wal"] = "with the write-ahead log"


@pytest.mark.usefixtures("no_exec")
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_every_command_refuses_a_bad_database_file_and_changes_nothing(
    pristine: Path, folder: Path, foreign_wal: bytes, case: str
) -> None:
    db = damaged_copy(pristine, folder, case, foreign_wal)
    before = snapshot(folder)
    for name, args in COMMANDS.items():
        result = invoke("--db", db, *args)
        # click itself refuses a directory for --db, as a usage error (status 2).
        code = 2 if case == "directory" else 1
        line = assert_one_error_line(result, str(db), EXPECTED[case], code=code)
        assert snapshot(folder) == before, f"{name} changed the files: {line}"


@pytest.mark.parametrize("case", ["cut-mid-page", "foreign-wal", "newer", "wal-missing"])
def test_no_traceback_reaches_stderr_of_the_real_command(
    pristine: Path, folder: Path, foreign_wal: bytes, case: str
) -> None:
    db = damaged_copy(pristine, folder, case, foreign_wal)
    before = snapshot(folder)
    done = telltales("--db", db, "run", "--as-of", "2025-03-01")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert EXPECTED[case] in done.stderr
    assert snapshot(folder) == before


@pytest.mark.parametrize("case", ["directory", "foreign-wal", "read-only-folder"])
def test_the_api_app_refuses_to_start_on_a_bad_file(
    pristine: Path, folder: Path, foreign_wal: bytes, case: str
) -> None:
    """The app itself (what each granian worker builds), not only ``serve``'s pre-check."""
    db = damaged_copy(pristine, folder, case, foreign_wal)
    before = snapshot(folder)
    api = ApiClient(lambda: create_app(ApiSettings(db=db)))
    with pytest.raises(BaseException) as raised, api:  # noqa: PT011 - an ExceptionGroup, checked below
        api.client  # noqa: B018 - starting the app opens the database
    assert raised.group_contains(StoreError, match=EXPECTED[case])
    assert snapshot(folder) == before


def damage_accounts_page(db: Path) -> int:
    """Scribble over the root pages of the accounts and of their versions (what reads as
    of a day go through): the file still opens, reads fail. Returns the versions' page."""
    for table in ("accounts", "account_versions"):
        page = page_of(db, table)
        overwrite(db, (page - 1) * PAGE, b"\xff" * 64)
    return page


def page_bytes(db: Path, page: int) -> bytes:
    with db.open("rb") as file:
        file.seek((page - 1) * PAGE)
        return file.read(PAGE)


@pytest.mark.parametrize("command", ["accounts", "signals", "score", "status"])
def test_damage_found_mid_query_is_one_line_and_writes_nothing(
    pristine: Path, folder: Path, command: str
) -> None:
    db = folder / "telltales.db"
    shutil.copy(pristine, db)
    damage_accounts_page(db)
    before = snapshot(folder)
    result = invoke("--db", db, *COMMANDS[command])
    assert_one_error_line(result, str(db), "is damaged (database disk image is malformed)")
    assert snapshot(folder) == before


def test_a_run_on_a_damaged_database_stops_and_leaves_the_damage_as_it_was(
    pristine: Path, folder: Path
) -> None:
    db = folder / "telltales.db"
    shutil.copy(pristine, db)
    page = damage_accounts_page(db)
    damaged = page_bytes(db, page)
    result = invoke("--db", db, *COMMANDS["run"])
    assert_one_error_line(result, str(db), "is damaged")
    assert page_bytes(db, page) == damaged
    assert sorted(p.name for p in folder.iterdir()) == ["telltales.db"]


def test_the_server_answers_a_problem_detail_on_damage_found_mid_query(
    pristine: Path, folder: Path
) -> None:
    db = folder / "telltales.db"
    shutil.copy(pristine, db)
    damage_accounts_page(db)
    before = snapshot(folder)
    token = (pristine.parent / "token").read_text()
    with ApiClient(lambda: create_app(ApiSettings(db=db))) as api:
        response = api.client.get("/v1/accounts", headers=api.headers(token))
        assert response.status_code in (500, 503)
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == response.status_code
        for leak in ("Traceback", "malformed", "sqlite", str(db)):
            assert leak not in response.text
        assert api.client.get("/v1/plugins", headers=api.headers(token)).status_code == 200
    assert snapshot(folder) == before


def test_a_vacuum_into_copy_is_put_in_wal_mode_when_opened(pristine: Path, tmp_path: Path) -> None:
    """docs/operations.md: a ``VACUUM INTO`` copy is written in rollback-journal mode."""
    copy = tmp_path / "compact.db"
    source = sqlite3.connect(f"{pristine.as_uri()}?immutable=1", uri=True)
    source.execute("VACUUM INTO ?", [str(copy)])
    source.close()
    assert journal_mode(copy) == "delete"
    result = invoke("--db", copy, "accounts")
    assert result.exit_code == 0, result.output
    assert "northwind" in result.stdout
    assert journal_mode(copy) == "wal"


def journal_mode(path: Path) -> str:
    """Read from the header (bytes 18-19 are 2 in WAL mode), so that looking changes nothing."""
    with path.open("rb") as file:
        header = file.read(20)
    return "wal" if header[18:20] == b"\x02\x02" else "delete"


def test_a_read_only_file_is_refused_even_for_root(pristine: Path, folder: Path) -> None:
    """The mode bits decide, not whether this user could write anyway."""
    db = folder / "telltales.db"
    shutil.copy(pristine, db)
    db.chmod(stat.S_IRUSR)
    before = snapshot(folder)
    assert_one_error_line(invoke("--db", db, "accounts"), "is read-only")
    assert snapshot(folder) == before


# --- configuration -------------------------------------------------------------------

BAD_CONFIGS: dict[str, tuple[str, int, str]] = {
    # name: (file text, line of the mistake, what the message must name)
    "invalid-toml": ('[rules.x]\ndescription = "unclosed\n', 2, "not valid TOML"),
    "unknown-table": ("[alerts]\n\n[rulez]\nx = 1\n", 3, "rulez"),
    "unknown-key-statuses": ('[statuses]\nhealthy = "OK"\nhealty = "x"\n', 3, "healty"),
    "unknown-key-alerts": ("[alerts]\nmax_runs = 3\n", 2, "max_runs"),
    "unknown-key-outbox": ("[outbox]\nmax_attempts = 3\nretries = 2\n", 3, "retries"),
    "unknown-key-links": ('[links]\naccount_link = "http://x"\n', 2, "account_link"),
    "unknown-key-crm": ('[crm]\nadaptor = "http"\n', 2, "adaptor"),
    "unknown-key-csm-group": ('[csm_groups.emea]\nmanger = "a@b.example"\n', 2, "manger"),
    "unknown-key-rule": (
        '[rules.r]\ndescription = "d"\nstatus = "concern"\nseverity = "low"\nwhen = 1\n'
        'conditions = [{ signal = "telemetry.seat_utilization_30d", below = 0.5 }]\n',
        5,
        "when",
    ),
    "unknown-key-playbook": (
        '[playbooks.p]\non_enter = "at_risk"\nstart = 1\nsteps = [{ action = "task" }]\n',
        3,
        "start",
    ),
    "unknown-key-step": (
        '[playbooks.p]\non_enter = "at_risk"\nsteps = [\n  { action = "task", due = 3 },\n]\n',
        4,
        "due",
    ),
    "unknown-key-scoring": ('[scoring]\ndefault = "dear"\nfallback = "dear"\n', 3, "fallback"),
    "unknown-key-scorecard": (
        '[scoring]\ndefault = "mine"\n\n[scorecards.mine]\nmin_coverage = 0.5\ncolour = 1\n',
        6,
        "colour",
    ),
    "unknown-key-plugin": ("[plugins.telemetry]\nlow_utilisation = 0.4\n", 2, "low_utilisation"),
    "unknown-key-action": ('[actions.email]\nhost = "127.0.0.1"\nhots = "x"\n', 3, "hots"),
    "key-for-a-plugin-without-settings": ("[plugins.account]\nfoo = 1\n", 2, "foo"),
    "wrong-type": ('[outbox]\nmax_attempts = "three"\n', 2, "max_attempts"),
    "wrong-type-plugin": ('[plugins.telemetry]\nlow_utilization = "half"\n', 2, "low_utilization"),
    "out-of-range": ("[outbox]\nmax_attempts = 1000\n", 2, "max_attempts"),
    "out-of-range-plugin": ("[plugins.telemetry]\nlow_utilization = 1.5\n", 2, "low_utilization"),
    "out-of-range-alerts": ("[alerts]\nmax_new_runs_per_csm_per_week = 0\n", 2, "max_new_runs"),
    "rule-on-unknown-signal": (
        '[rules.r]\ndescription = "d"\nstatus = "concern"\n'
        'conditions = [{ signal = "telemetry.seat_utilisation", below = 0.5 }]\n',
        4,
        "[rules.r] condition 1: unknown signal key",
    ),
    "playbook-on-unknown-rule": (
        '[playbooks.p]\non_enter = "at_risk"\nrules = ["nope"]\nsteps = [{ action = "task" }]\n',
        3,
        "nope",
    ),
    "unknown-action": (
        '[playbooks.p]\non_enter = "at_risk"\nsteps = [{ action = "fax" }]\n',
        3,
        "fax",
    ),
    "scoring-unknown-card": ('[scoring]\ndefault = "missing_card"\n', 2, "missing_card"),
    "scorecard-unknown-signal": (
        '[scoring]\ndefault = "mine"\n\n[scorecards.mine.components]\nusage = 1.0\n\n'
        '[[scorecards.mine.measures]]\ncomponent = "usage"\nsignal = "telemetry.nope"\n'
        "weight = 1.0\nlinear = { worst = 0, best = 1 }\n",
        9,
        "telemetry.nope",
    ),
    "unknown-plugin": ("[plugins.salesforce]\ntoken = 1\n", 1, "salesforce"),
    "unknown-action-table": ("[actions.fax]\nnumber = 1\n", 1, "fax"),
    "unknown-crm-adapter": ('[crm]\nadapter = "hubspot"\n', 2, "hubspot"),
}


@pytest.fixture
def config_db(pristine: Path, folder: Path) -> Path:
    db = folder / "telltales.db"
    shutil.copy(pristine, db)
    return db


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_every_configuration_mistake_names_file_line_and_key_and_writes_nothing(
    config_db: Path, tmp_path: Path, case: str
) -> None:
    text, line, key = BAD_CONFIGS[case]
    config = tmp_path / "bad.toml"
    config.write_text(text)
    before = snapshot(config_db.parent)
    result = invoke("--db", config_db, "--config", config, *COMMANDS["run"])
    message = assert_one_error_line(result, str(config), f"line {line}", key)
    assert snapshot(config_db.parent) == before, message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'[statuses]\nhealthy = "OK"\nat_risk = "\xe0 risque"\n',
            "on line 3; save the file as UTF-8",
        ),
        (b'\xef\xbb\xbf[statuses]\nhealthy = "OK"\n', "starts with a byte-order mark (line 1)"),
    ],
)
def test_a_configuration_that_is_not_plain_utf8_names_the_line(
    config_db: Path, tmp_path: Path, data: bytes, message: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_bytes(data)
    before = snapshot(config_db.parent)
    assert_one_error_line(
        invoke("--db", config_db, "--config", config, "run"), str(config), message
    )
    assert snapshot(config_db.parent) == before


def test_a_key_for_an_action_without_settings_is_refused(config_db: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[actions.task]\nfoo = 1\n")
    before = snapshot(config_db.parent)
    result = invoke("--db", config_db, "--config", config, *COMMANDS["run"])
    assert_one_error_line(result, f"{config}, line 2", "foo")
    assert snapshot(config_db.parent) == before


def test_serve_refuses_a_bad_configuration_before_opening_the_database(
    config_db: Path, tmp_path: Path, no_exec: None
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[outbox]\nmax_attempts = 0\n")
    before = snapshot(config_db.parent)
    result = invoke("--db", config_db, "--config", config, "serve", "--port", str(free_port()))
    assert_one_error_line(result, f"{config}, line 2", "max_attempts")
    assert snapshot(config_db.parent) == before
