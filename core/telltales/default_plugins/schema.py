"""The core schema: accounts, runs, signals, scores; statuses, playbooks, pilots; the API's."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator

from sqlite_utils import Database, Migrations

from telltales.errors import StoreError
from telltales.hookspecs import hookimpl
from telltales.store import APPLICATION_ID

migrations = Migrations("telltales")


def execute_statements(db: Database, script: str) -> None:
    """Run the statements of ``script`` one at a time.

    ``executescript()`` would COMMIT the transaction the migration runs in.
    """
    for statement in statements(script):
        db.execute(statement)


def statements(script: str) -> Iterator[str]:
    """The statements of ``script``, without their ``;``, blank ones left out.

    A ``;`` inside a string literal, a comment or a trigger's body ends no statement,
    so the script is not split at every ``;``: a statement ends at the first ``;``
    where ``sqlite3.complete_statement`` says it is whole.
    """
    start = 0
    end = script.find(";")
    while end >= 0:
        if sqlite3.complete_statement(script[start : end + 1]):
            if script[start:end].strip():
                yield script[start:end]
            start = end + 1
        end = script.find(";", end + 1)
    if script[start:].strip():
        yield script[start:]


@migrations()
def m001_core(db: Database) -> None:
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    execute_statements(db, _CORE_SCHEMA)


_CORE_SCHEMA = """
        CREATE TABLE accounts (
            account_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            owner TEXT NOT NULL DEFAULT '',
            csm_group TEXT NOT NULL DEFAULT '',
            segment TEXT NOT NULL DEFAULT '',
            industry TEXT NOT NULL DEFAULT '',
            employee_count INTEGER,
            arr REAL NOT NULL DEFAULT 0,
            seats_purchased INTEGER NOT NULL DEFAULT 0,
            seats_assigned INTEGER NOT NULL DEFAULT 0,
            products TEXT NOT NULL DEFAULT '[]',
            lifecycle_stage TEXT NOT NULL DEFAULT 'adoption',
            renewal_date TEXT,
            core_features TEXT NOT NULL DEFAULT '[]',
            updated_at TEXT NOT NULL
        );
        CREATE INDEX accounts_csm_group ON accounts (csm_group);
        CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY,
            as_of TEXT NOT NULL,
            status TEXT NOT NULL,
            accounts INTEGER NOT NULL DEFAULT 0,
            signals INTEGER NOT NULL DEFAULT 0,
            scores INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            failures TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE signals (
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            key TEXT NOT NULL,
            as_of TEXT NOT NULL,
            value REAL NOT NULL,
            dimension TEXT NOT NULL,
            source TEXT NOT NULL,
            evidence TEXT NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (account_id, key, as_of)
        ) WITHOUT ROWID;
        CREATE INDEX signals_as_of ON signals (as_of);
        CREATE TABLE scores (
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            scorer TEXT NOT NULL,
            as_of TEXT NOT NULL,
            value REAL,
            grade TEXT NOT NULL,
            label TEXT NOT NULL,
            coverage REAL NOT NULL,
            breakdown TEXT NOT NULL,
            config_id TEXT NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (account_id, scorer, as_of)
        ) WITHOUT ROWID;
        CREATE INDEX scores_as_of ON scores (as_of);
"""


@migrations()
def m002_signals_by_day(db: Database) -> None:
    """Key signals by day first: a run appends one day, so its rows go to the end of the tree.

    Keyed by account first, every run's rows were scattered among all earlier days'
    rows; with a year of history a run's insert was four times slower (measured with
    143,000 signals over 30 stored days: 4.6 s against 1.0 s).
    """
    execute_statements(db, _SIGNALS_BY_DAY)


_SIGNALS_BY_DAY = """
        CREATE TABLE signals_new (
            as_of TEXT NOT NULL,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            key TEXT NOT NULL,
            value REAL NOT NULL,
            dimension TEXT NOT NULL,
            source TEXT NOT NULL,
            evidence TEXT NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (as_of, account_id, key)
        ) WITHOUT ROWID;
        INSERT INTO signals_new (as_of, account_id, key, value, dimension, source, evidence, run_id)
        SELECT as_of, account_id, key, value, dimension, source, evidence, run_id FROM signals;
        DROP TABLE signals;
        ALTER TABLE signals_new RENAME TO signals;
        CREATE INDEX signals_account ON signals (account_id, as_of)
"""


@migrations()
def m003_scores_by_day(db: Database) -> None:
    """Key scores by day first, as signals are (m002), for the same reason and one more.

    A run appends one day of scores, each with a breakdown of a few kilobytes; keyed
    by account first, they were scattered among all earlier days' rows, and with 12
    stored days a day's insert of 50,000 scores took 4.0 s against 2.0 s. The
    health scorer's trend reads two whole days of scores, a range scan this way
    (0.7 s against 1.4 s for 100,000 rows).
    """
    execute_statements(db, _SCORES_BY_DAY)


_SCORES_BY_DAY = """
        CREATE TABLE scores_new (
            as_of TEXT NOT NULL,
            scorer TEXT NOT NULL,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            value REAL,
            grade TEXT NOT NULL,
            label TEXT NOT NULL,
            coverage REAL NOT NULL,
            breakdown TEXT NOT NULL,
            config_id TEXT NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (as_of, scorer, account_id)
        ) WITHOUT ROWID;
        INSERT INTO scores_new (as_of, scorer, account_id, value, grade, label, coverage,
            breakdown, config_id, run_id)
        SELECT as_of, scorer, account_id, value, grade, label, coverage, breakdown, config_id,
            run_id FROM scores;
        DROP TABLE scores;
        ALTER TABLE scores_new RENAME TO scores;
        CREATE INDEX scores_account ON scores (account_id, as_of)
"""


@migrations()
def m004_statuses_playbooks_pilots(db: Database) -> None:
    """Rules, statuses, playbooks, the outbox, tasks and pilots (docs/playbooks.md).

    History tables (transitions, task and pilot events, delivery attempts) refuse
    UPDATE and DELETE in the database itself, so no code path can rewrite them.
    """
    execute_statements(db, _PLAYBOOKS_SCHEMA)
    for table in ("transitions", "task_events", "pilot_events", "delivery_attempts"):
        for verb in ("UPDATE", "DELETE"):
            db.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only history'); END"
            )


_PLAYBOOKS_SCHEMA = """
        ALTER TABLE runs ADD COLUMN actions TEXT;
        CREATE TABLE rule_accounts (
            account_id TEXT PRIMARY KEY REFERENCES accounts (account_id),
            last_day TEXT NOT NULL,
            previous_day TEXT
        );
        CREATE TABLE rule_hits (
            as_of TEXT NOT NULL,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            rule TEXT NOT NULL,
            state TEXT NOT NULL,
            held_since TEXT NOT NULL,
            status TEXT NOT NULL,
            severity TEXT NOT NULL,
            mode TEXT NOT NULL,
            cohort TEXT NOT NULL,
            pilot_id TEXT,
            owner TEXT NOT NULL,
            csm_group TEXT NOT NULL,
            segment TEXT NOT NULL,
            matches TEXT NOT NULL,
            run_id INTEGER NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (as_of, account_id, rule)
        ) WITHOUT ROWID;
        CREATE INDEX rule_hits_account ON rule_hits (account_id, rule, as_of);
        CREATE INDEX rule_hits_fired ON rule_hits (account_id, rule, as_of)
            WHERE state = 'fired';
        CREATE TABLE overrides (
            override_id INTEGER PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            status TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ended_at TEXT,
            end_reason TEXT
        );
        CREATE INDEX overrides_open ON overrides (account_id) WHERE ended_at IS NULL;
        CREATE TABLE transitions (
            transition_id INTEGER PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            as_of TEXT NOT NULL,
            at TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT NOT NULL,
            cause TEXT NOT NULL,
            rules TEXT NOT NULL DEFAULT '[]',
            evidence TEXT NOT NULL,
            override_id INTEGER REFERENCES overrides (override_id),
            run_id INTEGER REFERENCES runs (run_id),
            cohort TEXT NOT NULL DEFAULT 'none',
            pilot_id TEXT,
            owner TEXT NOT NULL DEFAULT '',
            csm_group TEXT NOT NULL DEFAULT '',
            segment TEXT NOT NULL DEFAULT '',
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX transitions_account ON transitions (account_id, as_of, transition_id);
        CREATE INDEX transitions_as_of ON transitions (as_of);
        CREATE TABLE pilots (
            pilot_id TEXT PRIMARY KEY,
            description TEXT NOT NULL DEFAULT '',
            csm_groups TEXT NOT NULL,
            rules TEXT NOT NULL,
            playbooks TEXT NOT NULL,
            starts_on TEXT NOT NULL,
            holdout_share REAL NOT NULL,
            state TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE pilot_events (
            event_id INTEGER PRIMARY KEY,
            pilot_id TEXT NOT NULL REFERENCES pilots (pilot_id),
            event TEXT NOT NULL,
            at TEXT NOT NULL,
            by TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE playbook_runs (
            playbook_run_id INTEGER PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            playbook TEXT NOT NULL,
            transition_id INTEGER NOT NULL REFERENCES transitions (transition_id),
            as_of TEXT NOT NULL,
            started_at TEXT NOT NULL,
            mode TEXT NOT NULL,
            state TEXT NOT NULL,
            cohort TEXT NOT NULL,
            pilot_id TEXT,
            owner TEXT NOT NULL,
            csm_group TEXT NOT NULL,
            segment TEXT NOT NULL,
            status TEXT NOT NULL,
            rules TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            acknowledged_at TEXT,
            closed_at TEXT,
            UNIQUE (transition_id, playbook)
        );
        CREATE INDEX playbook_runs_account ON playbook_runs (account_id, playbook, state);
        CREATE INDEX playbook_runs_open ON playbook_runs (account_id, playbook)
            WHERE state = 'open';
        CREATE INDEX playbook_runs_owner ON playbook_runs (owner, mode, as_of);
        CREATE TABLE deliveries (
            delivery_id INTEGER PRIMARY KEY,
            playbook_run_id INTEGER NOT NULL REFERENCES playbook_runs (playbook_run_id),
            step INTEGER NOT NULL,
            action TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            payload TEXT NOT NULL,
            params TEXT NOT NULL,
            status TEXT NOT NULL,
            needs_approval INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            claimed_until TEXT,
            detail TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            finished_at TEXT,
            UNIQUE (playbook_run_id, step)
        );
        CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
        CREATE TABLE delivery_attempts (
            delivery_id INTEGER NOT NULL REFERENCES deliveries (delivery_id),
            attempt INTEGER NOT NULL,
            at TEXT NOT NULL,
            delivered INTEGER NOT NULL,
            detail TEXT NOT NULL,
            PRIMARY KEY (delivery_id, attempt)
        );
        CREATE TABLE tasks (
            task_id INTEGER PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            playbook_run_id INTEGER REFERENCES playbook_runs (playbook_run_id),
            delivery_id INTEGER REFERENCES deliveries (delivery_id),
            step INTEGER NOT NULL DEFAULT 0,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            assignee TEXT NOT NULL,
            due_on TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE
        );
        CREATE INDEX tasks_assignee ON tasks (assignee, state);
        CREATE INDEX tasks_account ON tasks (account_id, state);
        CREATE INDEX tasks_run ON tasks (playbook_run_id);
        CREATE TABLE task_events (
            event_id INTEGER PRIMARY KEY,
            task_id INTEGER NOT NULL REFERENCES tasks (task_id),
            state TEXT NOT NULL,
            by TEXT NOT NULL,
            at TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX task_events_task ON task_events (task_id);
        CREATE TABLE renewal_flags (
            flag_id INTEGER PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            renewal_date TEXT NOT NULL,
            flag TEXT NOT NULL,
            playbook_run_id INTEGER REFERENCES playbook_runs (playbook_run_id),
            flagged_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            evidence TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE
        );
        CREATE INDEX renewal_flags_account ON renewal_flags (account_id, renewal_date)
"""


@migrations()
def m005_renewals_keys_requests(db: Database) -> None:
    """Renewal outcomes, API keys and the replay record of idempotent API requests.

    ``renewal_revisions`` keeps every version of a renewal ever recorded (append-only);
    ``renewals`` holds the one in force. Imported transitions get a partial unique
    index so re-importing the same history adds nothing.
    """
    execute_statements(db, _API_SCHEMA)
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER renewal_revisions_no_{verb.lower()} BEFORE {verb} "
            f"ON renewal_revisions "
            f"BEGIN SELECT RAISE(ABORT, 'renewal_revisions is append-only history'); END"
        )


_API_SCHEMA = """
        CREATE TABLE renewals (
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            renewal_date TEXT NOT NULL,
            arr_before REAL NOT NULL,
            arr_after REAL NOT NULL,
            discount_percent REAL NOT NULL,
            outcome TEXT NOT NULL,
            owner TEXT NOT NULL,
            csm_group TEXT NOT NULL,
            segment TEXT NOT NULL,
            cohort TEXT NOT NULL,
            pilot_id TEXT,
            source TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            PRIMARY KEY (account_id, renewal_date)
        );
        CREATE INDEX renewals_date ON renewals (renewal_date);
        CREATE TABLE renewal_revisions (
            revision_id INTEGER PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            renewal_date TEXT NOT NULL,
            arr_before REAL NOT NULL,
            arr_after REAL NOT NULL,
            discount_percent REAL NOT NULL,
            outcome TEXT NOT NULL,
            source TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            recorded_by TEXT NOT NULL
        );
        CREATE INDEX renewal_revisions_account ON renewal_revisions (account_id, renewal_date);
        CREATE UNIQUE INDEX transitions_imported ON transitions (account_id, as_of, at, to_status)
            WHERE cause = 'imported';
        CREATE INDEX transitions_to_status ON transitions (to_status, as_of);
        CREATE INDEX playbook_runs_as_of ON playbook_runs (as_of);
        CREATE TABLE api_keys (
            key_id TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL,
            name TEXT NOT NULL,
            scopes TEXT NOT NULL,
            csm_groups TEXT,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            revoked_by TEXT
        );
        CREATE TABLE api_requests (
            key_id TEXT NOT NULL REFERENCES api_keys (key_id),
            idempotency_key TEXT NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            status_code INTEGER,
            content_type TEXT,
            body BLOB,
            created_at TEXT NOT NULL,
            finished_at TEXT,
            PRIMARY KEY (key_id, idempotency_key)
        ) WITHOUT ROWID
"""


@migrations()
def m006_process_owners(db: Database) -> None:
    """Which process a run, or an API request in flight, is in: so that one a kill
    interrupted is shown as such, and a retry of the request can take it over."""
    db.execute("ALTER TABLE runs ADD COLUMN process TEXT")
    db.execute("ALTER TABLE api_requests ADD COLUMN claimed_by TEXT")


@migrations()
def m007_history_account_versions(db: Database) -> None:
    """Valid time for accounts: every version kept, each from the day it became true.

    ``account_versions`` holds every version of every account, keyed by the day it took
    effect (``as_of``); ``accounts`` keeps one row per account (what every foreign key
    points at) holding its latest version. The contract and lifecycle fields arrive on
    both. An account stored before this migration becomes one version valid from
    1900-01-01 (``FIRST_DAY``): it is the only state telltales kept, and every run made
    before the upgrade read it, so a replay after the upgrade reads what they read
    (docs/time.md#upgrading-a-database-from-before-versions).
    """
    for column, declaration in _CONTRACT_COLUMNS:
        db.execute(f"ALTER TABLE accounts ADD COLUMN {column} {declaration}")
    execute_statements(db, _ACCOUNT_VERSIONS)


_CONTRACT_COLUMNS = (
    ("as_of", "TEXT NOT NULL DEFAULT '1900-01-01'"),
    ("customer_since", "TEXT"),
    ("lifecycle", "TEXT NOT NULL DEFAULT 'active'"),
    ("term_start", "TEXT"),
    ("term_end", "TEXT"),
    ("billing_period_months", "INTEGER"),
    ("mrr", "REAL"),
    ("list_price", "REAL"),
    ("discount_percent", "REAL"),
    ("plan", "TEXT NOT NULL DEFAULT ''"),
    ("auto_renew", "INTEGER"),
)

_ACCOUNT_VERSIONS = """
        CREATE TABLE account_versions (
            account_id TEXT NOT NULL REFERENCES accounts (account_id),
            as_of TEXT NOT NULL,
            name TEXT NOT NULL,
            owner TEXT NOT NULL DEFAULT '',
            csm_group TEXT NOT NULL DEFAULT '',
            segment TEXT NOT NULL DEFAULT '',
            industry TEXT NOT NULL DEFAULT '',
            employee_count INTEGER,
            arr REAL NOT NULL DEFAULT 0,
            seats_purchased INTEGER NOT NULL DEFAULT 0,
            seats_assigned INTEGER,
            products TEXT NOT NULL DEFAULT '[]',
            lifecycle_stage TEXT NOT NULL DEFAULT 'adoption',
            renewal_date TEXT,
            core_features TEXT NOT NULL DEFAULT '[]',
            customer_since TEXT,
            lifecycle TEXT NOT NULL DEFAULT 'active',
            term_start TEXT,
            term_end TEXT,
            billing_period_months INTEGER,
            mrr REAL,
            list_price REAL,
            discount_percent REAL,
            plan TEXT NOT NULL DEFAULT '',
            auto_renew INTEGER,
            source TEXT NOT NULL DEFAULT 'ingest',
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (account_id, as_of)
        ) WITHOUT ROWID;
        INSERT INTO account_versions (account_id, as_of, name, owner, csm_group, segment,
            industry, employee_count, arr, seats_purchased, seats_assigned, products,
            lifecycle_stage, renewal_date, core_features, source, recorded_at)
        SELECT account_id, '1900-01-01', name, owner, csm_group, segment, industry,
            employee_count, arr, seats_purchased, seats_assigned, products, lifecycle_stage,
            renewal_date, core_features, 'migration', updated_at
        FROM accounts
"""


@migrations()
def m008_seats_assigned_unknown(db: Database) -> None:
    """Let ``accounts.seats_assigned`` be NULL: not reported is unknown, not 0.

    SQLite cannot drop a NOT NULL constraint with ALTER TABLE, and rebuilding
    ``accounts`` inside the migration's transaction would break every foreign key
    that names it. Removing a NOT NULL constraint does not change how rows are
    stored, so the table's schema text is edited in place, by SQLite's documented
    procedure for such changes (https://sqlite.org/lang_altertable.html#otheralter):
    bump ``schema_version``, check integrity. Stored zeros stay zeros: whether a 0
    meant "none" or "not reported" cannot be told afterwards.
    """
    (sql,) = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'accounts'"
    ).fetchone()
    nullable = _NOT_NULL_SEATS.sub("seats_assigned INTEGER", sql, count=1)
    if nullable == sql:
        return  # already nullable
    (version,) = db.execute("PRAGMA schema_version").fetchone()
    db.execute("PRAGMA writable_schema = ON")
    try:
        db.execute(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'accounts'",
            [nullable],
        )
        db.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        db.execute("PRAGMA writable_schema = OFF")
    (check,) = db.execute("PRAGMA integrity_check(1)").fetchone()
    if check != "ok":
        raise StoreError(f"accounts.seats_assigned could not be made nullable: {check}")


@migrations()
def m009_run_freshness(db: Database) -> None:
    """What each run knew of its sources' freshness: every declaring source's latest
    day over all accounts and its limit (JSON), so a stale run says which and how old,
    and an account's health shows what its score stood on."""
    db.execute("ALTER TABLE runs ADD COLUMN freshness TEXT NOT NULL DEFAULT '[]'")


@migrations()
def m010_corrections(db: Database) -> None:
    """Corrections: runs undone from a day onward, who did it, and every row removed.

    The append-only history tables keep refusing DELETE, except while a correction
    is being applied: its row is ``applying`` only inside its own transaction, so no
    other writer ever sees that state (telltales.engine.corrections).
    """
    execute_statements(db, _CORRECTIONS_SCHEMA)
    for table in ("transitions", "task_events", "delivery_attempts"):
        db.execute(f"DROP TRIGGER {table}_no_delete")
        db.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "WHEN NOT EXISTS (SELECT 1 FROM corrections WHERE state = 'applying') "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only history'); END"
        )
    for table in ("corrections", "correction_rows"):
        db.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only history'); END"
        )
    db.execute(
        "CREATE TRIGGER correction_rows_no_update BEFORE UPDATE ON correction_rows "
        "BEGIN SELECT RAISE(ABORT, 'correction_rows is append-only history'); END"
    )


_CORRECTIONS_SCHEMA = """
        CREATE TABLE corrections (
            correction_id INTEGER PRIMARY KEY,
            from_day TEXT NOT NULL,
            by TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL,
            state TEXT NOT NULL,
            removed TEXT NOT NULL
        );
        CREATE TABLE correction_rows (
            correction_id INTEGER NOT NULL REFERENCES corrections (correction_id),
            table_name TEXT NOT NULL,
            row TEXT NOT NULL
        );
        CREATE INDEX correction_rows_correction ON correction_rows (correction_id, table_name)
"""


@migrations()
def m011_backtests(db: Database) -> None:
    """Backtests: each report card as it was computed, and the observations it judged.

    A backtest is written once: its row while it runs, its report (or its error) when
    it ends, and then never again; its observations never change. Triggers refuse
    every other UPDATE and every DELETE (docs/backtest.md).
    """
    execute_statements(db, _BACKTESTS_SCHEMA)
    for table in ("backtests", "backtest_observations"):
        db.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only history'); END"
        )
    db.execute(
        "CREATE TRIGGER backtest_observations_no_update BEFORE UPDATE ON backtest_observations "
        "BEGIN SELECT RAISE(ABORT, 'backtest_observations is append-only history'); END"
    )
    db.execute(
        "CREATE TRIGGER backtests_finished_once BEFORE UPDATE ON backtests "
        "WHEN OLD.state != 'running' "
        "BEGIN SELECT RAISE(ABORT, 'a finished backtest is never rewritten'); END"
    )


@migrations()
def m012_backtest_measure_values(db: Database) -> None:
    """Each observation keeps the values of the measured signals it was scored from.

    A learned card (``telltales scorecards fit``) is fitted from these: the points of
    each measure on each day. Backtests stored before have none (NULL), and fitting
    from them is refused with the reason.
    """
    db.execute("ALTER TABLE backtest_observations ADD COLUMN measure_values TEXT")


_BACKTESTS_SCHEMA = """
        CREATE TABLE backtests (
            backtest_id INTEGER PRIMARY KEY,
            state TEXT NOT NULL,
            settings TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            process TEXT,
            error TEXT,
            report TEXT
        );
        CREATE TABLE backtest_observations (
            backtest_id INTEGER NOT NULL REFERENCES backtests (backtest_id),
            account_id TEXT NOT NULL,
            day TEXT NOT NULL,
            owner TEXT NOT NULL,
            csm_group TEXT NOT NULL,
            segment TEXT NOT NULL,
            outcome INTEGER,
            outcome_day TEXT,
            scores TEXT NOT NULL,
            grades TEXT NOT NULL,
            rules TEXT NOT NULL,
            fired TEXT NOT NULL,
            status TEXT NOT NULL,
            PRIMARY KEY (backtest_id, account_id, day)
        ) WITHOUT ROWID
"""


@migrations()
def m013_page_sessions(db: Database) -> None:
    """Sessions of the CSM's pages: a key exchanged for a cookie (store/sessions.py).

    Only the token's hash is kept. A session is ended (``ended_at``) rather than
    deleted, so who was signed in when stays on record.
    """
    execute_statements(
        db,
        """
        CREATE TABLE page_sessions (
            token_hash TEXT PRIMARY KEY,
            key_id TEXT NOT NULL REFERENCES api_keys (key_id),
            csrf_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ended_at TEXT
        ) WITHOUT ROWID;
        CREATE INDEX page_sessions_key ON page_sessions (key_id)
""",
    )


@migrations()
def m014_backtest_renewal_days(db: Database) -> None:
    """Each backtest observation's days to the account's renewal as known that day, for
    the report card's days-to-renewal baseline (none for observations stored before)."""
    db.execute("ALTER TABLE backtest_observations ADD COLUMN days_to_renewal INTEGER")


_NOT_NULL_SEATS = re.compile(r"seats_assigned\s+INTEGER\s+NOT\s+NULL\s+DEFAULT\s+0", re.I)


@hookimpl
def register_migrations(register: Callable[[Migrations], None]) -> None:
    register(migrations)
