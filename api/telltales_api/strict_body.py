"""Request bodies decoded strictly, as the CLI and the core decode the same types.

litestar converts a body loosely: ``"arr": "5"`` passed as 5, so a body the schema
calls invalid was stored over HTTP while ``telltales ingest`` refused the same record.
Every route that takes a body declares ``dto=strict_body(Type)``: msgspec decodes the
bytes straight into the type, and a mistake is a problem detail naming the field
(``body.accounts[0].arr``). A date or time outside the days telltales reasons about
(1900 to 2999, a time in UTC) is refused the same way, wherever it is in the body.
The schema is the type's, as litestar documents any msgspec struct.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar, get_args

import msgspec
from litestar.dto import AbstractDTO
from litestar.dto.data_structures import DTOFieldDefinition
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition
from telltales.errors import ValidationPath, dotted, locate_validation_error, parse_path
from telltales.models import find_date_problem

from .problems import FieldError, ProblemError

ALSO_ACCEPTS = "also_accepts"
"""A route's ``opt`` key: media types its body may have besides JSON (``text/csv`` for
ingest), which the app's check of ``Content-Type`` lets through to the route's DTO."""


class StrictBody(AbstractDTO[Any]):
    """The body decoded by msgspec into ``body_type``; see :func:`strict_body`."""

    body_type: ClassVar[Any]
    records_field: ClassVar[str | None] = None

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        """Nothing to prepare: ``decode_bytes`` decodes with msgspec directly."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: Any
    ) -> Reference | Schema:
        schema: Reference | Schema = schema_creator.for_field_definition(field_definition)
        return schema

    def decode_bytes(self, value: bytes) -> Any:
        if not value.strip() and type(None) in get_args(self.body_type):
            return None  # an optional body left out
        try:
            body = msgspec.json.decode(value, type=self.body_type)
        except msgspec.ValidationError as error:
            raise self._invalid(*locate_validation_error(error)) from error
        except msgspec.DecodeError as error:
            raise ProblemError(
                400,
                "the body is not valid JSON",
                errors=[FieldError(field="body", reason=f"not valid JSON: {error}")],
            ) from error
        out_of_range = find_date_problem(body)
        if out_of_range is not None:
            path, reason = out_of_range
            raise self._invalid(reason, parse_path(path))
        return body

    @classmethod
    def _invalid(cls, reason: str, path: ValidationPath) -> ProblemError:
        field = dotted(("body", *path))
        records = cls.records_field
        if records is not None and field.startswith(f"body.{records}["):
            # A batch: the record is what the client fixes; nothing of the batch is kept.
            return ProblemError(
                422,
                "nothing was stored: a record is invalid",
                errors=[FieldError(field=field, reason=reason)],
            )
        return ProblemError(
            400, f"{field}: {reason}", errors=[FieldError(field=field, reason=reason)]
        )


def strict_body(body_type: Any, *, records_field: str | None = None) -> type[StrictBody]:
    """The DTO of a route whose body is ``body_type`` (``T | None`` for an optional one).

    ``records_field`` names the list of a batch body: a mistake in one of its records
    is a 422 ("nothing was stored"), any other mistake a 400.
    """
    name = getattr(body_type, "__name__", "Body")
    return type(
        f"{name}StrictBody",
        (StrictBody,),
        {"body_type": body_type, "records_field": records_field},
    )
