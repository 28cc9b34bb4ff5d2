"""GET /v1/accounts/{id}/health, /signals and /transitions, and the health cache.

The example book is run for the 13th and the 20th of November 2026 (see
test_health_report, which reads every figure used here off the data by hand).
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from support.api import ApiHarness, api_harness
from support.health_example import ingested_example, run_example
from telltales.engine.health import AccountHealth, account_health
from telltales.engine.pipeline import run
from telltales.playbooks.statuses import override_status
from telltales.store.queries import get_account
from telltales_api.freshness import change_stamp
from telltales_api.health_cache import CachedHealth, HealthCache
from telltales_api.routes import health as health_routes


@pytest.fixture(scope="module")
def example_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested_example(tmp_path_factory)


@pytest.fixture
def api(example_template: Path, tmp_path: Path) -> Iterator[ApiHarness]:
    """The API over a copy of the example, run for both Fridays through its context."""
    shutil.copy(example_template, tmp_path / "api.db")
    for harness in api_harness(tmp_path):
        context = harness.context
        run_example(context.store, context.registry, context.config)
        yield harness


ROUTES = (
    "/v1/accounts/ferrum/health",
    "/v1/accounts/ferrum/signals",
    "/v1/accounts/ferrum/transitions",
)


# GET /v1/accounts/{account_id}/health


def test_health_gives_status_score_reasons_work_and_the_next_action(api: ApiHarness) -> None:
    response = api.client.get("/v1/accounts/ferrum/health", headers=api.headers(api.key("read")))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["as_of"] == "2026-11-20"
    status = body["status"]
    assert (status["status"], status["label"], status["since"]) == (
        "at_risk",
        "At-Risk",
        "2026-11-13",
    )
    assert (status["transition"]["cause"], status["transition"]["rules"]) == (
        "rules",
        ["sponsor_left"],
    )
    score = body["score"]
    assert (score["value"], score["grade"], score["label"], score["coverage"]) == (
        10.2,
        "red",
        "At-Risk",
        1.0,
    )
    assert len(score["breakdown"]) == 15
    assert score["breakdown"][0] == {
        "measure": "account.seat_deployment",
        "component": "deployment",
        "signal_key": "account.seat_deployment",
        "value": 0.45,
        "points": 0.0,
        "weight": 0.14,
        "evidence": "36 of 80 purchased seats assigned (45%)",
        "configured_weight": 0.14,
    }
    assert (score["trend_7d"]["value"], score["trend_7d"]["change"]) == (15.0, -4.8)
    assert score["trend_30d"] is None
    assert [r["rule"] for r in body["rules"]] == [
        "core_feature_drop",
        "score_red",
        "sponsor_left",
        "high_priority_tickets",
        "low_seat_utilization",
    ]
    assert [
        (r["playbook"], r["mode"], r["started_at"], r["cohort"]) for r in body["playbook_runs"]
    ] == [("at_risk_response", "live", "2026-11-13T12:00:00Z", "pilot")]
    assert [(t["title"], t["assignee"], t["due_on"]) for t in body["tasks"]] == [
        (
            "Ferrum Manufacturing: At-Risk - The executive sponsor left the company or the role",
            "li.chen@vendor.example",
            "2026-11-18",
        )
    ]
    assert body["tasks"][0]["body"].startswith("Ferrum Manufacturing (ferrum) entered At-Risk")
    assert (body["next_action"]["kind"], body["next_action"]["task_id"]) == ("task", 1)


def test_health_as_of_an_earlier_day(api: ApiHarness) -> None:
    response = api.client.get(
        "/v1/accounts/ferrum/health",
        params={"as_of": "2026-11-13"},
        headers=api.headers(api.key("read")),
    )

    body = response.json()
    assert (body["as_of"], body["score"]["value"], body["score"]["trend_7d"]) == (
        "2026-11-13",
        15.0,
        None,
    )


def test_health_of_another_group_is_as_missing_as_an_unknown_account(api: ApiHarness) -> None:
    headers = api.headers(api.key("read", groups=["emea-smb"]))

    for path in ROUTES:
        hidden = api.client.get(path, headers=headers)
        assert hidden.status_code == 404, path
        assert hidden.json()["detail"] == "unknown account 'ferrum'"
        missing = api.client.get(path.replace("ferrum", "nobody"), headers=headers)
        assert missing.status_code == 404, path
        assert missing.json()["detail"] == "unknown account 'nobody'"
    own = api.client.get("/v1/accounts/quillworks/health", headers=headers)
    assert own.status_code == 200


@pytest.mark.parametrize("path", ROUTES[:2])
@pytest.mark.parametrize("as_of", ["2026-11-31", "yesterday", ""])
def test_a_bad_day_is_a_400_naming_the_field(api: ApiHarness, path: str, as_of: str) -> None:
    response = api.client.get(path, params={"as_of": as_of}, headers=api.headers(api.key("read")))
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["query.as_of"]


@pytest.mark.parametrize("path", ROUTES)
def test_each_route_needs_a_key_with_the_read_scope(api: ApiHarness, path: str) -> None:
    assert api.client.get(path).status_code == 401
    assert api.client.get(path, headers=api.headers(api.key("act"))).status_code == 403


def test_every_route_is_in_the_schema_with_its_errors(api: ApiHarness) -> None:
    paths = api.client.get("/schema/openapi.json").json()["paths"]

    for path in (
        "/v1/accounts/{account_id}",
        "/v1/accounts/{account_id}/health",
        "/v1/accounts/{account_id}/signals",
        "/v1/accounts/{account_id}/transitions",
    ):
        responses = paths[path]["get"]["responses"]
        assert sorted(responses) == ["200", "400", "401", "403", "404"], path
    assert sorted(paths["/v1/accounts"]["get"]["responses"]) == ["200", "400", "401", "403"]
    health_200 = paths["/v1/accounts/{account_id}/health"]["get"]["responses"]["200"]
    assert health_200["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AccountHealth"
    }
    upsert = set(paths["/v1/accounts"]["put"]["responses"])
    assert {"200", "400", "401", "403", "413", "422"} <= upsert


# The cache


@pytest.fixture
def composed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The accounts whose health was composed (not served from the cache), in order."""
    calls: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> AccountHealth:
        calls.append(args[2])
        return account_health(*args, **kwargs)

    monkeypatch.setattr(health_routes, "account_health", counting)
    return calls


def test_a_repeated_read_is_served_from_the_cache(api: ApiHarness, composed: list[str]) -> None:
    every = api.headers(api.key("read"))
    limited = api.headers(api.key("read", groups=["emea-smb"]))

    first = api.client.get("/v1/accounts/ferrum/health", headers=every)
    second = api.client.get("/v1/accounts/ferrum/health", headers=every)
    # The cached document still answers only keys that may see the account.
    hidden = api.client.get("/v1/accounts/ferrum/health", headers=limited)
    earlier = api.client.get(
        "/v1/accounts/ferrum/health", params={"as_of": "2026-11-13"}, headers=every
    )

    assert second.content == first.content
    assert hidden.status_code == 404
    assert earlier.json()["as_of"] == "2026-11-13"
    assert composed == ["ferrum", "ferrum"]  # the default day, then the 13th


def test_another_groups_health_is_refused_before_it_is_composed(
    api: ApiHarness, composed: list[str]
) -> None:
    """Found by outside testers: the document was composed before the group check, so
    another group's account answered its 404 measurably slower than a missing one."""
    limited = api.headers(api.key("read", groups=["emea-smb"]))
    for as_of in ({}, {"as_of": "2026-11-13"}):
        hidden = api.client.get("/v1/accounts/ferrum/health", params=as_of, headers=limited)
        missing = api.client.get("/v1/accounts/nobody/health", params=as_of, headers=limited)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.text.replace("ferrum", "ID") == missing.text.replace("nobody", "ID")
    assert composed == []
    assert api.client.get("/v1/accounts/quillworks/health", headers=limited).status_code == 200
    assert composed == ["quillworks"]


def test_a_new_run_and_a_new_transition_show_on_the_next_read(
    api: ApiHarness, composed: list[str]
) -> None:
    headers = api.headers(api.key("read"))
    before = api.client.get("/v1/accounts/solstice/health", headers=headers).json()
    assert (before["as_of"], before["status"]["status"]) == ("2026-11-20", "healthy")

    context = api.context
    run(context.store, context.registry, date(2026, 11, 21), plan=context.plan)
    after_run = api.client.get("/v1/accounts/solstice/health", headers=headers).json()
    assert after_run["as_of"] == "2026-11-21"

    override_status(
        context.store,
        get_account(context.store, "solstice"),
        "at_risk",
        reason="the champion resigned on a call today",
        until=datetime(2026, 12, 31, tzinfo=UTC),
        by="sam.okafor@vendor.example",
        now=datetime(2026, 11, 23, 9, tzinfo=UTC),
    )
    after_override = api.client.get("/v1/accounts/solstice/health", headers=headers).json()
    assert (after_override["status"]["status"], after_override["status"]["since"]) == (
        "at_risk",
        "2026-11-23",
    )
    assert composed == ["solstice"] * 3


def test_an_account_upserted_through_the_api_shows_on_the_next_read(api: ApiHarness) -> None:
    reader = api.headers(api.key("read"))
    writer = api.headers(api.key("ingest"))
    name = api.client.get("/v1/accounts/ferrum/health", headers=reader).json()["account"]["name"]
    assert name == "Ferrum Manufacturing"

    account = {"account_id": "ferrum", "name": "Ferrum Group", "csm_group": "apac-midmarket"}
    api.client.put("/v1/accounts", json={"accounts": [account]}, headers=writer)

    after = api.client.get("/v1/accounts/ferrum/health", headers=reader).json()
    assert after["account"]["name"] == "Ferrum Group"


def _database(tmp_path: Path) -> Callable[[], sqlite3.Connection]:
    path = tmp_path / "cache.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute("CREATE TABLE t (x INTEGER)")
    return lambda: sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def _doc(size: int = 10, group: str = "g") -> CachedHealth:
    return CachedHealth(csm_group=group, body=b"x" * size)


def test_the_cache_empties_on_a_commit_by_another_connection_or_its_own(tmp_path: Path) -> None:
    connect = _database(tmp_path)
    mine, other = connect(), connect()
    cache = HealthCache()

    cache.entries(mine, change_stamp(mine)).put(("a", None), _doc())
    assert cache.entries(mine, change_stamp(mine)).get(("a", None)) == _doc()

    other.execute("INSERT INTO t VALUES (1)")
    assert cache.entries(mine, change_stamp(mine)).get(("a", None)) is None

    cache.entries(mine, change_stamp(mine)).put(("a", None), _doc())
    mine.execute("INSERT INTO t VALUES (2)")  # its own write: data_version stays, changes move
    assert cache.entries(mine, change_stamp(mine)).get(("a", None)) is None

    cache.entries(mine, change_stamp(mine)).put(("a", None), _doc())
    mine.execute("SELECT count(*) FROM t").fetchone()
    other.execute("SELECT count(*) FROM t").fetchone()  # reads change nothing
    assert cache.entries(mine, change_stamp(mine)).get(("a", None)) == _doc()


def test_the_cache_keeps_within_its_bytes_dropping_the_least_recently_read(
    tmp_path: Path,
) -> None:
    connection = _database(tmp_path)()
    entries = HealthCache(max_bytes=100).entries(connection, change_stamp(connection))

    for account in ("a", "b", "c"):
        entries.put((account, None), _doc(40))
    assert (entries.get(("a", None)), len(entries), entries.size) == (None, 2, 80)
    entries.get(("b", None))  # read: now the most recent
    entries.put(("d", None), _doc(40))
    assert [entries.get((a, None)) is not None for a in "bcd"] == [True, False, True]
    entries.put(("huge", None), _doc(101))  # larger than the whole budget: not kept
    assert (entries.get(("huge", None)), entries.size) == (None, 80)


def test_each_thread_has_its_own_entries(tmp_path: Path) -> None:
    connect = _database(tmp_path)
    cache = HealthCache()
    main = connect()
    cache.entries(main, change_stamp(main)).put(("a", None), _doc())
    seen: list[CachedHealth | None] = []

    def other_thread() -> None:
        mine = connect()
        seen.append(cache.entries(mine, change_stamp(mine)).get(("a", None)))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()

    assert seen == [None]
    assert cache.entries(main, change_stamp(main)).get(("a", None)) == _doc()


# GET /v1/accounts/{account_id}/signals


def test_signals_of_the_latest_day_with_their_evidence(api: ApiHarness) -> None:
    response = api.client.get("/v1/accounts/ferrum/signals", headers=api.headers(api.key("read")))

    body = response.json()
    assert body["as_of"] == "2026-11-20"
    by_key = {s["key"]: s for s in body["signals"]}
    assert by_key["contacts.sponsor_left"] == {
        "account_id": "ferrum",
        "key": "contacts.sponsor_left",
        "value": 1.0,
        "dimension": "engagement",
        "evidence": "executive sponsor Dana Reyes (VP Operations) left the company on "
        "2026-10-28, 23 days before 2026-11-20",
        "as_of": "2026-11-20",
        "source": "contacts",
    }
    assert by_key["account.seat_deployment"]["value"] == 0.45
    assert [s["key"] for s in body["signals"]] == sorted(by_key)


def test_signals_as_of_a_day_read_the_latest_computed_on_or_before_it(api: ApiHarness) -> None:
    headers = api.headers(api.key("read"))

    between = api.client.get(
        "/v1/accounts/ferrum/signals", params={"as_of": "2026-11-16"}, headers=headers
    ).json()
    before = api.client.get(
        "/v1/accounts/ferrum/signals", params={"as_of": "2026-11-01"}, headers=headers
    ).json()

    assert between["as_of"] == "2026-11-13"
    sponsor = next(s for s in between["signals"] if s["key"] == "contacts.sponsor_left")
    assert sponsor["evidence"].endswith("16 days before 2026-11-13")
    assert before == {"account_id": "ferrum", "as_of": None, "signals": []}


# GET /v1/accounts/{account_id}/transitions


def _override(api: ApiHarness, status: str, day: int) -> None:
    override_status(
        api.context.store,
        get_account(api.context.store, "ferrum"),
        status,
        reason=f"reviewed on the {day}th",
        until=datetime(2026, 12, 31, tzinfo=UTC),
        by="li.chen@vendor.example",
        now=datetime(2026, 11, day, 9, tzinfo=UTC),
    )


def test_the_status_history_oldest_first(api: ApiHarness) -> None:
    _override(api, "concern", 24)

    response = api.client.get(
        "/v1/accounts/ferrum/transitions", headers=api.headers(api.key("read"))
    )

    body = response.json()
    assert [
        (t["as_of"], t["from_status"], t["to_status"], t["cause"], t["rules"])
        for t in body["items"]
    ] == [
        ("2026-11-13", None, "at_risk", "rules", ["sponsor_left"]),
        ("2026-11-24", "at_risk", "concern", "override", []),
    ]
    assert body["items"][1]["evidence"] == (
        "overridden by li.chen@vendor.example until 2026-12-31 00:00Z: reviewed on the 24th"
    )
    assert body["labels"] == {
        "healthy": "Healthy",
        "concern": "Concern",
        "at_risk": "At-Risk",
        "inactive": "Inactive",
    }
    assert body["next_cursor"] is None


@pytest.mark.parametrize("limit", [1, 2, 3, 4])
def test_transition_pages_serve_each_once_in_order(api: ApiHarness, limit: int) -> None:
    for status, day in (("concern", 24), ("healthy", 25), ("at_risk", 26)):
        _override(api, status, day)
    headers = api.headers(api.key("read"))
    everything = api.client.get("/v1/accounts/ferrum/transitions", headers=headers).json()
    expected = [t["transition_id"] for t in everything["items"]]
    assert len(expected) == 4

    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = api.client.get(
            "/v1/accounts/ferrum/transitions", params=params, headers=headers
        ).json()
        seen += [t["transition_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == expected


def test_a_cursor_not_from_this_accounts_pages_is_a_400(api: ApiHarness) -> None:
    headers = api.headers(api.key("read"))
    _override(api, "concern", 24)
    page = api.client.get(
        "/v1/accounts/ferrum/transitions", params={"limit": 1}, headers=headers
    ).json()
    cursor = page["next_cursor"]
    assert cursor is not None

    for path, given in (
        ("/v1/accounts/bluepeak/transitions", cursor),
        ("/v1/accounts/ferrum/transitions", "bm9wZQ"),
    ):
        response = api.client.get(path, params={"cursor": given}, headers=headers)
        assert response.status_code == 400
        assert [e["field"] for e in response.json()["errors"]] == ["query.cursor"]
