"""The ``contacts`` migrations: person snapshots, meetings and who attended them."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("contacts")


@migrations()
def m001_people_and_meetings(db: Database) -> None:
    # One statement at a time: executescript() would COMMIT the migration's transaction.
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


# Snapshots are keyed by (contact_id, as_of): a person's history only grows, one row
# per day a state took effect. The account index serves the join from the batch and is
# the order in which the signal query walks each person's history; meetings are read
# by account up to the day of the run, attendees by meeting.
_SCHEMA = """
    CREATE TABLE contacts_people (
        contact_id TEXT NOT NULL,
        as_of TEXT NOT NULL,
        account_id TEXT NOT NULL REFERENCES accounts (account_id),
        name TEXT NOT NULL,
        email TEXT,
        title TEXT,
        roles TEXT NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (contact_id, as_of)
    ) WITHOUT ROWID;
    CREATE INDEX contacts_people_account ON contacts_people (account_id, contact_id, as_of);
    CREATE TABLE contacts_meetings (
        meeting_id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts (account_id),
        day TEXT NOT NULL,
        kind TEXT NOT NULL,
        notes TEXT
    );
    CREATE INDEX contacts_meetings_account_day ON contacts_meetings (account_id, day);
    CREATE TABLE contacts_meeting_attendees (
        meeting_id TEXT NOT NULL REFERENCES contacts_meetings (meeting_id),
        contact_id TEXT NOT NULL,
        PRIMARY KEY (meeting_id, contact_id)
    ) WITHOUT ROWID
"""
