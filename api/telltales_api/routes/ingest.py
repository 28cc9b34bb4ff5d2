"""``POST /v1/ingest/{source}``: the plugins' raw records, one route per record type.

Each ingester a plugin registers declares its record type; the core serves a route
for it, so the OpenAPI schema documents every source's records field by field. A
batch is all or nothing: one invalid record, or one naming an account the key may
not write to, stores nothing, and the answer names every such record by index and
field (``body.records[3].day``). Re-sending a batch stores nothing twice: ingesters
upsert or replace (a day of usage re-sent replaces that day).

Accounts are not ingested here: ``PUT /v1/accounts`` is the one way to write them,
so that creating an account and moving it between CSM groups go through the route
that checks the key's groups for both.
"""

from __future__ import annotations

import inspect
import re
import sqlite3
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Annotated, Any, ClassVar

import msgspec
from litestar import Request, Router, post
from litestar.connection import ASGIConnection
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody, QueryParameter
from telltales.errors import InputError
from telltales.plugins import Registry
from telltales.signals.csv_records import MEDIA_TYPE, decode_csv
from telltales.signals.ingest import ingest
from telltales.store.keys import ApiKey

from telltales_api.account_access import refuse_unwritable_accounts
from telltales_api.auth import SECURITY, Key, needs
from telltales_api.context import ApiContext, Context
from telltales_api.problems import FieldError, ProblemError, problem_responses
from telltales_api.strict_body import ALSO_ACCEPTS, StrictBody
from telltales_api.write_guard import confined_to, is_refusal

SERVED_ELSEWHERE = frozenset({"accounts"})
"""Ingesters with a route of their own (``PUT /v1/accounts``)."""


def _is_csv(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    content_type = connection.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == MEDIA_TYPE


class CsvOrJsonBody(StrictBody):
    """A batch body as JSON (``{"records": [...]}``) or, by ``Content-Type``, as CSV."""

    record_type: ClassVar[type[msgspec.Struct]]

    def decode_bytes(self, value: bytes) -> Any:
        if not _is_csv(self.asgi_connection):
            return super().decode_bytes(value)
        try:
            records = decode_csv(self.record_type, value)
        except InputError as error:
            raise ProblemError(
                422,
                f"nothing was stored: {error}",
                errors=[FieldError(field="body", reason=str(error))],
            ) from error
        return self.body_type(records=records)


def csv_or_json_body(batch_type: Any, record_type: type[msgspec.Struct]) -> type[CsvOrJsonBody]:
    """The DTO of one ingester's route: its batch type, and its record type for CSV."""
    return type(
        f"{batch_type.__name__}Body",
        (CsvOrJsonBody,),
        {"body_type": batch_type, "records_field": "records", "record_type": record_type},
    )


class IngestReport(msgspec.Struct, kw_only=True):
    """What a batch did."""

    source: str
    received: int
    """Records in the batch."""
    stored: int
    """Rows the records created or replaced, each counted once: re-sending a batch
    replaces the same rows."""
    folded: int
    """Records that repeated another of the batch (the same row by the ingester's key)
    and were folded into it, the last one winning: ``received - stored``."""


def router_for(registry: Registry) -> Router:
    """One ``POST /v1/ingest/{source}`` route per ingester the plugins registered."""
    handlers = [
        _route(name, entry.obj.record_type, entry.plugin)
        for name, entry in sorted(registry.ingesters.items())
        if name not in SERVED_ELSEWHERE
    ]
    return Router(path="/v1", tags=["ingest"], security=SECURITY, route_handlers=handlers)


def _route(name: str, record_type: type[msgspec.Struct], plugin: str) -> HTTPRouteHandler:
    """The route for one ingester: its body type is built here, from its record type."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_")
    batch_type = msgspec.defstruct(
        "".join(part.capitalize() for part in slug.split("_")) + "Batch",
        [("records", list[record_type])],  # type: ignore[valid-type]
        kw_only=True,
        forbid_unknown_fields=True,
        module=__name__,
    )

    def handler(
        data: Any,
        context: ApiContext,
        key: ApiKey,
        request: Request[Any, Any, Any],
        allow_empty: bool = False,
    ) -> IngestReport:
        if not data.records and not allow_empty and _is_csv(request):
            # A JSON body's empty list is explicit; an empty CSV export is more often
            # a failed one, as an empty file is for `telltales ingest`.
            raise ProblemError(
                422,
                "the CSV body holds no records; nothing was stored (add ?allow_empty=true "
                "when an empty export is expected)",
                errors=[FieldError(field="body", reason="no records")],
            )
        return _ingest(context, key, name, record_type, data.records)

    # Litestar reads the signature for the body's schema and the injected parameters.
    handler.__annotations__ = {
        "data": JSONBody[batch_type],  # type: ignore[misc, valid-type]
        "context": Context,
        "key": Key,
        "request": Request,
        "allow_empty": Annotated[
            bool,
            QueryParameter(
                description="Accept a CSV body of no records (it stores nothing); without "
                "it an empty CSV body is refused, as an empty export is more often a failed "
                "one.",
            ),
        ],
        "return": IngestReport,
    }
    handler.__name__ = handler.__qualname__ = f"ingest_{slug}"
    record_doc = inspect.cleandoc(record_type.__doc__ or "")
    return post(
        f"/ingest/{name}",
        opt={**needs("ingest"), ALSO_ACCEPTS: (MEDIA_TYPE,)},
        sync_to_thread=True,
        status_code=200,
        dto=csv_or_json_body(batch_type, record_type),
        return_dto=None,
        responses=problem_responses(400, 401, 403, 413, 422),
        summary=f"Ingest {name} records (plugin {plugin})",
        description=(
            f"{record_doc}\n\nAll or nothing: one invalid record, or one naming an account "
            "this key may not write to, stores nothing; every such record is named by index "
            "and field. Re-sending a batch stores nothing twice.\n\nThe body may also be "
            "CSV (`Content-Type: text/csv`): a header row of field names, then one record "
            "per row, decoded into the same records (an empty cell is a field left out; a "
            "list field's items are separated by `;`); a mistake is named by line and field."
        ),
    )(handler)


def _ingest(
    context: ApiContext,
    key: ApiKey,
    name: str,
    record_type: type[msgspec.Struct],
    records: Sequence[Any],
) -> IngestReport:
    store = context.store
    limited = key.csm_groups is not None
    by_account = "account_id" in record_type.__struct_fields__
    if limited and not by_account:
        raise ProblemError(
            403,
            f"{name} records belong to no account, so a key limited to CSM groups may not "
            "ingest them",
        )
    # An ingester may take records of accounts it creates (checks_account_ids = False);
    # a key limited to groups still writes only to accounts it can see.
    ingester = context.registry.ingesters[name].obj
    checks = by_account and (limited or getattr(ingester, "checks_account_ids", True))
    try:
        with store.transaction() as db:
            if checks:
                refuse_unwritable_accounts(db, key, records, "body.records")
            with confined_to(db, key.csm_groups) if key.csm_groups is not None else nullcontext():
                done = ingest(store, context.registry, name, records)
    except OverflowError as error:
        raise _too_large(records) from error
    except sqlite3.IntegrityError as error:
        if not is_refusal(error):
            raise
        raise ProblemError(
            422,
            "nothing was stored: a record would change data of an account this key may not "
            "write to (its id is taken by such an account)",
            errors=[FieldError(field="body.records", reason="an id of another group's account")],
        ) from error
    return IngestReport(source=name, received=done.received, stored=done.stored, folded=done.folded)


LARGEST = 2**63 - 1
"""SQLite's largest integer; JSON and msgspec allow larger ones."""


def _too_large(records: Sequence[Any]) -> ProblemError:
    """422 naming the first integer SQLite cannot hold (looked for only once one failed)."""
    found = (
        _first_too_large(msgspec.to_builtins(record), f"body.records[{index}]")
        for index, record in enumerate(records)
    )
    path = next((p for p in found if p is not None), None)
    return ProblemError(
        422,
        "nothing was stored: a number is too large",
        errors=[
            FieldError(
                field=path or "body.records",
                reason=f"an integer beyond {-LARGEST - 1}..{LARGEST}",
            )
        ],
    )


def _first_too_large(value: Any, path: str) -> str | None:
    if isinstance(value, int) and not -LARGEST - 1 <= value <= LARGEST:
        return path
    if isinstance(value, dict):
        items: Any = ((f"{path}.{k}", v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for inner_path, inner in items:
        found = _first_too_large(inner, inner_path)
        if found is not None:
            return found
    return None
