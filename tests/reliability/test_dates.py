"""Dates and times out of range, at every field and parameter that takes one.

Found by outside testers: ``"opened_at": "9999-12-31T23:59:59-23:59"`` in a support
ticket is in year 10000 once converted to UTC, and the conversion overflowed (a 500,
and a traceback from the CLI). The class of mistake is "a date that is only checked
before it is converted, or not at all", so the probe is swept over the app's own
OpenAPI schema: every property of every request body whose format is ``date`` or
``date-time`` (ingest records, accounts, renewals, runs, pilots, history) and every
query parameter of format ``date``, each fed the ends of the calendar and the days
just outside telltales' range. Each answer must be a 4xx problem detail naming that
very field as out of range, and nothing may be written. A body or parameter added
later is swept too; a body this file has no sample of fails until one is added.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.api import ApiHarness, api_harness
from support.api_example import EXAMPLE_DATA, build_example, records
from support.security_routes import Operation, database_digest, operations
from telltales_api import create_app
from telltales_api.context import ApiSettings
from telltales_api.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.reliability

SCHEMA = create_app(ApiSettings(db=Path("never-opened.db"))).openapi_schema.to_schema()
OPERATIONS = operations(create_app(ApiSettings(db=Path("never-opened.db"))))
INGEST = "/v1/ingest/"
HISTORY = Path(__file__).parents[2] / "examples" / "history" / "history.json"

DAYS = ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"]
"""The ends of the calendar, and the days just outside 1900-01-01..2999-12-31."""
MOMENTS = [
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00Z",
    "2999-12-31T23:59:59-00:01",
]
"""Times whose UTC is past year 9999, before year 1, or just outside the range."""
OUT_OF_RANGE = "is outside 1900-01-01..2999-12-31"

BODIES: dict[str, Any] = {
    "PUT /v1/accounts": lambda: {"accounts": records("accounts")[:1]},
    "PUT /v1/renewals": lambda: {
        "renewals": [
            {
                "account_id": "northwind",
                "renewal_date": "2026-11-25",
                "arr_before": 100000,
                "arr_after": 110000,
                "outcome": "renewed",
            }
        ]
    },
    "POST /v1/runs": lambda: {"as_of": "2026-11-20", "through": "2026-11-20"},
    "POST /v1/pilots": lambda: {
        "pilot_id": "dates",
        "csm_groups": ["emea-midmarket"],
        "rules": ["sponsor_left"],
        "playbooks": ["at_risk_response"],
        "starts_on": "2026-11-01",
    },
    "POST /v1/history": lambda: json.loads(HISTORY.read_text()),
    "POST /v1/backtests": lambda: {
        "from_day": "2026-08-03",
        "to_day": "2026-08-10",
        "judge_from": "2026-08-03",
        "outcomes_through": "2026-11-20",
    },
}
"""A valid body of each route whose body holds a date, outside the ingest routes."""


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["components"]["schemas"][node["$ref"].rpartition("/")[2]]
    return node


def date_fields(node: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """(path, format) of every date or date-time in a body schema; ``[]`` is a list item."""
    node = _resolve(node)
    if node.get("format") in ("date", "date-time"):
        yield path, node["format"]
    for option in node.get("oneOf", []) + node.get("anyOf", []):
        yield from date_fields(option, path)
    for name, inner in node.get("properties", {}).items():
        yield from date_fields(inner, (*path, name))
    if isinstance(node.get("items"), dict):
        yield from date_fields(node["items"], (*path, "[]"))


def _body_schema(op: Operation) -> dict[str, Any]:
    operation = SCHEMA["paths"][op.path][op.method.lower()]
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


def sample(op: Operation, path: tuple[str, ...]) -> Any:
    """A valid body for ``op``; for an ingest route, a record that has the field if any does."""
    if op.path.startswith(INGEST):
        found = records(op.path.removeprefix(INGEST))
        having = [r for r in found if r.get(path[-1]) is not None]
        return {"records": [(having or found)[0]]}
    assert op.name in BODIES, f"{op.name} takes a date: add a valid body to BODIES"
    return BODIES[op.name]()


def with_value(body: Any, path: tuple[str, ...], value: str) -> tuple[Any, str]:
    """``body`` with ``value`` at ``path`` (first item of each list), and the field's name."""
    changed = copy.deepcopy(body)
    node, name = changed, "body"
    for step in path[:-1]:
        if step == "[]":
            node, name = node[0], f"{name}[0]"
        else:
            node, name = node[step], f"{name}.{step}"
    node[path[-1]] = value
    return changed, f"{name}.{path[-1]}"


def body_cases() -> Iterator[Any]:
    for op in OPERATIONS:
        if not op.takes_body:
            continue
        for path, kind in sorted(set(date_fields(_body_schema(op)))):
            for value in DAYS if kind == "date" else MOMENTS:
                yield pytest.param(op, path, value, id=f"{op.name} {'.'.join(path)}={value}")


def query_cases() -> Iterator[Any]:
    for op in OPERATIONS:
        operation = SCHEMA["paths"][op.path][op.method.lower()]
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and '"format": "date"' in json.dumps(parameter):
                for value in DAYS:
                    yield pytest.param(
                        op, parameter["name"], value, id=f"{op.name} ?{parameter['name']}={value}"
                    )


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHarness]:
    folder = tmp_path_factory.mktemp("dates")
    build_example(folder / "api.db")
    yield from api_harness(folder)


@pytest.fixture(scope="module")
def admin(api: ApiHarness) -> dict[str, str]:
    return api.headers(api.key("admin"))


def assert_refused_by_name(answer: Any, field: str) -> None:
    what = f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}"
    assert answer.status_code in (400, 422), what
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE, what
    errors = answer.json()["errors"]
    assert [e["field"] for e in errors] == [field], what
    assert OUT_OF_RANGE in errors[0]["reason"], what


@pytest.mark.parametrize(("op", "path", "value"), list(body_cases()))
def test_a_date_out_of_range_in_a_body_is_refused_at_its_field(
    api: ApiHarness, admin: dict[str, str], op: Operation, path: tuple[str, ...], value: str
) -> None:
    body, field = with_value(sample(op, path), path, value)
    before = database_digest(api.context.store)
    answer = api.client.request(op.method, op.path, json=body, headers=admin)
    assert_refused_by_name(answer, field)
    assert database_digest(api.context.store) == before


@pytest.mark.parametrize(("op", "name", "value"), list(query_cases()))
def test_a_date_out_of_range_in_a_query_is_refused_by_name(
    api: ApiHarness, admin: dict[str, str], op: Operation, name: str, value: str
) -> None:
    url = op.url({"account_id": "northwind"})
    answer = api.client.get(url, params={name: value}, headers=admin)
    assert_refused_by_name(answer, f"query.{name}")


def test_the_probe_reaches_every_kind_of_record_and_parameter() -> None:
    """Not empty by accident: every ingest route with a date, and the other bodies."""
    swept = {param.values[0].name for param in body_cases()}
    examples = [p for p in EXAMPLE_DATA.iterdir() if p.suffix in (".json", ".jsonl")]
    ingest = {f"POST {INGEST}{p.stem}" for p in examples if p.stem != "accounts"}
    assert ingest <= swept
    assert set(BODIES) <= swept
    assert len({param.values[0].name for param in query_cases()}) >= 10
