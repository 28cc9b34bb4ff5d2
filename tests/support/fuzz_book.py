"""A small book for fuzzing the API: real ids behind every route, on a real SQLite file.

The example data (examples/data, six accounts in five CSM groups) ingested as dev.py
does; through the API, as a client would: a pilot for apac-midmarket, a disabled one
for emea-smb, a run on 2026-11-20 (ferrum enters At-Risk under the pilot and gets a
task, bluepeak enters At-Risk in shadow mode) and two renewals. Keys: an admin key,
and a read-only key limited to apac-midmarket. :attr:`FuzzBook.known` holds the ids
and values a fuzzer should try besides the ones it invents, so that GET routes answer
200 for real objects and not only 404.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from telltales.store.keys import ApiKey, create_key
from telltales.testing import ApiClient
from telltales_api import create_app
from telltales_api.context import ApiSettings

from support.api import ApiHarness
from support.api_example import FRIDAY, build_example

CONFIG = Path(__file__).parents[2] / "examples" / "telltales.toml"
PILOT = {
    "pilot_id": "apac-pilot",
    "csm_groups": ["apac-midmarket"],
    "rules": ["core_feature_drop", "sponsor_left", "score_red"],
    "playbooks": ["at_risk_response"],
    "starts_on": "2026-11-01",
}
DISABLED_PILOT = {
    "pilot_id": "emea-trial",
    "csm_groups": ["emea-smb"],
    "rules": ["score_red"],
    "playbooks": ["at_risk_response"],
    "starts_on": "2026-10-01",
    "enabled": False,
}
RENEWALS = [
    {
        "account_id": "ferrum",
        "renewal_date": "2026-11-25",
        "arr_before": 100_000,
        "arr_after": 0,
        "outcome": "churned",
    },
    {
        "account_id": "bluepeak",
        "renewal_date": "2026-11-26",
        "arr_before": 100_000,
        "arr_after": 120_000,
        "discount_percent": 10,
        "outcome": "renewed",
    },
]
READ_GROUP = "apac-midmarket"


@dataclass(frozen=True)
class FuzzBook:
    """A seeded database (never served itself: each fuzz run serves a copy of it)."""

    db: Path
    tokens: dict[str, str]
    """``admin`` and ``read`` (read-only, limited to :data:`READ_GROUP`)."""
    keys: dict[str, ApiKey]
    known: dict[str, list[str | int]] = field(default_factory=dict)
    """Values worth trying per parameter name: ``account_id``, ``task_id``, ``run_id``..."""

    def settings(self, directory: Path) -> ApiSettings:
        """Settings over a fresh copy of the book in ``directory``."""
        db = directory / "fuzz.db"
        with closing(sqlite3.connect(self.db)) as source, closing(sqlite3.connect(db)) as copy:
            source.backup(copy)
        return ApiSettings(db=db, config=CONFIG)


def build_fuzz_book(directory: Path) -> FuzzBook:
    """Seed ``directory/book.db`` and return what a fuzzer needs to know about it."""
    db = directory / "book.db"
    build_example(db)
    settings = ApiSettings(db=db, config=CONFIG)
    with ApiClient(lambda: create_app(settings)) as api:
        store = api.context.store
        admin, admin_token = create_key(store, scopes=["admin"], name="fuzz-admin", by="tests")
        read, read_token = create_key(
            store, scopes=["read"], csm_groups=[READ_GROUP], name="fuzz-read", by="tests"
        )
        known = _seed(api, api.headers(admin_token))
    return FuzzBook(
        db=db,
        tokens={"admin": admin_token, "read": read_token},
        keys={"admin": admin, "read": read},
        known=known,
    )


def _seed(api: ApiHarness, headers: dict[str, str]) -> dict[str, list[str | int]]:
    """Pilots, a run and renewals through the API; the ids they made, read back."""
    client = api.client
    for pilot in (PILOT, DISABLED_PILOT):
        assert client.post("/v1/pilots", json=pilot, headers=headers).status_code == 201
    started = client.post("/v1/runs", json={"as_of": FRIDAY}, headers=headers)
    assert started.status_code == 201, started.text
    renewed = client.put("/v1/renewals", json={"renewals": RENEWALS}, headers=headers)
    assert renewed.status_code == 200, renewed.text
    tasks = client.get("/v1/tasks", headers=headers).json()["items"]
    accounts = client.get("/v1/accounts", headers=headers).json()["items"]
    assert tasks, "the run made no task: the fuzz book is not what its docstring says"
    return {
        "account_id": [a["account"]["account_id"] for a in accounts],
        "task_id": [t["task_id"] for t in tasks],
        "run_id": [r["run_id"] for r in started.json()["runs"]],
        "pilot_id": [PILOT["pilot_id"], DISABLED_PILOT["pilot_id"]],
        "csm_group": sorted({a["account"]["csm_group"] for a in accounts}),
        "segment": sorted({a["account"]["segment"] for a in accounts}),
        "as_of": [FRIDAY],
    }
