"""The records the contacts plugin ingests, and how each is stored idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Literal

import msgspec
from sqlite_utils import Database
from telltales import new_in_batch
from telltales.errors import InputError
from telltales.models import ContactRole, Identifier

ContactStatus = Literal["active", "left"]
MeetingKind = Literal["call", "meeting", "value_review", "business_review", "onsite"]


class Person(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One person at an account as of a day: the state that took effect on ``as_of``.

    ``roles`` and ``status`` have no default on purpose: a snapshot that left them out
    would otherwise read as "lost every role" and raise a false sponsor change.
    """

    contact_id: Identifier
    account_id: Identifier
    as_of: date
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    title: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    roles: Annotated[list[ContactRole], msgspec.Meta(max_length=5)]
    status: ContactStatus


class Meeting(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A call, meeting or review held with one or more people of an account."""

    meeting_id: Identifier
    account_id: Identifier
    day: date
    contact_ids: Annotated[list[Identifier], msgspec.Meta(min_length=1)]
    kind: MeetingKind
    notes: str | None = None


class PeopleIngester:
    """Upserts snapshots by (contact_id, as_of) and never deletes one.

    History is append-only: a new state is a new ``as_of``; re-sending a snapshot
    changes nothing, and a snapshot sent again for the same day with other values is
    a correction of that day.
    """

    name = "contacts.people"
    record_type = Person

    def store(self, db: Database, records: Sequence[Person]) -> int:
        _check_one_account_per_contact(db, records)
        db.conn.executemany(
            """
            INSERT INTO contacts_people
                (contact_id, as_of, account_id, name, email, title, roles, status)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (contact_id, as_of) DO UPDATE SET
                account_id = excluded.account_id, name = excluded.name,
                email = excluded.email, title = excluded.title, roles = excluded.roles,
                status = excluded.status
            """,
            [
                (
                    p.contact_id,
                    p.as_of.isoformat(),
                    p.account_id,
                    p.name,
                    p.email,
                    p.title,
                    msgspec.json.encode(sorted(set(p.roles))).decode(),
                    p.status,
                )
                for p in records
            ],
        )
        return new_in_batch(db, ((p.contact_id, p.as_of) for p in records))


def _check_one_account_per_contact(db: Database, records: Sequence[Person]) -> None:
    """Refuse a person whose snapshots name two accounts.

    A person's history is walked within one account; snapshots at two accounts would
    splice two histories and invent role changes. The error names the snapshot by its
    natural key rather than its index: a large file reaches ``store`` in chunks, and
    an index within the chunk would point at the wrong line. It names only accounts
    the batch itself sent: the account a stored snapshot names may belong to a CSM
    group the sender cannot see (an API key limited to groups), so it is never named.
    """
    owners: dict[str, str] = {}
    for person in records:
        owner = owners.setdefault(person.contact_id, person.account_id)
        if owner != person.account_id:
            raise _two_accounts(person, f"the batch also names it at account {owner!r}")
    stored = db.execute(
        "SELECT DISTINCT contact_id, account_id FROM contacts_people "
        "WHERE contact_id IN (SELECT value FROM json_each(?))",
        [msgspec.json.encode(list(owners)).decode()],
    )
    for contact_id, account_id in stored:
        if owners[contact_id] != account_id:
            person = next(p for p in records if p.contact_id == contact_id)
            raise _two_accounts(person, "its stored snapshots name another account")


def _two_accounts(person: Person, where: str) -> InputError:
    return InputError(
        f"contact {person.contact_id!r}, snapshot of {person.as_of}, field 'account_id': "
        f"{where}, not {person.account_id!r}; a person's snapshots must all name one account"
    )


class MeetingsIngester:
    """Upserts meetings by ``meeting_id``; a re-sent meeting replaces its attendee list."""

    name = "contacts.meetings"
    record_type = Meeting

    def store(self, db: Database, records: Sequence[Meeting]) -> int:
        db.conn.executemany(
            """
            INSERT INTO contacts_meetings (meeting_id, account_id, day, kind, notes)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (meeting_id) DO UPDATE SET
                account_id = excluded.account_id, day = excluded.day, kind = excluded.kind,
                notes = excluded.notes
            """,
            [(m.meeting_id, m.account_id, m.day.isoformat(), m.kind, m.notes) for m in records],
        )
        # The last record of a meeting in the batch wins, as it does for the upsert above.
        latest = {m.meeting_id: m for m in records}
        db.conn.executemany(
            "DELETE FROM contacts_meeting_attendees WHERE meeting_id = ?",
            [(meeting_id,) for meeting_id in latest],
        )
        db.conn.executemany(
            "INSERT OR IGNORE INTO contacts_meeting_attendees (meeting_id, contact_id) "
            "VALUES (?, ?)",
            [(m.meeting_id, contact_id) for m in latest.values() for contact_id in m.contact_ids],
        )
        return new_in_batch(db, ((m.meeting_id,) for m in records))
