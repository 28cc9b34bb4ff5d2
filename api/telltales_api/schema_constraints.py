"""The OpenAPI schema states every constraint that msgspec enforces on a body.

litestar writes each component's schema from the type itself and leaves out some of
what msgspec checks when it decodes the same type:

- a struct that refuses unknown fields (``additionalProperties: false``);
- constraints on list items (``list[Annotated[str, Meta(min_length=1)]]``);
- a bound of 0 on an optional field (``Annotated[int, Meta(ge=0)] | None``).

A client reading the schema, or a schema-driven fuzzer, would then send what the
server refuses. msgspec's own JSON schema of the same types is exact, so its
constraints are copied into litestar's components, property by property. Nothing
else of litestar's schema (names, descriptions, nullability) changes.

Some rules are checked in code, with words of their own, rather than by the type:
they are stated here (:data:`STATED`), each from the constant the code checks with,
so the two cannot drift apart. Every date and date-time, in a body or a query, has
the range every one is checked against (1900 to 2999, :data:`telltales.models.
DAY_PATTERN`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import msgspec
from litestar import Litestar
from litestar.openapi.spec import RequestBody, Schema
from litestar.routes import HTTPRoute
from telltales.models import DAY_PATTERN, NON_BLANK
from telltales.playbooks.pilots import PILOT_ID_PATTERN
from telltales.store.keys import NAME_PATTERN

CONSTRAINTS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minItems": "min_items",
    "maxItems": "max_items",
}
"""JSON Schema keywords, by the attribute litestar's ``Schema`` holds each in."""


STATED: dict[str, dict[str, dict[str, Any]]] = {
    "NewPilot": {
        "pilot_id": {"pattern": PILOT_ID_PATTERN},
        "csm_groups": {"min_items": 1, "items": {"pattern": NON_BLANK}},
        "rules": {"min_items": 1},
        "playbooks": {"min_items": 1},
    },
    "NewKey": {
        "name": {"pattern": NAME_PATTERN},
        "csm_groups": {"items": {"pattern": NON_BLANK}},
    },
    "Dismissal": {"reason": {"pattern": NON_BLANK, "required": True}},
}
"""Rules the server checks in code, by component and property, as Schema attributes
(``required`` puts the property in the component's ``required``): the pilot checks of
``telltales.playbooks.pilots``, the key checks of ``telltales.store.keys``, and the
dismissal's reason of ``routes/tasks.py``."""
REQUIRED_BODIES = frozenset({("POST", "/v1/tasks/{task_id}/dismiss")})
"""Routes whose body may be left out in the handler's signature but is required by
the handler (it answers a missing body with its own 422)."""


def state_constraints(app: Litestar) -> None:
    """Copy into ``app``'s OpenAPI components the constraints msgspec's schema states,
    then the rules stated here, and the range of every date."""
    _copy_msgspec(app)
    components = app.openapi_schema.components.schemas or {}
    for name, rules in STATED.items():
        _state(components[name], rules)
    for schema in components.values():
        _bound_dates(schema)
    for path, item in (app.openapi_schema.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method)
            if operation is None:
                continue
            for parameter in operation.parameters or ():
                _bound_dates(getattr(parameter, "schema", None))
            if (method.upper(), path) in REQUIRED_BODIES:
                _require_body(operation.request_body)


def _state(component: Schema, rules: dict[str, dict[str, Any]]) -> None:
    for field, rule in rules.items():
        rule = dict(rule)
        if rule.pop("required", False):
            component.required = sorted({*(component.required or []), field})
            rule["default"] = None  # the type's default is the handler's, not the client's
        _apply((component.properties or {})[field], rule)


def _apply(target: object, rule: dict[str, Any]) -> None:
    """Set ``rule``'s attributes on ``target``, or on each of its options that can hold
    them (the array of ``list | None``, the string of ``str | None``)."""
    if not isinstance(target, Schema):
        return
    options = target.one_of or target.any_of
    if options:
        for option in options:
            kind = getattr(getattr(option, "type", None), "value", None)
            if kind != "null":
                _apply(option, rule)
        return
    for attribute, value in rule.items():
        if attribute == "items":
            _apply(target.items, value)
        else:
            setattr(target, attribute, value)


def _bound_dates(schema: object) -> None:
    """Give every date and date-time in ``schema`` the range telltales checks."""
    if not isinstance(schema, Schema):
        return
    if getattr(schema.format, "value", None) in ("date", "date-time") and schema.pattern is None:
        schema.pattern = DAY_PATTERN
    for option in (*(schema.one_of or ()), *(schema.any_of or ())):
        _bound_dates(option)
    for inner in (schema.properties or {}).values():
        _bound_dates(inner)
    _bound_dates(schema.items)


def _require_body(body: object) -> None:
    """A required body, its ``T | None`` schema narrowed to ``T``."""
    if not isinstance(body, RequestBody):
        return
    body.required = True
    for media in body.content.values():
        schema = media.schema
        if isinstance(schema, Schema) and schema.one_of:
            kept = [
                o
                for o in schema.one_of
                if getattr(getattr(o, "type", None), "value", None) != "null"
            ]
            if len(kept) == 1:
                media.schema = kept[0]


def _copy_msgspec(app: Litestar) -> None:
    """Copy into ``app``'s OpenAPI components the constraints msgspec's schema states."""
    components = app.openapi_schema.components.schemas or {}
    _, exact = msgspec.json.schema_components(
        sorted(set(_structs(app)), key=lambda struct: struct.__qualname__),
        ref_template="#/components/schemas/{name}",
    )
    for name, schema in components.items():
        wanted = exact.get(name)
        properties = schema.properties or {}
        # The same name for another type (litestar or msgspec disambiguates): leave it.
        if wanted is None or set(wanted.get("properties", {})) != set(properties):
            continue
        if wanted.get("additionalProperties") is False:
            schema.additional_properties = False
        for field, exact_field in wanted["properties"].items():
            _merge(properties[field], exact_field)


def _merge(target: object, exact: dict[str, Any]) -> None:
    """Add to ``target`` what ``exact`` constrains and it does not, items and options too."""
    if not isinstance(target, Schema):
        return  # a reference: its component is merged on its own
    for keyword, attribute in CONSTRAINTS.items():
        if keyword in exact and getattr(target, attribute) is None:
            setattr(target, attribute, exact[keyword])
    if isinstance(exact.get("items"), dict):
        _merge(target.items, exact["items"])
    for options in (target.one_of, target.any_of):
        for option in options or ():
            kind = getattr(option, "type", None)
            for candidate in exact.get("anyOf", ()):
                if kind is not None and candidate.get("type") == getattr(kind, "value", kind):
                    _merge(option, candidate)


def _structs(app: Litestar) -> Iterator[type[msgspec.Struct]]:
    """Every msgspec struct a route takes or returns, however deeply it is wrapped."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            signature = handler.parsed_fn_signature
            annotations = [p.annotation for p in signature.parameters.values()]
            yield from _unwrap([*annotations, signature.return_type.annotation])


def _unwrap(annotations: list[Any]) -> Iterator[type[msgspec.Struct]]:
    for annotation in annotations:
        if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
            yield annotation
        yield from _unwrap(list(get_args(annotation)))
