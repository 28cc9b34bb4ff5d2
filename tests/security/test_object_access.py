"""OWASP API1 (broken object level authorization): a key of CSM group A gets nothing of B.

Every operation of the app's own OpenAPI schema is swept with a key limited to group A
that holds every scope such a key can hold (read, ingest, act), aimed at the other
groups' objects: their accounts, tasks, pilots and runs by id (every id there is, as a
guesser would try them), their groups and accounts as filters, their records as
bodies. Each answer must be a documented status, 404 for another group's object
(403 where the route documents it, or where a filter names another group), and must
carry nothing of theirs; a refused write must leave the database byte for byte as it
was. An operation added later is swept too; one that takes a parameter or a body this
file has no sample of fails until one is added. The book is built once by
:func:`support.security_routes.build_book`.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.api import ApiHarness
from support.api_example import records
from support.security_routes import (
    A_ACCOUNT,
    A_GROUP,
    A_PILOT,
    B_ACCOUNTS,
    B_GROUPS,
    B_PILOT,
    IDLE_PILOT,
    Book,
    Operation,
    book_harness,
    build_book,
    database_digest,
    operations,
    rows_of_groups,
)
from telltales.store import Store
from telltales_api import create_app
from telltales_api.context import ApiSettings
from telltales_api.paging import encode_cursor

pytestmark = pytest.mark.reliability

OPERATIONS = [
    op
    for op in operations(create_app(ApiSettings(db=Path("never-opened.db"))))
    if op.scope is not None
]
INGEST = "/v1/ingest/"
DOCUMENTED_403 = {"GET /v1/runs/{run_id}", "GET /v1/backtests/{backtest_id}"}
"""Runs and backtests cover every group, so a key limited to groups may not read one
(routes/runs.py, routes/backtests.py)."""
NEUTRAL_QUERY = frozenset(
    {
        "as_of",
        "cohort",
        "cursor",
        "due_before",
        "from",
        "grade",
        "kind",
        "limit",
        "lookback_days",
        "renewal_within_days",
        "sort",
        "state",
        "status",
        "to",
        "window_days",
    }
)
"""Query parameters that name nothing of a group: no variant aims them at group B."""


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Book]:
    folder = tmp_path_factory.mktemp("book")
    return folder, build_book(folder / "api.db")


@pytest.fixture(scope="module")
def api(
    book_dir: tuple[Path, Book], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiHarness]:
    """One app over the book for the sweep: every write in it is expected to be refused."""
    yield from book_harness(book_dir[0] / "api.db", book_dir[1], tmp_path_factory.mktemp("sweep"))


@pytest.fixture
def fresh(book_dir: tuple[Path, Book], tmp_path: Path) -> Iterator[ApiHarness]:
    """An app over a copy of its own, for tests whose writes may be stored."""
    yield from book_harness(book_dir[0] / "api.db", book_dir[1], tmp_path)


@pytest.fixture(scope="module")
def keys(api: ApiHarness) -> dict[str, str]:
    return {
        "a": api.key("read", "ingest", "act", groups=[A_GROUP], name="group-a"),
        "admin": api.key("admin", name="ops"),
    }


@pytest.fixture(scope="module")
def markers(api: ApiHarness) -> list[str]:
    """Strings that only the other groups' data holds: ids, names, owners, groups, pilot."""
    store = api.context.store
    a_owners = {
        str(row[0])
        for row in store.db.execute("SELECT owner FROM accounts WHERE csm_group = ?", [A_GROUP])
    }
    found = {*B_GROUPS, B_PILOT, IDLE_PILOT}
    for account_id, name, owner in store.db.execute(
        "SELECT account_id, name, owner FROM accounts WHERE csm_group != ?", [A_GROUP]
    ):
        found |= {str(account_id), str(name)}
        if owner not in a_owners:
            found.add(str(owner))
    assert set(B_ACCOUNTS) <= found
    return sorted(found | _record_ids(B_ACCOUNTS) - _record_ids([A_ACCOUNT]))


def _record_ids(accounts: Iterable[str]) -> set[str]:
    """The ids of the accounts' ingested records (contacts, tickets, meetings, items...)."""
    wanted = set(accounts)
    found: set[str] = set()
    for op in OPERATIONS:
        if not op.path.startswith(INGEST):
            continue
        for record in records(op.path.removeprefix(INGEST)):
            if record.get("account_id") not in wanted:
                continue
            for field, value in record.items():
                if field.endswith("_id") and field != "account_id":
                    found.add(str(value))
                elif field.endswith("_ids"):
                    found |= {str(item) for item in value}
    return found


def leaks(response: httpx.Response, markers: list[str]) -> list[str]:
    """Markers in the answer that the request did not send itself."""
    sent = str(response.request.url) + response.request.content.decode(errors="replace")
    return [m for m in markers if m in response.text and m not in sent]


PATH_SAMPLES = {
    "account_id": lambda book: list(B_ACCOUNTS),
    "task_id": lambda book: list(book.b_tasks),
    "run_id": lambda book: [book.run_id],
    "backtest_id": lambda book: [1, 2],
    "delivery_id": lambda book: list(book.b_deliveries),
    "pilot_id": lambda book: [B_PILOT, IDLE_PILOT],
    "key_id": lambda book: ["0123456789ab"],
}
"""Group B's objects by path parameter: every id a guesser could find."""

QUERY_SAMPLES: dict[str, list[str]] = {
    "csm_group": list(B_GROUPS),
    "account_id": list(B_ACCOUNTS),
    "assignee": ["li.chen@vendor.example", "sam.okafor@vendor.example"],
    "owner": ["li.chen@vendor.example", "sam.okafor@vendor.example"],
    "segment": ["enterprise", "smb"],
    "group_by": ["csm_group", "segment", "cohort"],
}
"""Query parameters aimed at group B; a filter naming B's group is refused (403)."""


def _account(account_id: str, group: str) -> dict[str, Any]:
    (found,) = [a for a in records("accounts") if a["account_id"] == account_id]
    return {**found, "csm_group": group}


def _b_records(source: str) -> list[dict[str, Any]]:
    found = [r for r in records(source) if r.get("account_id") in B_ACCOUNTS][:3]
    assert found, f"examples/data/{source} holds no record of group B's accounts"
    return found


BODIES = {
    "PUT /v1/accounts": lambda: [
        {"accounts": [_account("ferrum", "apac-midmarket")]},
        {"accounts": [_account("ferrum", A_GROUP)]},
        {"accounts": [_account(A_ACCOUNT, A_GROUP), _account("bluepeak", A_GROUP)]},
    ],
    "PUT /v1/renewals": lambda: [
        {
            "renewals": [
                {
                    "account_id": account,
                    "renewal_date": "2026-11-25",
                    "arr_before": 100000,
                    "arr_after": 1,
                    "outcome": "renewed",
                }
            ]
        }
        for account in B_ACCOUNTS
    ],
    "POST /v1/tasks/{task_id}/dismiss": lambda: [{"reason": "not mine to dismiss"}],
    "POST /v1/runs": lambda: [{"as_of": "2026-11-21", "accounts": list(B_ACCOUNTS)}],
    "POST /v1/pilots": lambda: [
        {
            "pilot_id": "takeover",
            "csm_groups": list(B_GROUPS),
            "rules": ["sponsor_left"],
            "playbooks": ["at_risk_response"],
            "starts_on": "2026-11-01",
        }
    ],
    "POST /v1/history": lambda: [{"renewals": []}],
    "POST /v1/keys": lambda: [{"scopes": ["read"], "csm_groups": list(B_GROUPS)}],
    "POST /v1/backtests": lambda: [{"from_day": "2026-08-01", "to_day": "2026-08-01"}],
}
"""Bodies aimed at group B, by operation; ingest routes send B's example records."""


def _bodies(op: Operation) -> list[Any]:
    if not op.takes_body:
        return [None]
    if op.method == "POST" and op.path.startswith(INGEST):
        source = op.path.removeprefix(INGEST)
        theirs = _b_records(source)
        mine = [r for r in records(source) if r.get("account_id") == A_ACCOUNT][:1]
        return [{"records": theirs}, {"records": [*mine, *theirs]}]
    if op.path.startswith("/v1/pilots/{pilot_id}/"):
        return [{"reason": "taking it over"}]
    assert op.name in BODIES, f"{op.name}: add a body aimed at group B to BODIES"
    return BODIES[op.name]()


def _attempts(op: Operation, book: Book) -> list[tuple[str, dict[str, str], Any, set[int]]]:
    """(url, query, body, statuses allowed) for every request aimed at group B."""
    if op.scope == "admin" or op.name in DOCUMENTED_403:
        expected = {403}
    elif op.path_params:
        expected = {404}
    elif op.method != "GET":
        expected = {403, 422}
    else:
        expected = {200}
    for name in op.path_params:
        assert name in PATH_SAMPLES, f"{op.name}: add group B's {name} values to PATH_SAMPLES"
    ids = [PATH_SAMPLES[name](book) for name in op.path_params]
    attempts = []
    for values in itertools.product(*ids):
        url = op.url(dict(zip(op.path_params, values, strict=True)))
        for body in _bodies(op):
            attempts.append((url, {}, body, expected))
    if op.method == "GET" and not op.path_params:
        for name in op.query_params:
            assert name in QUERY_SAMPLES or name in NEUTRAL_QUERY, (
                f"{op.name}: say in QUERY_SAMPLES how {name!r} could aim at group B, "
                "or add it to NEUTRAL_QUERY"
            )
            for value in QUERY_SAMPLES.get(name, []):
                refused = name == "csm_group" or op.scope == "admin"
                attempts.append((op.path, {name: value}, None, {403} if refused else expected))
    return attempts


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_a_key_of_group_a_gets_nothing_of_other_groups(
    api: ApiHarness,
    book_dir: tuple[Path, Book],
    keys: dict[str, str],
    markers: list[str],
    op: Operation,
) -> None:
    headers = api.headers(keys["a"])
    store = api.context.store
    before = database_digest(store)
    attempts = _attempts(op, book_dir[1])
    assert attempts
    for url, query, body, expected in attempts:
        response = api.client.request(op.method, url, params=query, json=body, headers=headers)
        what = f"{op.method} {url} {query} {body}: {response.status_code} {response.text[:300]}"
        assert response.status_code in expected, what
        assert response.status_code in op.responses, f"undocumented status: {what}"
        assert leaks(response, markers) == [], what
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", what
    assert database_digest(store) == before, f"{op.name}: a refused request wrote"


def test_group_a_sees_its_own(
    api: ApiHarness, book_dir: tuple[Path, Book], keys: dict[str, str]
) -> None:
    """The sweep's empty answers are not empty by accident: A's own objects are listed."""
    book = book_dir[1]
    headers = api.headers(keys["a"])

    def items(path: str, field: str) -> list[Any]:
        response = api.client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return [item[field] for item in response.json()["items"]]

    assert [
        a["account"]["account_id"]
        for a in api.client.get("/v1/accounts", headers=headers).json()["items"]
    ] == [A_ACCOUNT]
    assert items("/v1/tasks", "task_id") == [book.a_task]
    assert items("/v1/renewals", "account_id") == [A_ACCOUNT]
    assert items("/v1/pilots", "pilot_id") == [A_PILOT]
    assert api.client.get(f"/v1/accounts/{A_ACCOUNT}/health", headers=headers).status_code == 200
    assert api.client.get(f"/v1/tasks/{book.a_task}", headers=headers).status_code == 200
    admin = api.headers(keys["admin"])
    assert len(api.client.get("/v1/tasks", headers=admin).json()["items"]) == 1 + len(book.b_tasks)


def _same_but_the_id(
    hidden: httpx.Response, missing: httpx.Response, hidden_id: str, missing_id: str
) -> None:
    """A hidden object answers word for word as a missing one, but for the id asked for."""
    assert hidden.status_code == missing.status_code
    assert _without(hidden.text, hidden_id) == _without(missing.text, missing_id)


def _without(text: str, word: str) -> str:
    return re.sub(rf"(?<![\w.-]){re.escape(word)}(?![\w.-])", "ID", text)


def test_guessed_task_ids_answer_as_missing_ones(
    api: ApiHarness, book_dir: tuple[Path, Book], keys: dict[str, str]
) -> None:
    book = book_dir[1]
    headers = api.headers(keys["a"])
    store = api.context.store
    before = database_digest(store)
    last = max(book.a_task, *book.b_tasks)
    missing = last + 100
    for verb, body in (
        ("", None),
        ("/complete", None),
        ("/approve", None),
        ("/dismiss", {"reason": "x"}),
    ):
        method = "GET" if not verb else "POST"
        absent = api.client.request(
            method, f"/v1/tasks/{missing}{verb}", json=body, headers=headers
        )
        assert absent.status_code == 404
        for task_id in range(1, last + 3):
            if task_id == book.a_task:
                continue
            guessed = api.client.request(
                method, f"/v1/tasks/{task_id}{verb}", json=body, headers=headers
            )
            _same_but_the_id(guessed, absent, str(task_id), str(missing))
    assert database_digest(store) == before


def test_a_run_id_tells_a_limited_key_nothing(
    api: ApiHarness, book_dir: tuple[Path, Book], keys: dict[str, str]
) -> None:
    headers = api.headers(keys["a"])
    answers = {
        _without(api.client.get(f"/v1/runs/{n}", headers=headers).text, str(n)) for n in (1, 2, 999)
    }
    assert len(answers) == 1
    assert '"status":403' in answers.pop()


def test_health_read_by_an_admin_first_is_still_hidden(
    api: ApiHarness, keys: dict[str, str], markers: list[str]
) -> None:
    """The health cache is shared by every key: what it holds is checked per key."""
    admin = api.headers(keys["admin"])
    headers = api.headers(keys["a"])
    absent = api.client.get("/v1/accounts/nobody/health", headers=headers)
    for account in B_ACCOUNTS:
        for as_of in (None, "2026-11-20"):
            params = {"as_of": as_of} if as_of else {}
            path = f"/v1/accounts/{account}/health"
            assert api.client.get(path, params=params, headers=admin).status_code == 200
            hidden = api.client.get(path, params=params, headers=headers)
            assert leaks(hidden, markers) == []
            if not as_of:
                _same_but_the_id(hidden, absent, account, "nobody")
            assert hidden.status_code == 404


@pytest.mark.parametrize(
    "op", [op for op in OPERATIONS if op.path.startswith("/v1/metrics/")], ids=lambda op: op.name
)
@pytest.mark.parametrize("group_by", [None, "csm_group", "segment", "cohort"])
def test_metrics_of_a_limited_key_count_its_group_only(
    api: ApiHarness, keys: dict[str, str], op: Operation, group_by: str | None
) -> None:
    """Group A's key gets exactly the numbers an admin gets by asking for group A."""
    period = {
        "from": "2026-01-01",
        "to": "2026-12-31",
        **({"group_by": group_by} if group_by else {}),
    }
    limited = api.client.get(op.path, params=period, headers=api.headers(keys["a"]))
    cut = api.client.get(
        op.path, params={**period, "csm_group": A_GROUP}, headers=api.headers(keys["admin"])
    )
    everyone = api.client.get(op.path, params=period, headers=api.headers(keys["admin"]))
    assert limited.status_code == cut.status_code == everyone.status_code == 200
    mine, theirs = limited.json(), cut.json()
    mine.pop("filters"), theirs.pop("filters")
    assert mine == theirs


@pytest.mark.parametrize(
    ("path", "sort_key"),
    [
        ("/v1/accounts", lambda item: ["account_id", 0.0, item["account"]["account_id"]]),
        ("/v1/tasks", lambda item: [item["due_on"], item["task_id"]]),
        ("/v1/renewals", lambda item: [item["renewal_date"], item["account_id"]]),
        ("/v1/pilots", lambda item: [item["pilot_id"]]),
    ],
)
def test_a_cursor_from_another_keys_pages_reveals_nothing(
    api: ApiHarness, keys: dict[str, str], markers: list[str], path: str, sort_key: Any
) -> None:
    """Cursors are sort keys: one made at another group's rows only resumes the key's own."""
    admin = api.client.get(path, params={"limit": 500}, headers=api.headers(keys["admin"]))
    cursors = [encode_cursor(sort_key(item)) for item in admin.json()["items"]]
    assert len(cursors) > 1
    for cursor in cursors:
        page = api.client.get(path, params={"cursor": cursor}, headers=api.headers(keys["a"]))
        assert page.status_code == 200, page.text
        assert leaks(page, markers) == []


def test_an_idempotency_key_never_replays_another_keys_answer(
    fresh: ApiHarness, book_dir: tuple[Path, Book]
) -> None:
    book = book_dir[1]
    task_id = book.b_tasks[0]
    group = fresh.context.store.db.execute(
        "SELECT a.csm_group FROM tasks t JOIN accounts a USING (account_id) WHERE task_id = ?",
        [task_id],
    ).fetchone()[0]
    owner = fresh.headers(fresh.key("act", groups=[group]))
    other = fresh.headers(fresh.key("act", groups=[A_GROUP]))
    path = f"/v1/tasks/{task_id}/dismiss"
    body = {"reason": "handled by phone"}
    done = fresh.client.post(path, json=body, headers={**owner, "Idempotency-Key": "same-1"})
    assert done.status_code == 200, done.text
    replay = fresh.client.post(path, json=body, headers={**other, "Idempotency-Key": "same-1"})
    assert replay.status_code == 404
    assert "Idempotency-Replayed" not in replay.headers
    assert "handled by phone" not in replay.text


def _with_their_ids(mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """A's own record carrying B's object ids (a contact's, a ticket's), nothing else of B."""
    ids = {
        field: value
        for field, value in theirs.items()
        if (field.endswith("_id") and field != "account_id") or field.endswith("_ids")
    }
    return {**mine, **ids}


@pytest.mark.parametrize(
    "op",
    [op for op in OPERATIONS if op.path.startswith(INGEST)],
    ids=lambda op: op.name,
)
def test_ingesting_under_a_own_account_cannot_take_over_other_groups_rows(
    fresh: ApiHarness, op: Operation, markers: list[str]
) -> None:
    """B's records sent as A's: a record keyed by its own id (a ticket, a meeting) would
    overwrite B's row; the write guard refuses the batch, and B's rows stay. A's own
    records carrying only B's ids get an answer that names nothing else of B's (not the
    account a contact is recorded at, found by outside testers)."""
    store = fresh.context.store
    before = rows_of_groups(store, B_GROUPS)
    source = op.path.removeprefix(INGEST)
    (mine,) = [r for r in records(source) if r.get("account_id") == A_ACCOUNT][:1]
    batches = [
        [{**record, "account_id": A_ACCOUNT} for record in _b_records(source)],
        [_with_their_ids(mine, record) for record in _b_records(source)],
    ]
    headers = fresh.headers(fresh.key("ingest", groups=[A_GROUP]))
    for batch in batches:
        response = fresh.client.post(op.path, json={"records": batch}, headers=headers)
        assert response.status_code in (200, 422), response.text
        assert rows_of_groups(store, B_GROUPS) == before
        assert leaks(response, markers) == [], response.text


# Work done before the access decision: another group's object against a missing one.

STATEMENTS: list[str] = []
"""Every SQL statement the traced app ran, as SQLite expanded it (values inline)."""
MISSING = {"account_id": "nobody-here", "pilot_id": "no-such-pilot", "key_id": "0123456789ab"}
MISSING_ID = 987654
"""A task, delivery or run id that no book holds."""


@pytest.fixture(scope="module")
def traced(
    book_dir: tuple[Path, Book], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiHarness]:
    """An app over a copy of the book whose every connection reports its statements."""
    connect = Store._connect

    def tracing(store: Store, *, read_only: bool) -> sqlite3.Connection:
        conn = connect(store, read_only=read_only)
        conn.set_trace_callback(STATEMENTS.append)
        return conn

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Store, "_connect", tracing)
        yield from book_harness(
            book_dir[0] / "api.db", book_dir[1], tmp_path_factory.mktemp("traced")
        )


def _hidden_ids(book: Book, admin_key_id: str) -> dict[str, object]:
    return {
        "account_id": "ferrum",
        # Not 1: a query's own LIMIT 1 would be taken for the id.
        "task_id": max(book.b_tasks),
        "delivery_id": max(book.b_deliveries),
        "run_id": book.run_id,
        "backtest_id": 1,
        "pilot_id": B_PILOT,
        "key_id": admin_key_id,
    }


def _account_body(op: Operation, account_id: str) -> Any:
    """A body naming ``account_id`` where the route takes an account, else None."""
    if op.path.startswith(INGEST):
        source = op.path.removeprefix(INGEST)
        mine = [r for r in records(source) if r.get("account_id") == A_ACCOUNT][:1]
        return {"records": [{**mine[0], "account_id": account_id}]} if mine else None
    if op.name == "PUT /v1/accounts":
        return {"accounts": [{**_account(A_ACCOUNT, A_GROUP), "account_id": account_id}]}
    if op.name == "PUT /v1/renewals":
        renewal = BODIES[op.name]()[0]["renewals"][0]
        return {"renewals": [{**renewal, "account_id": account_id}]}
    return None


def _pair(op: Operation, hidden: dict[str, object]) -> tuple[Any, Any, list[str]] | None:
    """(request for another group's object, for a missing one, the ids) or None: nothing
    of ``op`` names an object."""
    if op.path_params:
        names = op.path_params
        missing = {n: MISSING.get(n, MISSING_ID) for n in names}
        body = _bodies(op)[0]
        return (
            (op.url(hidden), {}, body),
            (op.url(missing), {}, body),
            [f"{hidden[n]}={missing[n]}" for n in names],
        )
    if op.takes_body:
        theirs, absent = _account_body(op, "ferrum"), _account_body(op, MISSING["account_id"])
        if theirs is None:
            return None
        return (op.path, {}, theirs), (op.path, {}, absent), ["ferrum=nobody-here"]
    if "account_id" in op.query_params:
        return (
            (op.path, {"account_id": "ferrum"}, None),
            (op.path, {"account_id": MISSING["account_id"]}, None),
            ["ferrum=nobody-here"],
        )
    return None


def _names_object(op: Operation) -> bool:
    return (
        bool(op.path_params)
        or "account_id" in op.query_params
        or (op.takes_body and _account_body(op, A_ACCOUNT) is not None)
    )


NAMING = [op for op in OPERATIONS if _names_object(op)]
"""Every operation that names an object: by path, by a record's account, by a filter."""


def _masked(text: str, ids: list[str], side: int) -> str:
    for pair in ids:
        text = _without(text, pair.split("=")[side])
    return text


@pytest.mark.parametrize("op", NAMING, ids=lambda op: op.name)
def test_another_groups_object_and_a_missing_one_get_the_same_answer_by_the_same_work(
    traced: ApiHarness, book_dir: tuple[Path, Book], op: Operation
) -> None:
    """Found by outside testers: ``PUT /v1/accounts`` of another group's id was refused
    while an unknown id was created, and the health document was composed before the
    group check (a slower 404). For every route that names an object (by path, by the
    account of a body's record, by an ``account_id`` filter), another group's object
    and a missing one must answer alike (status and body, but for the id) and run the
    very same SQL statements: the access decision comes before any other work, so
    none can be told apart by what, or how long, the server did."""
    headers = traced.headers(traced.key("read", "ingest", "act", groups=[A_GROUP]))
    admin_key_id = traced.key("admin").split("_")[1]
    pair = _pair(op, _hidden_ids(book_dir[1], admin_key_id))
    assert pair is not None
    (hidden_url, hidden_query, hidden_body), (url, query, body), ids = pair
    before = database_digest(traced.context.store)
    answers, work = [], []
    for target, params, sent in ((hidden_url, hidden_query, hidden_body), (url, query, body)):
        traced.client.request(op.method, target, params=params, json=sent, headers=headers)
        STATEMENTS.clear()  # the second of two: the key and the connections are warm
        answer = traced.client.request(op.method, target, params=params, json=sent, headers=headers)
        answers.append(answer)
        work.append([s for s in STATEMENTS if not s.lstrip().upper().startswith("PRAGMA")])
    hidden, missing = answers
    what = f"{op.name}: {hidden.status_code} {hidden.text[:200]} / {missing.status_code}"
    assert hidden.status_code == missing.status_code, what
    assert _masked(hidden.text, ids, 0) == _masked(missing.text, ids, 1), what
    assert [_masked(s, ids, 0) for s in work[0]] == [_masked(s, ids, 1) for s in work[1]], what
    assert database_digest(traced.context.store) == before, f"{op.name} wrote"
