"""CSV in: the same typed records as JSON, the same errors, by line and field."""

from __future__ import annotations

import io
from datetime import date

import pytest
from telltales.errors import InputError
from telltales.models import Account
from telltales.plugins import Registry
from telltales.signals.csv_records import decode_csv, read_csv_chunks, require_records
from telltales.signals.ingest import decode_records, ingest_chunks, read_chunks
from telltales.store import Store

HEADER = "account_id,name,seats_purchased,arr,renewal_date,core_features,products\n"


def test_cells_become_the_fields_types_and_empty_cells_their_defaults() -> None:
    data = (
        "\ufeff" + HEADER + "acme,Acme,40,1200.5,2027-03-01,reporting;dispatch,\n"
        "\n"
        '"b,c","Bee ""Co""",,,,"[""a"", ""b""]",x\n'
    ).encode()
    first, second = decode_csv(Account, data)
    assert first == Account(
        account_id="acme",
        name="Acme",
        seats_purchased=40,
        arr=1200.5,
        renewal_date=date(2027, 3, 1),
        core_features=["reporting", "dispatch"],
    )
    assert second == Account(
        account_id="b,c", name='Bee "Co"', core_features=["a", "b"], products=["x"]
    )


def test_the_same_record_from_json_and_from_csv(registry: Registry) -> None:
    json_record = decode_records(
        registry,
        "accounts",
        b'[{"account_id": "a", "name": "A", "seats_purchased": 3, "core_features": ["x"]}]',
    )
    csv_record = decode_csv(Account, b"account_id,name,seats_purchased,core_features\na,A,3,x\n")
    assert csv_record == json_record


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            HEADER + "a,A,lots,,,,\n",
            r"^record 1 \(line 2\), field 'seats_purchased': expected `int`, got 'lots'$",
        ),
        (
            HEADER + "a,A,1,,2027-02-30,,\n",
            r"^record 1 \(line 2\), field 'renewal_date': invalid RFC3339",
        ),
        (HEADER + "a,,1,,,,\n", r"^record 1 \(line 2\), field 'name': required field is missing$"),
        (HEADER + "a,A,1\n", r"^record 1 \(line 2\): 3 values for the header's 7 columns$"),
        ("account_id,name,seats\n", r"^line 1: column 'seats' is not a field of these records"),
        ("account_id,name,name\n", r"^line 1: column 'name' appears twice in the header$"),
        ("account_id,,name\n", r"^line 1: column 2 of the header has no name$"),
        (HEADER + 'a,"A\n', r"^line 2: not valid CSV: unexpected end of data$"),
        (HEADER + "a,A,1,,,[x,\n", r"^record 1 \(line 2\), field 'core_features': not valid JSON"),
    ],
)
def test_a_mistake_is_named_by_record_line_and_field(data: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_csv(Account, data.encode())


def test_a_row_spanning_lines_is_named_by_the_line_it_ends_on() -> None:
    data = HEADER + 'a,"A\nsecond line",1,,,,\nb,B,-1,,,,\n'
    with pytest.raises(
        InputError, match=r"^record 2 \(line 4\), field 'seats_purchased': expected `int` >= 0"
    ):
        decode_csv(Account, data.encode())


def test_bytes_that_are_not_utf8_are_named_by_line() -> None:
    with pytest.raises(InputError, match=r"^line 3: not UTF-8 text"):
        decode_csv(Account, HEADER.encode() + b"a,A,1,,,,\nb,\xff,1,,,,\n")


def test_an_invalid_row_in_a_later_chunk_stores_nothing(store: Store, registry: Registry) -> None:
    rows = "".join(f"a{n},A{n},{n},,,,\n" for n in range(5)) + "z,Z,-1,,,,\n"
    stream = io.BytesIO((HEADER + rows).encode())
    with pytest.raises(InputError, match=r"^record 6 \(line 7\), field 'seats_purchased'"):
        ingest_chunks(store, registry, "accounts", read_csv_chunks(Account, stream, size=2))
    assert store.db["accounts"].count == 0


def test_the_callers_stream_stays_open() -> None:
    stream = io.BytesIO((HEADER + "a,A,1,,,,\n").encode())
    assert len([r for chunk in read_csv_chunks(Account, stream) for r in chunk]) == 1
    assert not stream.closed


@pytest.mark.parametrize("data", [b"", b"\n\n", HEADER.encode()])
def test_an_empty_source_is_refused_when_records_are_required(
    store: Store, registry: Registry, data: bytes
) -> None:
    chunks = require_records(read_csv_chunks(Account, io.BytesIO(data)), "the file")
    with pytest.raises(InputError, match=r"^the file holds no records; nothing was stored"):
        ingest_chunks(store, registry, "accounts", chunks)
    assert (
        ingest_chunks(
            store, registry, "accounts", read_csv_chunks(Account, io.BytesIO(data))
        ).stored
        == 0
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (HEADER.encode(), r"^line 1: not JSON but what looks like CSV \('account_id,name,"),
        (b"\n\nhello\n", r"^line 3: not JSON \('hello'\): a JSON array starts with '\['"),
    ],
)
def test_json_that_is_not_json_names_its_format(
    registry: Registry, data: bytes, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        list(read_chunks(registry, "accounts", io.BytesIO(data)))
