"""``POST /v1/ingest/{source}``: one route per ingester, all or nothing, idempotent, by group."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlite_utils import Database
from support.api import ApiHarness, add_accounts, api_harness, api_settings
from support.api_example import records
from telltales import hookimpl
from telltales.plugins import load_registry
from telltales.signals.ingest import convert_records, ingest
from telltales.testing import ApiClient
from telltales_api import create_app

EXAMPLE_DATA = Path(__file__).parents[2] / "examples" / "data"
EMEA = "emea-midmarket"  # northwind's group; ferrum is in apac-midmarket


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    """The API over a database holding the example accounts (written by the core)."""
    for harness in api_harness(tmp_path):
        add_accounts(harness, EXAMPLE_DATA / "accounts.json")
        yield harness


def rows(api: ApiHarness, table: str) -> int:
    count: int = api.context.store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return count


def usage(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_id": "northwind",
        "user_id": "u1@northwind.example",
        "day": "2026-11-02",
        "feature": "reporting",
        "events": 3,
        "logins": 1,
    }
    return {**row, **changes}


def report(source: str, received: int, stored: int) -> dict[str, Any]:
    """The answer to a batch: the repeats folded are what was received but not stored."""
    return {"source": source, "received": received, "stored": stored, "folded": received - stored}


def post(api: ApiHarness, source: str, body: Any, token: str) -> Any:
    return api.client.post(f"/v1/ingest/{source}", json=body, headers=api.headers(token))


def test_every_ingester_but_accounts_has_a_route_documenting_its_record_type(
    api: ApiHarness,
) -> None:
    schema = api.client.get("/schema/openapi.json").json()
    routes = sorted(p.removeprefix("/v1/ingest/") for p in schema["paths"] if "/ingest/" in p)
    assert routes == sorted(set(api.context.registry.ingesters) - {"accounts"})
    operation = schema["paths"]["/v1/ingest/telemetry.usage"]["post"]
    assert operation["security"] == [{"apiKey": []}]
    assert {"200", "400", "401", "403", "413", "422"} <= set(operation["responses"])
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    batch = schema["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert batch["required"] == ["records"]
    record = schema["components"]["schemas"][batch["properties"]["records"]["items"]["$ref"][21:]]
    assert record["required"] == ["account_id", "day", "feature", "user_id"]
    assert record["properties"]["events"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 2**53 - 1,
        "default": 0,
    }
    # Accounts are written through PUT /v1/accounts only.
    token = api.key("ingest")
    assert post(api, "accounts", {"records": []}, token).status_code == 404


def test_the_example_files_are_stored_and_sending_them_again_stores_nothing_twice(
    api: ApiHarness,
) -> None:
    token = api.key("ingest", name="crm-sync")
    tickets = json.loads((EXAMPLE_DATA / "support.tickets.json").read_text())
    lines = (EXAMPLE_DATA / "telemetry.usage.jsonl").read_text().splitlines()
    usage_rows = [json.loads(line) for line in lines if line.strip()]

    for _ in range(2):
        answer = post(api, "support.tickets", {"records": tickets}, token)
        assert answer.status_code == 200
        assert answer.json() == report("support.tickets", 45, 45)
        answer = post(api, "telemetry.usage", {"records": usage_rows}, token)
        assert answer.status_code == 200
        assert answer.json() == report("telemetry.usage", 4623, 4623)
        assert rows(api, "support_tickets") == 45
        assert rows(api, "telemetry_usage") == 4623


def test_a_batch_with_repeats_reports_the_rows_stored_and_the_repeats_folded(
    api: ApiHarness,
) -> None:
    """Found by outside testers: a re-sent usage batch of 100,000 rows with repeats
    answered "stored": 100000 while 28,000 rows existed (the last repeat wins)."""
    token = api.key("ingest")
    batch = [usage(user_id=f"u{n % 28}", events=n + 1) for n in range(100)]
    for _ in range(2):
        answer = post(api, "telemetry.usage", {"records": batch}, token)
        assert answer.json() == report("telemetry.usage", 100, 28)
        assert rows(api, "telemetry_usage") == 28
    events = "SELECT events FROM telemetry_usage WHERE user_id = 'u0'"
    assert api.context.store.db.execute(events).fetchone() == (85,)  # the last of u0's


@pytest.mark.parametrize("source", sorted(set(load_registry().ingesters) - {"accounts"}), ids=str)
def test_every_ingester_folds_a_repeated_record(api: ApiHarness, source: str) -> None:
    """Every record of the example sent twice in one batch: each row stored once."""
    token = api.key("ingest")
    examples = records(source)
    once = post(api, source, {"records": examples}, token).json()
    twice = post(api, source, {"records": examples + examples}, token).json()
    assert once["stored"] == twice["stored"] > 0, source
    assert (twice["received"], twice["folded"]) == (2 * once["received"], once["received"])


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (usage(day="2026-11-31"), "body.records[2].day", "invalid RFC3339 encoded date"),
        (usage(events="5"), "body.records[2].events", "expected `int`, got `str`"),
        (usage(events=-1), "body.records[2].events", "expected `int` >= 0"),
        (usage(colour="red"), "body.records[2].colour", "unknown field"),
        (
            {k: v for k, v in usage().items() if k != "feature"},
            "body.records[2].feature",
            "required field",
        ),
        (
            usage(events=0, logins=0),
            "body.records[2]",
            "a usage row must count at least one event or login",
        ),
    ],
)
def test_one_invalid_record_in_the_middle_stores_nothing_and_is_named(
    api: ApiHarness, bad: dict[str, Any], field: str, reason: str
) -> None:
    token = api.key("ingest")
    post(api, "telemetry.usage", {"records": [usage(day="2026-11-01")]}, token)
    batch = [usage(user_id="u2@northwind.example"), usage(user_id="u3@northwind.example"), bad]
    batch += [usage(user_id="u4@northwind.example")]
    answer = post(api, "telemetry.usage", {"records": batch}, token)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"] == [{"field": field, "reason": reason}]
    assert answer.json()["detail"] == "nothing was stored: a record is invalid"
    assert rows(api, "telemetry_usage") == 1


@pytest.mark.parametrize(
    ("content", "field", "reason"),
    [
        (b'{"records": [', "body", "not valid JSON: Input data was truncated"),
        (b"", "body", "a JSON body is required"),
        (b"[]", "body", "expected `object`, got `array`"),
        (b'{"rows": []}', "body.rows", "unknown field"),
        (b"{}", "body.records", "required field"),
        (b'{"records": {}}', "body.records", "expected `array`, got `object`"),
    ],
)
def test_a_body_that_is_not_a_batch_is_a_400_naming_the_problem(
    api: ApiHarness, content: bytes, field: str, reason: str
) -> None:
    headers = {**api.headers(api.key("ingest")), "Content-Type": "application/json"}
    answer = api.client.post("/v1/ingest/news.items", content=content, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"field": field, "reason": reason}]


def test_an_integer_too_large_for_the_database_is_named_and_nothing_is_stored(
    api: ApiHarness,
) -> None:
    """A plugin whose record type leaves an integer unbounded: SQLite's own limit is the
    last line, and it is named like any other mistake."""
    snapshot = {
        "account_id": "northwind",
        "as_of": "2026-11-02",
        "industry": "logistics",
        "region": "emea",
        "products": ["core"],
    }
    batch = [snapshot, snapshot | {"as_of": "2026-11-03", "employee_count": 2**63}]
    answer = post(api, "firmographics.snapshots", {"records": batch}, api.key("ingest"))
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {
            "field": "body.records[1].employee_count",
            "reason": "an integer beyond -9223372036854775808..9223372036854775807",
        }
    ]
    assert rows(api, "firmographics_snapshots") == 0


def test_a_count_past_its_declared_bound_is_named(api: ApiHarness) -> None:
    batch = [usage(), usage(user_id="u2@northwind.example", events=2**63)]
    answer = post(api, "telemetry.usage", {"records": batch}, api.key("ingest"))
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "body.records[1].events", "reason": "expected `int` <= 9007199254740991"}
    ]
    assert rows(api, "telemetry_usage") == 0


def test_records_of_unknown_accounts_are_each_named_and_nothing_is_stored(api: ApiHarness) -> None:
    token = api.key("ingest")
    batch = [usage(), usage(account_id="nope"), usage(user_id="u2@northwind.example")]
    batch += [usage(account_id="gone"), usage(account_id="nope", user_id="u5@x.example")]
    answer = post(api, "telemetry.usage", {"records": batch}, token)
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "3 record(s) name an unknown account; nothing was stored "
        "(accounts are created with PUT /v1/accounts)"
    )
    assert answer.json()["errors"] == [
        {"field": "body.records[1].account_id", "reason": "no account 'nope'"},
        {"field": "body.records[3].account_id", "reason": "no account 'gone'"},
        {"field": "body.records[4].account_id", "reason": "no account 'nope'"},
    ]
    assert rows(api, "telemetry_usage") == 0


def test_a_group_limited_key_writes_its_groups_only_and_learns_nothing_of_others(
    api: ApiHarness,
) -> None:
    token = api.key("ingest", groups=[EMEA])
    answer = post(api, "telemetry.usage", {"records": [usage()]}, token)
    assert answer.status_code == 200
    assert answer.json()["stored"] == 1

    other_group = post(api, "telemetry.usage", {"records": [usage(account_id="ferrum")]}, token)
    missing = post(api, "telemetry.usage", {"records": [usage(account_id="nobody")]}, token)
    assert other_group.status_code == missing.status_code == 422
    field = "body.records[0].account_id"
    assert other_group.json()["errors"] == [
        {"field": field, "reason": "no account 'ferrum' that this key may write to"}
    ]
    assert missing.json()["errors"] == [
        {"field": field, "reason": "no account 'nobody' that this key may write to"}
    ]
    assert other_group.json()["detail"] == (
        "1 record(s) name an unknown account (or one this key may not write to); nothing "
        "was stored (accounts are created with PUT /v1/accounts)"
    )
    assert other_group.json()["detail"] == missing.json()["detail"]
    assert rows(api, "telemetry_usage") == 1


def test_a_group_limited_key_cannot_take_over_another_groups_record_by_its_id(
    api: ApiHarness,
) -> None:
    """Support tickets upsert on their own id: a record naming one of the key's accounts
    must not move another group's ticket to it (or change it in place)."""
    tickets = json.loads((EXAMPLE_DATA / "support.tickets.json").read_text())
    assert post(api, "support.tickets", {"records": tickets}, api.key("ingest")).status_code == 200
    stored = "SELECT * FROM support_tickets ORDER BY ticket_id"
    before = api.context.store.db.execute(stored).fetchall()
    token = api.key("ingest", groups=[EMEA])
    ferrums = next(t for t in tickets if t["account_id"] == "ferrum")
    taken = {**ferrums, "account_id": "northwind", "subject": "overwritten"}

    answer = post(api, "support.tickets", {"records": [taken]}, token)

    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "body.records", "reason": "an id of another group's account"}
    ]
    assert api.context.store.db.execute(stored).fetchall() == before
    # The key still corrects its own group's tickets by their ids.
    northwinds = next(t for t in tickets if t["account_id"] == "northwind")
    renamed = {**northwinds, "subject": "renamed"}
    assert post(api, "support.tickets", {"records": [renamed]}, token).status_code == 200
    subject = "SELECT subject FROM support_tickets WHERE ticket_id = ?"
    assert api.context.store.db.execute(subject, [northwinds["ticket_id"]]).fetchone() == (
        "renamed",
    )


def test_a_refused_record_never_names_another_groups_account(api: ApiHarness) -> None:
    """Found by outside testers: a contact recorded at another group's account, sent as
    one of the key's own, was refused with that account's id in the detail."""
    people = json.loads((EXAMPLE_DATA / "contacts.people.json").read_text())
    assert post(api, "contacts.people", {"records": people}, api.key("ingest")).status_code == 200
    theirs = next(p for p in people if p["account_id"] == "ferrum")
    mine = {**theirs, "account_id": "northwind", "as_of": "2026-11-02"}

    answer = post(api, "contacts.people", {"records": [mine]}, api.key("ingest", groups=[EMEA]))

    assert answer.status_code == 422
    assert "ferrum" not in answer.text
    assert "another account, not 'northwind'" in answer.json()["detail"]


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_time_out_of_range_in_utc_is_a_422_naming_the_field_not_a_500(
    api: ApiHarness, moment: str
) -> None:
    """Found by outside testers: the support plugin's conversion to UTC overflowed."""
    ticket = {"ticket_id": "t1", "account_id": "northwind", "priority": "low"}
    body = {"records": [{**ticket, "opened_at": moment}]}
    answer = post(api, "support.tickets", body, api.key("ingest"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [
        {
            "field": "body.records[0].opened_at",
            "reason": f"{moment} is outside 1900-01-01..2999-12-31 in UTC",
        }
    ]
    assert rows(api, "support_tickets") == 0


def test_the_route_needs_an_ingest_key(api: ApiHarness) -> None:
    body = {"records": [usage()]}
    assert api.client.post("/v1/ingest/telemetry.usage", json=body).status_code == 401
    answer = post(api, "telemetry.usage", body, api.key("read", "act"))
    assert answer.status_code == 403
    assert answer.json()["detail"] == "this key lacks the 'ingest' scope (it has act, read)"
    assert post(api, "telemetry.usage", body, api.key("admin")).status_code == 200
    assert rows(api, "telemetry_usage") == 1


def test_a_body_over_the_size_limit_is_a_413(tmp_path: Path) -> None:
    for api in api_harness(tmp_path, max_body_bytes=2_000):
        records = [usage(user_id=f"u{i}@northwind.example") for i in range(40)]
        answer = post(api, "telemetry.usage", {"records": records}, api.key("ingest"))
        assert answer.status_code == 413
        assert rows(api, "telemetry_usage") == 0


class Product(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A product of the vendor's catalogue: it belongs to no account."""

    sku: str
    price: float


class Catalogue:
    name = "vendor.catalogue"
    record_type = Product

    def store(self, db: Database, records: Sequence[Product]) -> int:
        db.execute("CREATE TABLE IF NOT EXISTS catalogue (sku TEXT PRIMARY KEY, price REAL)")
        db.conn.executemany(
            "INSERT INTO catalogue VALUES (?, ?) "
            "ON CONFLICT (sku) DO UPDATE SET price = excluded.price",
            [(r.sku, r.price) for r in records],
        )
        return len(records)


class Lead(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A prospect's fit score: its account need not exist yet."""

    account_id: str
    fit: float


class Leads:
    name = "vendor.leads"
    record_type = Lead
    checks_account_ids = False

    def store(self, db: Database, records: Sequence[Lead]) -> int:
        db.execute("CREATE TABLE IF NOT EXISTS leads (account_id TEXT PRIMARY KEY, fit REAL)")
        db.conn.executemany(
            "INSERT INTO leads VALUES (?, ?) "
            "ON CONFLICT (account_id) DO UPDATE SET fit = excluded.fit",
            [(r.account_id, r.fit) for r in records],
        )
        return len(records)


class VendorPlugin:
    @hookimpl
    def register_ingesters(self, register: Callable[[object], None]) -> None:
        register(Catalogue())
        register(Leads())


@pytest.fixture
def vendor(tmp_path: Path) -> Iterator[ApiClient]:
    """The API with a vendor plugin's two ingesters (and the example accounts)."""
    registry = load_registry(extra=[("vendor", VendorPlugin())], use_entry_points=False)
    with ApiClient(lambda: create_app(api_settings(tmp_path), registry=registry)) as api:
        accounts = json.loads((EXAMPLE_DATA / "accounts.json").read_text())
        context = api.context
        ingest(
            context.store,
            context.registry,
            "accounts",
            convert_records(context.registry, "accounts", accounts),
        )
        yield api


def test_a_vendor_ingester_gets_its_route_and_records_of_no_account_need_an_unlimited_key(
    vendor: ApiClient,
) -> None:
    schema = vendor.client.get("/schema/openapi.json").json()
    assert schema["components"]["schemas"]["Product"]["required"] == ["price", "sku"]
    body = {"records": [{"sku": "rpt-pro", "price": 12.5}]}
    limited = post(vendor, "vendor.catalogue", body, vendor.key("ingest", groups=[EMEA]))
    assert limited.status_code == 403
    assert limited.json()["detail"] == (
        "vendor.catalogue records belong to no account, so a key limited to CSM groups "
        "may not ingest them"
    )
    answer = post(vendor, "vendor.catalogue", body, vendor.key("ingest"))
    assert answer.json() == report("vendor.catalogue", 1, 1)
    assert rows(vendor, "catalogue") == 1


def test_an_ingester_taking_new_accounts_still_keeps_a_limited_key_to_its_groups(
    vendor: ApiClient,
) -> None:
    body = {"records": [{"account_id": "prospect-1", "fit": 0.8}]}
    answer = post(vendor, "vendor.leads", body, vendor.key("ingest"))
    assert answer.json() == report("vendor.leads", 1, 1)
    limited = vendor.key("ingest", groups=[EMEA])
    refused = post(vendor, "vendor.leads", body, limited)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "field": "body.records[0].account_id",
            "reason": "no account 'prospect-1' that this key may write to",
        }
    ]
    mine = {"records": [{"account_id": "northwind", "fit": 0.4}]}
    assert post(vendor, "vendor.leads", mine, limited).status_code == 200
    assert rows(vendor, "leads") == 2


USAGE_CSV = (
    "account_id,user_id,day,feature,events,logins\n"
    "northwind,u1@northwind.example,2026-11-02,reporting,3,1\n"
    "northwind,u2@northwind.example,2026-11-02,dispatch,5,\n"
)


def post_csv(api: ApiHarness, source: str, body: str, token: str, query: str = "") -> Any:
    headers = {**api.headers(token), "Content-Type": "text/csv; charset=utf-8"}
    return api.client.post(f"/v1/ingest/{source}{query}", content=body.encode(), headers=headers)


def test_a_csv_body_stores_the_same_records_as_json(api: ApiHarness) -> None:
    token = api.key("ingest")
    answer = post_csv(api, "telemetry.usage", USAGE_CSV, token)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"source": "telemetry.usage", "received": 2, "stored": 2, "folded": 0}
    stored = api.context.store.db.execute(
        "SELECT user_id, feature, events, logins FROM telemetry_usage ORDER BY user_id"
    ).fetchall()
    assert stored == [
        ("u1@northwind.example", "reporting", 3, 1),
        ("u2@northwind.example", "dispatch", 5, 0),
    ]


def test_a_bad_csv_cell_is_named_by_line_and_field_and_stores_nothing(api: ApiHarness) -> None:
    body = USAGE_CSV + "northwind,u3@northwind.example,2026-11-31,reporting,1,0\n"
    answer = post_csv(api, "telemetry.usage", body, api.key("ingest"))
    assert answer.status_code == 422
    reason = "record 3 (line 4), field 'day': invalid RFC3339 encoded date"
    assert answer.json()["errors"] == [{"field": "body", "reason": reason}]
    assert rows(api, "telemetry_usage") == 0


def test_an_empty_csv_export_is_refused_unless_allowed(api: ApiHarness) -> None:
    """As an empty file is: a JSON body's empty list, though, is explicit."""
    token = api.key("ingest")
    header_only = USAGE_CSV.splitlines()[0] + "\n"
    refused = post_csv(api, "telemetry.usage", header_only, token)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("the CSV body holds no records; nothing was stored")
    allowed = post_csv(api, "telemetry.usage", header_only, token, "?allow_empty=true")
    assert allowed.status_code == 200
    assert allowed.json()["received"] == 0
    assert post(api, "telemetry.usage", {"records": []}, token).status_code == 200
