"""OWASP API3 (broken object property level authorization): what is read, what is written.

Read: no answer of any read operation holds a key's hash, a token or its secret part,
whatever it is asked, and the schema documents a token in one answer only (a key's
creation). Write: every operation that takes a body refuses a field it does not
declare (mass assignment), at the top and inside each record, with a 4xx naming the
field, and writes nothing; the same body without that field is then accepted, so it
was the field that was refused. The candidate fields are the ones the server sets
(those its answer has and its body does not), plus a few every store holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.api import ApiHarness
from support.api_example import records
from support.security_routes import (
    A_ACCOUNT,
    A_PILOT,
    IDLE_PILOT,
    Book,
    Operation,
    book_harness,
    build_book,
    database_digest,
    operations,
)
from telltales_api import create_app
from telltales_api.context import ApiSettings

pytestmark = pytest.mark.reliability

APP = create_app(ApiSettings(db=Path("never-opened.db")))
BODY_OPERATIONS = [op for op in operations(APP) if op.scope is not None and op.takes_body]
INGEST = "/v1/ingest/"
ALWAYS_TRIED = ("created_by", "secret_hash", "csm_groups", "state", "recorded_by", "key_id")
"""Server-set fields of some store, tried on every body whether its answer has them or not."""


def _renewal(day: str) -> dict[str, Any]:
    return {
        "account_id": A_ACCOUNT,
        "renewal_date": day,
        "arr_before": 90000,
        "arr_after": 95000,
        "outcome": "renewed",
    }


def _a_record(source: str) -> dict[str, Any]:
    return next(r for r in records(source) if r.get("account_id") == A_ACCOUNT)


VALID: dict[str, tuple[dict[str, Any], str | None]] = {
    "PUT /v1/accounts": ({"accounts": [{**_a_record("accounts"), "arr": 97000}]}, "accounts"),
    "PUT /v1/renewals": ({"renewals": [_renewal("2026-12-01")]}, "renewals"),
    "POST /v1/history": ({"renewals": [_renewal("2025-06-30")]}, "renewals"),
    "POST /v1/runs": ({"as_of": "2026-11-21", "accounts": [A_ACCOUNT]}, None),
    "POST /v1/keys": ({"scopes": ["read"], "name": "bot"}, None),
    "POST /v1/backtests": (
        {
            "from_day": "2026-08-03",
            "to_day": "2026-08-03",
            "horizon": 30,
            "outcomes_through": "2026-11-20",
            "resamples": 0,
        },
        None,
    ),
    "POST /v1/tasks/{task_id}/dismiss": ({"reason": "handled by phone"}, None),
    "POST /v1/pilots": (
        {
            "pilot_id": "new-pilot",
            "csm_groups": ["emea-smb"],
            "rules": ["sponsor_left"],
            "playbooks": ["at_risk_response"],
            "starts_on": "2026-11-01",
        },
        None,
    ),
}
"""A body each operation accepts, and the list in it whose items are records (or None)."""
PATHS = {"task_id": "{a_task}", "pilot_id": "{pilot}"}


def _valid(op: Operation) -> tuple[dict[str, Any], str | None]:
    if op.path.startswith(INGEST):
        return {"records": [_a_record(op.path.removeprefix(INGEST))]}, "records"
    if op.path.startswith("/v1/pilots/{pilot_id}/"):
        return {"reason": "as planned"}, None
    assert op.name in VALID, f"{op.name}: add a body it accepts to VALID"
    return VALID[op.name]


def _url(op: Operation, book: Book) -> str:
    pilot = IDLE_PILOT if op.path.endswith("/enable") else A_PILOT
    return op.url({"task_id": book.a_task, "pilot_id": pilot})


def _schema_fields(schema: dict[str, Any], node: Any) -> set[str]:
    """The property names of a schema node, references and unions followed one level."""
    if not isinstance(node, dict):
        return set()
    if "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    found = set(node.get("properties", {}))
    for option in node.get("oneOf", []) + node.get("anyOf", []):
        found |= _schema_fields(schema, option)
    return found


def _candidates(op: Operation, schema: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """Fields the server sets: in a success answer, not in the body; and ALWAYS_TRIED."""
    operation = schema["paths"][op.path][op.method.lower()]
    answer: set[str] = set()
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            for content in response.get("content", {}).values():
                answer |= _schema_fields(schema, content.get("schema"))
    request = {
        name
        for content in operation["requestBody"]["content"].values()
        for name in _schema_fields(schema, content.get("schema"))
    }
    return sorted((answer | set(ALWAYS_TRIED)) - request - set(body))


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Book]:
    folder = tmp_path_factory.mktemp("book")
    return folder / "api.db", build_book(folder / "api.db")


@pytest.fixture
def fresh(book_dir: tuple[Path, Book], tmp_path: Path) -> Iterator[ApiHarness]:
    yield from book_harness(*book_dir, tmp_path)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document: dict[str, Any] = APP.openapi_schema.to_schema()
    return document


@pytest.mark.parametrize("op", BODY_OPERATIONS, ids=lambda op: op.name)
def test_a_field_the_body_does_not_declare_is_refused_and_nothing_written(
    fresh: ApiHarness, book_dir: tuple[Path, Book], schema: dict[str, Any], op: Operation
) -> None:
    body, items = _valid(op)
    url = _url(op, book_dir[1])
    headers = fresh.headers(fresh.key("admin"))
    store = fresh.context.store
    before = database_digest(store)
    tries: list[tuple[dict[str, Any], str]] = [
        ({**body, name: "injected"}, f"body.{name}") for name in _candidates(op, schema, body)
    ]
    if items is not None:
        for name in ("created_by", "stored_at", "key_id"):
            record = {**body[items][0], name: "injected"}
            tries.append(({**body, items: [record]}, f"body.{items}[0].{name}"))
    assert tries
    for sent, field in tries:
        response = fresh.client.request(op.method, url, json=sent, headers=headers)
        what = f"{op.name} with {field}: {response.status_code} {response.text[:300]}"
        assert response.status_code in (400, 422), what
        assert response.status_code in op.responses, what
        assert field in [error["field"] for error in response.json()["errors"]], what
        assert database_digest(store) == before, what
    accepted = fresh.client.request(op.method, url, json=body, headers=headers)
    assert 200 <= accepted.status_code < 300, f"{op.name}: {accepted.text[:300]}"


def test_no_answer_holds_a_key_hash_or_secret(book_dir: tuple[Path, Book], tmp_path: Path) -> None:
    for api in book_harness(*book_dir, tmp_path):
        tokens = [api.key("admin"), api.key("read", groups=["emea-midmarket"]), api.key("read")]
        store = api.context.store
        hashes = [str(row[0]) for row in store.db.execute("SELECT secret_hash FROM api_keys")]
        secrets = [token.split("_", 2)[2] for token in tokens]
        assert len(hashes) == len(tokens)
        forbidden = ["secret_hash", *hashes, *tokens, *secrets]
        forbidden += [hashlib.sha256(s.encode()).hexdigest()[:16] for s in secrets]
        samples = {
            "account_id": A_ACCOUNT,
            "task_id": book_dir[1].a_task,
            "run_id": book_dir[1].run_id,
            "backtest_id": 1,
            "delivery_id": book_dir[1].b_deliveries[0],
            "pilot_id": A_PILOT,
            "key_id": tokens[2].split("_")[1],
        }
        reads = [op for op in operations(api.client.app) if op.method == "GET"]
        answers = 0
        for op in reads:
            for token in tokens:
                response = api.client.get(op.url(samples), headers=api.headers(token))
                assert response.status_code < 500, f"{op.name}: {response.text[:300]}"
                found = [f for f in forbidden if f in response.text]
                assert found == [], f"{op.name}: {found}"
                answers += 1
        assert answers == 3 * len(reads)


def test_only_a_new_keys_answer_documents_a_token(schema: dict[str, Any]) -> None:
    holders = sorted(
        name
        for name, component in schema["components"]["schemas"].items()
        if {"token", "secret", "secret_hash", "password"} & set(component.get("properties", {}))
    )
    assert holders == ["CreatedKey"]
