"""The core's schema scripts run one whole statement at a time, wherever a ``;`` falls."""

from __future__ import annotations

import sqlite3

import pytest
from sqlite_utils import Database
from telltales.default_plugins.schema import execute_statements, statements

SCRIPT = """
    CREATE TABLE notes (body TEXT NOT NULL DEFAULT 'a; b');
    INSERT INTO notes (body) VALUES ('first; second');  -- a comment; with a semicolon
    CREATE TRIGGER notes_no_delete BEFORE DELETE ON notes
        BEGIN SELECT RAISE(ABORT, 'notes are kept; always'); END;
    INSERT INTO notes DEFAULT VALUES
"""


def test_a_semicolon_in_a_literal_comment_or_trigger_body_ends_no_statement() -> None:
    found = [" ".join(statement.split()) for statement in statements(SCRIPT)]
    assert found == [
        "CREATE TABLE notes (body TEXT NOT NULL DEFAULT 'a; b')",
        "INSERT INTO notes (body) VALUES ('first; second')",
        "-- a comment; with a semicolon CREATE TRIGGER notes_no_delete BEFORE DELETE ON notes "
        "BEGIN SELECT RAISE(ABORT, 'notes are kept; always'); END",
        "INSERT INTO notes DEFAULT VALUES",
    ]


def test_blank_statements_are_left_out() -> None:
    assert list(statements(" ;\n; SELECT 1;; ")) == [" SELECT 1"]


def test_the_statements_run_in_the_callers_transaction() -> None:
    db = Database(memory=True)
    with db.atomic():
        execute_statements(db, SCRIPT)
        assert db.conn.in_transaction
    assert [row["body"] for row in db["notes"].rows] == ["first; second", "a; b"]
    with pytest.raises(sqlite3.IntegrityError, match="notes are kept; always"):
        db.execute("DELETE FROM notes")
