"""Ingestion: validated whole, stored whole or not at all, idempotent."""

from __future__ import annotations

import io
import json

import pytest
from telltales.errors import InputError
from telltales.plugins import Registry
from telltales.signals.ingest import decode_records, ingest, ingest_chunks, read_chunks
from telltales.store import Store


def test_accounts_ingest_twice_changes_nothing(
    store: Store, registry: Registry, example_accounts: list[dict[str, object]]
) -> None:
    data = json.dumps(example_accounts).encode()
    for _ in range(2):
        ingest(store, registry, "accounts", decode_records(registry, "accounts", data))
    assert store.db["accounts"].count == len(example_accounts)


def test_an_update_replaces_the_account(store: Store, registry: Registry) -> None:
    first = b'[{"account_id": "a", "name": "A", "seats_purchased": 10}]'
    second = b'[{"account_id": "a", "name": "A", "seats_purchased": 25}]'
    ingest(store, registry, "accounts", decode_records(registry, "accounts", first))
    ingest(store, registry, "accounts", decode_records(registry, "accounts", second))
    assert store.db["accounts"].get("a")["seats_purchased"] == 25


def test_an_invalid_record_names_index_and_field_and_stores_nothing(
    store: Store, registry: Registry
) -> None:
    data = json.dumps(
        [
            {"account_id": "ok", "name": "Fine"},
            {"account_id": "bad", "name": "Bad", "seats_purchased": -3},
        ]
    ).encode()
    with pytest.raises(
        InputError, match=r"^record 2, field 'seats_purchased': expected `int` >= 0$"
    ):
        decode_records(registry, "accounts", data)
    assert store.db["accounts"].count == 0


def test_json_lines_errors_name_the_record_and_the_line_after_a_blank_one(
    registry: Registry,
) -> None:
    data = b'{"account_id": "a", "name": "A"}\n\n{"account_id": "b", "name": "B", "arr": "lots"}\n'
    with pytest.raises(
        InputError, match=r"^record 2 \(line 3\), field 'arr': expected `float`, got `str`$"
    ):
        decode_records(registry, "accounts", data)


def test_unknown_fields_and_bad_json_are_refused(registry: Registry) -> None:
    with pytest.raises(InputError, match="record 1, field 'seats': unknown field"):
        decode_records(registry, "accounts", b'[{"account_id": "a", "name": "A", "seats": 3}]')
    with pytest.raises(InputError, match="not valid JSON"):
        decode_records(registry, "accounts", b'[{"account_id": "a",')


def test_too_many_core_features_are_refused(registry: Registry) -> None:
    record = {"account_id": "a", "name": "A", "core_features": list("abcdef")}
    with pytest.raises(InputError, match="field 'core_features': expected `array` of length <= 5"):
        decode_records(registry, "accounts", json.dumps([record]).encode())


def test_an_unknown_ingester_lists_the_known_ones(registry: Registry) -> None:
    with pytest.raises(
        InputError, match="no ingester named 'usage'; installed ingesters: accounts"
    ):
        decode_records(registry, "usage", b"[]")


def test_a_store_that_fails_midway_rolls_back(store: Store, registry: Registry) -> None:
    records = decode_records(registry, "accounts", b'[{"account_id": "a", "name": "A"}]')
    ingester = registry.ingesters["accounts"].obj
    original = ingester.store

    def explode(db: object, batch: object) -> int:
        original(db, batch)  # type: ignore[arg-type]
        raise OSError("disk full")

    ingester.store = explode  # type: ignore[method-assign]
    try:
        with pytest.raises(OSError, match="disk full"):
            ingest(store, registry, "accounts", records)
    finally:
        ingester.store = original  # type: ignore[method-assign]
    assert store.db["accounts"].count == 0


def _accounts_jsonl(*lines: str) -> io.BytesIO:
    return io.BytesIO("\n".join(lines).encode())


def test_streamed_json_lines_skip_blank_lines_and_count_them(
    store: Store, registry: Registry
) -> None:
    good = json.dumps({"account_id": "a1", "name": "Alpha"})
    bad = json.dumps({"account_id": "a2", "name": "Beta", "arr": "lots"})
    stream = _accounts_jsonl("", "", good, "", bad)
    with pytest.raises(
        InputError, match=r"^record 2 \(line 5\), field 'arr': expected `float`, got `str`$"
    ):
        ingest_chunks(store, registry, "accounts", read_chunks(registry, "accounts", stream))
    assert store.db["accounts"].count == 0
    stream = _accounts_jsonl("", good, "", json.dumps({"account_id": "a2", "name": "Beta"}), "")
    chunks = read_chunks(registry, "accounts", stream, size=1)
    assert ingest_chunks(store, registry, "accounts", chunks).stored == 2


def test_a_repeat_in_a_later_chunk_is_folded_and_counted_once(
    store: Store, registry: Registry
) -> None:
    """``new_in_batch`` remembers the batch's keys across its chunks, and forgets them
    when the next batch begins."""
    alpha = json.dumps({"account_id": "a1", "name": "Alpha", "as_of": "2026-01-01"})
    renamed = json.dumps({"account_id": "a1", "name": "Alpha Corp", "as_of": "2026-01-01"})
    beta = json.dumps({"account_id": "a2", "name": "Beta"})
    for _ in range(2):
        chunks = read_chunks(registry, "accounts", _accounts_jsonl(alpha, beta, renamed), size=2)
        done = ingest_chunks(store, registry, "accounts", chunks)
        # a1's day is held in the first chunk and corrected in the second: one row.
        assert (done.received, done.stored, done.folded) == (3, 2, 1)
    assert store.db.execute("SELECT name FROM accounts WHERE account_id = 'a1'").fetchone() == (
        "Alpha Corp",
    )


def test_a_line_holding_two_records_is_refused(store: Store, registry: Registry) -> None:
    one = json.dumps({"account_id": "a1", "name": "Alpha"})
    stream = _accounts_jsonl(one, f"{one}, {one}")
    with pytest.raises(InputError, match=r"^record 2: not valid JSON"):
        ingest_chunks(store, registry, "accounts", read_chunks(registry, "accounts", stream))
    assert store.db["accounts"].count == 0
