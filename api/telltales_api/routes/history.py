"""``POST /v1/history``: import transitions, playbook runs and renewals from another platform."""

from __future__ import annotations

from litestar import Router, post
from litestar.params import JSONBody
from telltales.outcomes.history_import import HistoryImport, HistoryReport, import_history
from telltales.outcomes.renewals import InvalidRecords

from telltales_api.auth import SECURITY, Key, actor, needs
from telltales_api.context import Context
from telltales_api.problems import problem_responses
from telltales_api.routes.renewals import invalid_body
from telltales_api.strict_body import strict_body


@post(
    "/history",
    opt=needs("admin"),
    dto=strict_body(HistoryImport),
    return_dto=None,
    status_code=200,
    sync_to_thread=True,
    responses=problem_responses(400, 401, 403, 413, 422),
)
def post_history(context: Context, key: Key, data: JSONBody[HistoryImport]) -> HistoryReport:
    """Import past status transitions, playbook runs with their tasks, and renewal outcomes.

    All or nothing, in one transaction; an invalid record is named by section, index
    and field. History goes before telltales' own (an account's imported transitions
    and runs must be dated before the first one telltales recorded) and is never
    rewritten; sending the same history again adds nothing. The format is in
    docs/history-import.md.
    """
    try:
        return import_history(context.store, data, by=actor(key))
    except InvalidRecords as error:
        raise invalid_body(error) from error


router = Router(path="/v1", tags=["history"], security=SECURITY, route_handlers=[post_history])
