"""The OpenAPI schema is valid, lists every route, and documents every route's errors.

The routes are read from the app, so a route added later is held to the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from support.api import ApiHarness, api_harness
from support.routes import ROUTES, SCHEMA_PREFIX
from telltales_api.problems import PROBLEM_MEDIA_TYPE

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHarness]:
    yield from api_harness(tmp_path_factory.mktemp("schema"))


@pytest.fixture(scope="module")
def schema(api: ApiHarness) -> dict[str, Any]:
    response = api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def test_the_schema_is_valid_openapi(schema: dict[str, Any]) -> None:
    validate(schema)
    assert schema["openapi"].startswith("3.1")


def test_every_route_appears_with_its_method(api: ApiHarness, schema: dict[str, Any]) -> None:
    documented = {(method, path) for method, path, _ in _operations(schema)}
    expected = set()
    for route in api.client.app.routes:
        if route.path.startswith(SCHEMA_PREFIX):
            continue
        for handler in route.route_handlers:  # type: ignore[union-attr]
            if not handler.resolve_include_in_schema():
                continue  # the pages and /static (tests/pages)
            for method in handler.http_methods - {"OPTIONS"}:
                expected.add((method, route.path_format))
    assert expected - documented == set()
    assert len(expected) == len([r for r in ROUTES if not r[1].startswith(SCHEMA_PREFIX)])


def test_the_bearer_scheme_is_declared(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["apiKey"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


def _problem_response(operation: dict[str, Any], status: int) -> bool:
    response = operation["responses"].get(str(status))
    return response is not None and PROBLEM_MEDIA_TYPE in response.get("content", {})


def test_every_v1_operation_needs_the_key_and_documents_its_errors(
    schema: dict[str, Any],
) -> None:
    missing = []
    v1 = [op for op in _operations(schema) if op[1].startswith("/v1/")]
    for method, path, operation in v1:
        name = f"{method} {path}"
        if operation.get("security") != [{"apiKey": []}]:
            missing.append(f"{name}: security")
        wanted = [401, 403]
        takes_input = bool(operation.get("parameters")) or "requestBody" in operation
        if takes_input:
            wanted.append(400)
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            wanted.append(404)
        if "requestBody" in operation:
            wanted += [413, 415]
        missing.extend(
            f"{name}: {status}" for status in wanted if not _problem_response(operation, status)
        )
    assert missing == []
    assert len(v1) >= 4


def test_post_and_put_document_the_idempotency_answers(schema: dict[str, Any]) -> None:
    for method, path, operation in _operations(schema):
        if method in ("POST", "PUT") and path.startswith("/v1/"):
            for status in (400, 409, 422):
                assert _problem_response(operation, status), f"{method} {path}: {status}"


def test_the_problem_detail_is_described(schema: dict[str, Any]) -> None:
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) >= {"title", "status", "detail", "instance", "errors"}


def test_the_schema_ui_is_served(api: ApiHarness) -> None:
    response = api.client.get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in response.text
    assert "<title>telltales</title>" in response.text


def _valid(value: Any, schema: dict[str, Any]) -> bool:
    return not list(jsonschema.Draft202012Validator(schema).iter_errors(value))


def _field(schema: dict[str, Any], component: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["components"]["schemas"][component]["properties"][name]
    return found


@pytest.mark.parametrize(
    ("component", "name", "values", "send"),
    [
        (
            "NewPilot",
            "pilot_id",
            ["emea-trial", "p_2", "Bad Pilot!", "-lead", "x" * 65, "trial\n", "ok"],
            lambda value: (
                "POST",
                "/v1/pilots",
                {
                    "pilot_id": value,
                    "csm_groups": ["emea"],
                    "rules": ["no-such-rule"],
                    "playbooks": ["no-such-playbook"],
                    "starts_on": "2026-11-01",
                },
            ),
        ),
        (
            "NewKey",
            "name",
            ["ops bot", "tab\there", "zero\u200bwidth", "rtl\u202eoverride", "x" * 100, "café"],
            lambda value: ("POST", "/v1/keys", {"scopes": ["read"], "name": value}),
        ),
        (
            "Dismissal",
            "reason",
            ["handled by phone", "", "   ", "\u2003", "\x1c", "\ufeff", " ok "],
            lambda value: ("POST", "/v1/tasks/987654/dismiss", {"reason": value}),
        ),
    ],
)
def test_the_schema_states_the_rules_the_server_checks_in_code(
    api: ApiHarness,
    schema: dict[str, Any],
    component: str,
    name: str,
    values: list[str],
    send: Any,
) -> None:
    """Found by outside testers: ``NewPilot.pilot_id`` had no pattern (``"Bad Pilot!"``
    was refused), ``Dismissal.reason`` allowed a blank, ``NewKey.name`` did not say what
    it allows. The schema now states each rule, and the server refuses exactly what the
    schema does (a refusal names the field; anything else is not about it)."""
    admin = api.headers(api.key("admin"))
    rule = _field(schema, component, name)
    for value in values:
        method, path, body = send(value)
        answer = api.client.request(method, path, json=body, headers=admin)
        refused = f"body.{name}" in [e["field"] for e in answer.json().get("errors", [])]
        assert refused == (not _valid(value, rule)), f"{value!r}: {answer.text}"


def test_the_schema_states_required_bodies_and_the_range_of_dates(
    schema: dict[str, Any],
) -> None:
    dismiss = schema["paths"]["/v1/tasks/{task_id}/dismiss"]["post"]["requestBody"]
    assert dismiss["required"] is True
    assert "reason" in schema["components"]["schemas"]["Dismissal"]["required"]
    days = [
        option
        for _, _, operation in _operations(schema)
        for parameter in operation.get("parameters", [])
        for option in parameter["schema"].get("oneOf", [parameter["schema"]])
        if option.get("format") == "date"
    ]
    assert len(days) >= 10
    for day in days:
        assert [
            _valid(d, day) for d in ("1899-12-31", "1900-01-01", "2999-12-31", "3000-01-01")
        ] == [
            False,
            True,
            True,
            False,
        ]
