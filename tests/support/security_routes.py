"""The API's operations as its own OpenAPI schema lists them, and a book of two sides.

The security tests sweep every operation the app serves, so a route added later is
swept without anyone editing them: :func:`operations` reads the schema the app
publishes and the scope each handler declares. :func:`build_book` gives them an
example database in which a key limited to CSM group ``A_GROUP`` has something of its
own to see (an account, a task, a renewal, a pilot) and every other group has
everything it could leak: tasks, transitions, signals, scores, playbook runs,
deliveries, renewals and a pilot.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute
from telltales.config import load_config
from telltales.engine.pipeline import run
from telltales.outcomes.renewals import RenewalOutcome, record_renewals
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.playbooks.plan import load_plan
from telltales.playbooks.tasks import create_task
from telltales.plugins import load_registry
from telltales.store import Store, open_store
from telltales_api.auth import SCOPE_OPT

from support.api import ApiHarness, api_harness
from support.api_example import CONFIG as TASKS_CONFIG
from support.api_example import build_example

PUBLIC = frozenset({("GET", "/healthz"), ("GET", "/readyz")})
"""The documented public operations: probes. The schema itself is served outside it, and
tests/api/test_schema.py checks that it lists every route the app serves."""

A_GROUP = "emea-midmarket"
A_ACCOUNT = "northwind"
B_GROUPS = ("apac-midmarket", "emea-smb", "na-enterprise", "na-smb")
B_ACCOUNTS = ("bluepeak", "ferrum", "quillworks", "solstice", "tidewater")
B_PILOT = "b-pilot"
A_PILOT = "a-pilot"
IDLE_PILOT = "idle-pilot"
"""A disabled pilot (of group na-smb), for the operation that enables one."""
DAY = date(2026, 11, 20)
BOOK_CONFIG = TASKS_CONFIG
"""The example's At-Risk playbook with an email to the customer that waits for approval
(tests/api/test_tasks.py), so the other groups hold work tasks, approval tasks and
deliveries."""


@dataclass(frozen=True)
class Operation:
    """One method on one path of the schema, with what it takes and the scope it needs."""

    method: str
    path: str
    """The schema's template: ``/v1/tasks/{task_id}``."""
    scope: str | None
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    takes_body: bool
    responses: frozenset[int]
    """The statuses the schema documents for it."""

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, values: Mapping[str, object]) -> str:
        """The path with each parameter replaced by ``values[name]``."""
        return re.sub(r"\{([^}]+)\}", lambda found: str(values[found[1]]), self.path)


def operations(app: Litestar) -> list[Operation]:
    """Every operation of the app's OpenAPI schema, with the scope its handler declares."""
    scopes = {
        (method, route.path_format): handler.opt.get(SCOPE_OPT)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        for method in handler.http_methods
    }
    found = []
    for path, item in (app.openapi_schema.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method)
            if operation is None:
                continue
            parameters = operation.parameters or []
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    scope=scopes[(method.upper(), path)],
                    path_params=tuple(p.name for p in parameters if p.param_in == "path"),
                    query_params=tuple(p.name for p in parameters if p.param_in == "query"),
                    takes_body=operation.request_body is not None,
                    responses=frozenset(int(status) for status in operation.responses or {}),
                )
            )
    return found


def database_digest(store: Store) -> str:
    """A digest of every row of the database: equal digests, nothing written."""
    digest = hashlib.sha256()
    for line in store.db.conn.iterdump():
        digest.update(line.encode())
    return digest.hexdigest()


def rows_of_groups(store: Store, groups: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table with an ``account_id``, of the accounts of ``groups``."""
    wanted = json.dumps(sorted(groups))
    tables = [
        str(row[0])
        for row in store.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    found = {}
    for table in tables:
        columns = [str(c[1]) for c in store.db.execute(f'PRAGMA table_info("{table}")')]
        if "account_id" not in columns:
            continue
        rows = store.db.execute(
            f'SELECT * FROM "{table}" WHERE account_id IN (SELECT account_id FROM accounts '
            "WHERE csm_group IN (SELECT value FROM json_each(?))) ORDER BY 1",
            [wanted],
        ).fetchall()
        found[table] = [tuple(row) for row in rows]
    return found


@dataclass(frozen=True)
class Book:
    """What :func:`build_book` stored, by side."""

    config: str
    run_id: int
    a_task: int
    b_tasks: tuple[int, ...]
    b_deliveries: tuple[int, ...]


def build_book(path: Path) -> Book:
    """The example data run as of ``DAY`` with a pilot for two other groups, plus A's own.

    The other groups' pilot covers ferrum (apac-midmarket) and bluepeak (na-enterprise),
    which enter At-Risk live: each gets a work task, an approval task and a delivery.
    Group A gets a task of its own, a renewal and a pilot, so a limited key's lists are
    not empty by accident; na-smb has a disabled pilot.
    """
    build_example(path)
    registry = load_registry()
    config_file = path.with_name("book.toml")
    config_file.write_text(BOOK_CONFIG)
    plan = load_plan(load_config(config_file), registry)
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(path, migrations) as store:
        pilots = (
            (B_PILOT, ["apac-midmarket", "na-enterprise"], True),
            (A_PILOT, [A_GROUP], True),
            (IDLE_PILOT, ["na-smb"], False),
        )
        for pilot_id, groups, enabled in pilots:
            pilot = NewPilot(
                pilot_id=pilot_id,
                csm_groups=groups,
                rules=["core_feature_drop", "sponsor_left"],
                playbooks=["at_risk_response"],
                starts_on=date(2026, 11, 1),
                enabled=enabled,
            )
            create_pilot(store, plan, pilot, by="ops@vendor.example")
        result = run(store, registry, DAY, plan=plan)
        b_tasks = tuple(
            int(row[0]) for row in store.db.execute("SELECT task_id FROM tasks ORDER BY task_id")
        )
        b_deliveries = tuple(
            int(row[0])
            for row in store.db.execute("SELECT delivery_id FROM deliveries ORDER BY delivery_id")
        )
        assert b_deliveries, "the other groups' pilot queues deliveries"
        with store.transaction() as db:
            a_task = create_task(
                db,
                account_id=A_ACCOUNT,
                playbook_run_id=None,
                step=0,
                kind="work",
                title="Plan the SLA reporting rollout",
                body="Northwind asked for SLA reports per depot.",
                assignee="maria.lopez@vendor.example",
                due_on=date(2026, 11, 27),
                at=datetime(2026, 11, 20, 9, tzinfo=UTC),
                idempotency_key="security-book-a-task",
            )
        outcomes = [
            RenewalOutcome(
                account_id=account,
                renewal_date=date(2026, 11, 25),
                arr_before=100_000,
                arr_after=after,
                outcome="renewed" if after else "churned",
                discount_percent=discount,
            )
            for account, after, discount in (
                (A_ACCOUNT, 110_000, 0.0),
                ("ferrum", 0, 0.0),
                ("bluepeak", 90_000, 15.0),
            )
        ]
        record_renewals(store, outcomes, source="cli", by="tests")
    return Book(
        config=BOOK_CONFIG,
        run_id=result.run_id,
        a_task=a_task,
        b_tasks=b_tasks,
        b_deliveries=b_deliveries,
    )


def book_harness(book_db: Path, book: Book, folder: Path) -> Iterator[ApiHarness]:
    """Yield an app over a copy of the book in ``folder``, configured as it was built."""
    shutil.copy(book_db, folder / "api.db")
    yield from api_harness(folder, config=book.config)
