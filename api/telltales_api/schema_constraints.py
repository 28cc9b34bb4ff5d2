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
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import msgspec
from litestar import Litestar
from litestar.openapi.spec import Schema
from litestar.routes import HTTPRoute

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


def state_constraints(app: Litestar) -> None:
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
