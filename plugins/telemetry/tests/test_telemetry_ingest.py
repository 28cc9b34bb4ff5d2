"""Bulk ingestion of usage rows: a re-sent day replaces the stored day, nothing doubles."""

from __future__ import annotations

import io
from datetime import date

import msgspec
import pytest
import telltales_telemetry
from telltales.errors import InputError
from telltales.signals.ingest import ingest_chunks, read_chunks
from telltales.testing import PluginHarness

DAY = date(2026, 11, 20)


def usage(
    user: str, day: str, events: int, feature: str = "reporting", account: str = "a1"
) -> dict:
    return {
        "account_id": account,
        "user_id": user,
        "feature": feature,
        "day": day,
        "events": events,
    }


@pytest.fixture
def env(telltales_env: PluginHarness) -> PluginHarness:
    telltales_env.register(telltales_telemetry, name="telemetry")
    telltales_env.add_accounts(
        [
            {
                "account_id": "a1",
                "name": "A1",
                "seats_purchased": 10,
                "core_features": ["reporting"],
            },
            {
                "account_id": "a2",
                "name": "A2",
                "seats_purchased": 10,
                "core_features": ["reporting"],
            },
        ]
    )
    return telltales_env


def stored(env: PluginHarness) -> list[tuple[object, ...]]:
    return env.store.db.execute(
        "SELECT account_id, user_id, feature, day, events FROM telemetry_usage_by_date "
        "ORDER BY 1, 4, 2"
    ).fetchall()


def test_reingesting_the_same_file_changes_nothing(env: PluginHarness) -> None:
    rows = [
        usage("u1", "2026-11-19", 5),
        usage("u2", "2026-11-19", 3),
        usage("u1", "2026-11-18", 2),
    ]
    assert env.ingest("telemetry.usage", rows) == 3
    env.run(DAY)
    before = (stored(env), env.signals("a1", DAY))
    assert env.ingest("telemetry.usage", rows) == 3
    env.run(DAY)
    assert (stored(env), env.signals("a1", DAY)) == before
    assert env.signals("a1", DAY)["telemetry.seat_utilization_30d"].value == 0.2


def test_a_resent_day_replaces_that_account_day_only(env: PluginHarness) -> None:
    env.ingest(
        "telemetry.usage",
        [
            usage("u1", "2026-11-19", 5),
            usage("u2", "2026-11-19", 3),
            usage("u1", "2026-11-18", 2),
            usage("u9", "2026-11-19", 1, account="a2"),
        ],
    )
    # The corrected export for a1 on 11-19 has only u1, with a new count.
    env.ingest("telemetry.usage", [usage("u1", "2026-11-19", 7)])
    assert stored(env) == [
        ("a1", "u1", "reporting", "2026-11-18", 2),
        ("a1", "u1", "reporting", "2026-11-19", 7),
        ("a2", "u9", "reporting", "2026-11-19", 1),
    ]


def test_a_day_split_across_chunks_is_cleared_once(env: PluginHarness) -> None:
    env.ingest("telemetry.usage", [usage("old", "2026-11-19", 9)])
    lines = [usage(f"u{n}", "2026-11-19", n + 1) for n in range(5)]
    data = b"\n".join(msgspec.json.encode(line) for line in lines) + b"\n"
    chunks = read_chunks(env.registry, "telemetry.usage", io.BytesIO(data), size=2)
    assert ingest_chunks(env.store, env.registry, "telemetry.usage", chunks).stored == 5
    # All five rows of the file are kept; the day's earlier row is gone.
    assert [r[1] for r in stored(env)] == ["u0", "u1", "u2", "u3", "u4"]


def test_repeated_rows_in_one_batch_keep_the_last(env: PluginHarness) -> None:
    env.ingest("telemetry.usage", [usage("u1", "2026-11-19", 5), usage("u1", "2026-11-19", 6)])
    assert stored(env) == [("a1", "u1", "reporting", "2026-11-19", 6)]


def test_repeats_are_folded_and_counted_once_across_chunks(env: PluginHarness) -> None:
    """Found by outside testers: a batch of 100,000 rows with repeats answered "stored":
    100000 while 28,000 rows existed. Repeats, in one chunk or across chunks, count once."""
    env.ingest("telemetry.usage", [usage("old", "2026-11-19", 9)])
    lines = [usage(f"u{n % 3}", "2026-11-19", n + 1) for n in range(7)]
    data = b"\n".join(msgspec.json.encode(line) for line in lines) + b"\n"
    chunks = read_chunks(env.registry, "telemetry.usage", io.BytesIO(data), size=2)
    done = ingest_chunks(env.store, env.registry, "telemetry.usage", chunks)
    assert (done.received, done.stored, done.folded) == (7, 3, 4)
    assert [(r[1], r[4]) for r in stored(env)] == [("u0", 7), ("u1", 5), ("u2", 6)]


def test_an_invalid_line_stores_nothing_even_after_earlier_chunks(env: PluginHarness) -> None:
    lines = [msgspec.json.encode(usage(f"u{n}", "2026-11-19", 1)) for n in range(5)]
    lines.append(b'{"account_id": "a1", "user_id": "u9", "feature": "x", "day": "2026-11-31"}')
    chunks = read_chunks(env.registry, "telemetry.usage", io.BytesIO(b"\n".join(lines)), size=2)
    with pytest.raises(InputError, match=r"^record 6, field 'day': invalid RFC3339 encoded date"):
        ingest_chunks(env.store, env.registry, "telemetry.usage", chunks)
    assert stored(env) == []


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"account_id": "a1", "user_id": "u", "feature": "f", "day": "2026-11-19"},
            "record 2: a usage row must count at least one event or login",
        ),
        (
            {"account_id": "a1", "user_id": "u", "feature": "f", "day": "2026-11-19", "events": -1},
            "record 2, field 'events': expected `int` >= 0",
        ),
        (
            {"account_id": "a1", "user_id": "", "feature": "f", "day": "2026-11-19", "events": 1},
            "record 2, field 'user_id': expected `str` of length >= 1",
        ),
        (
            {"account_id": "zz", "user_id": "u", "feature": "f", "day": "2026-11-19", "events": 1},
            "record 2, field 'account_id': unknown account 'zz'",
        ),
    ],
)
def test_bad_rows_are_refused_whole(env: PluginHarness, record: dict, message: str) -> None:
    with pytest.raises(InputError) as raised:
        env.ingest("telemetry.usage", [usage("u1", "2026-11-19", 1), record])
    assert str(raised.value).startswith(message)
    assert stored(env) == []


@pytest.mark.parametrize("layout", ["json-lines", "json-array"])
def test_every_message_counts_records_from_one_with_the_same_word(
    env: PluginHarness, layout: str
) -> None:
    """A bad field and an unknown account in the first record of one file both say
    "record 1" (of a JSON Lines file they said "line 1" and "record 0")."""

    def refusal(*records: dict[str, object]) -> str:
        lines = [msgspec.json.encode(record) for record in records]
        data = b"\n".join(lines) if layout == "json-lines" else b"[" + b",".join(lines) + b"]"
        chunks = read_chunks(env.registry, "telemetry.usage", io.BytesIO(data))
        with pytest.raises(InputError) as refused:
            ingest_chunks(env.store, env.registry, "telemetry.usage", chunks)
        return str(refused.value)

    good: dict[str, object] = usage("u1", "2026-11-19", 1)
    assert refusal(good | {"account_id": "zz"}).startswith(
        "record 1, field 'account_id': unknown account 'zz'"
    )
    assert refusal(good | {"day": "2026-11-31"}).startswith("record 1, field 'day': ")
    assert refusal(good, good | {"day": "2026-11-31"}).startswith("record 2, field 'day': ")
    assert stored(env) == []
