"""Schema-driven fuzzing of the whole API: schemathesis against the app's own OpenAPI schema.

schemathesis's engine (what ``schemathesis run`` runs) drives the app in-process over
a copy of a seeded book (tests/support/fuzz_book.py) through every phase (examples,
coverage, fuzzing, stateful via the schema's links) with all its default checks on,
once with an admin key and once with a read-only key limited to one CSM group. The
ids the book holds are bound to the matching parameters through schemathesis
dictionaries, so reads of real accounts, tasks, runs and pilots answer 200, not
only 404. Every refusal must be a 4xx problem detail, checked on top of the default
checks. Generation is deterministic (fixed seed, derandomized, no example database),
so a failure found in CI is found again locally.

The number of cases is asserted (at least 1,000) and printed in pytest's summary as
``fuzz cases: ...``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema
from schemathesis.python import asgi
from support.fuzz_book import CONFIG, FuzzBook, build_fuzz_book
from support.server import environment, start_server, stop_server
from telltales.plugins import load_registry
from telltales.store import Store, open_store
from telltales.store.keys import create_key, verify_token
from telltales.testing import ApiClient
from telltales_api import create_app
from telltales_api.paging import LARGEST_ID
from telltales_api.problems import PROBLEM_MEDIA_TYPE

SEED = 20261120
MAX_EXAMPLES = 6
"""Per operation in the fuzzing phase; the coverage phase adds its boundary cases."""
LEAST_CASES = 1000
PARAMETERS = {
    "path.account_id": "account_id",
    "query.account_id": "account_id",
    "path.task_id": "task_id",
    "path.run_id": "run_id",
    "path.pilot_id": "pilot_id",
    "query.csm_group": "csm_group",
    "query.segment": "segment",
    "query.as_of": "as_of",
    "body.records[*].account_id": "account_id",
    "body.renewals[*].account_id": "account_id",
}
"""Where the book's real values are tried, half of the time (the other half: invented)."""

RELAXED = {
    # Rules the schema cannot state: the server refuses what it must (400/422 problem
    # details naming the field), schemathesis calls the request valid.
    "cursor": re.compile(r"^query\.cursor: "),
    "period": re.compile(
        r"is after to|before query\.from|is in the future|is before as_of|at most 92 per request"
    ),
    "unknown-id": re.compile(r"no account|unknown account"),
    "cross-field": re.compile(
        r"only allowed when|required when status|keeps some ARR|keeps no ARR"
        r"|at least one event or login|\) is before planned_on|is before opened_at"
        r"|counted on a day with no active user|send one of them, or two that agree"
    ),
    "pilot-names": re.compile(r"^body\.(rules|playbooks): no enabled (rule|playbook) named "),
    "key-admin-groups": re.compile(r"^body\.csm_groups: an admin key sees every CSM group"),
    # A backtest's span is judged against the stored outcomes, days and cards.
    "backtest-span": re.compile(
        r"outcomes are known through|days to replay from|is outside \d{4}-\d\d-\d\d \.\. "
        r"|is before from|there is nothing to judge|no scorecard"
    ),
    # A group is known from the stored accounts and the configuration, not the schema.
    "group-names": re.compile(r"^body\.csm_groups: no CSM group named "),
    # A choice, not a defect: JSON Schema counts 3.0 as an integer; msgspec decodes
    # strictly and refuses a float where an int is declared (400/422 naming the field).
    "integral-float": re.compile(r"expected `int( \| null)?`, got `float`"),
}
"""positive_data_acceptance failures that are not defects of the routes, by reason.

A failure is relaxed only when every field the problem detail names matches a rule.
"""


def fuzz_config(
    book: FuzzBook, max_examples: int = MAX_EXAMPLES, phases: dict[str, Any] | None = None
) -> schemathesis.Config:
    """Deterministic generation, no files written, and the book's values bound."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "phases": phases or {},
            "continue-on-failure": True,
            "workers": 1,
            "cache": {"enabled": False},
            "generation": {
                "max-examples": max_examples,
                "deterministic": True,
                "database": "none",
            },
            "dictionaries": {name: {"values": values} for name, values in book.known.items()},
            "parameters": {
                location: {"dictionary": name, "probability": 0.5}
                for location, name in PARAMETERS.items()
            },
        }
    )


@dataclass
class FuzzReport:
    """What one fuzz run did."""

    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    excused: dict[str, int] = field(default_factory=dict)
    """Failed checks that :data:`RELAXED` explains, by reason."""
    keys_replaced: int = 0
    """Times the fuzzer revoked its own key (with ``DELETE /v1/keys/{key_id}``)."""


@schemathesis.check
def refusals_are_problem_details(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """Every 4xx and 5xx is an RFC 9457 problem detail whose status matches the answer's."""
    if response.status_code < 400:
        return
    media_type = response.headers.get("content-type", [""])[0].partition(";")[0]
    assert media_type == PROBLEM_MEDIA_TYPE, f"{response.status_code} answered as {media_type!r}"
    body = json.loads(response.content)
    assert body.get("status") == response.status_code, body
    assert body.get("title"), body
    assert isinstance(body.get("detail"), str), body


def fuzz_in_process(book: FuzzBook, role: str, directory: Path) -> FuzzReport:
    """The engine against the app in-process (ASGI) over a copy of the book, as ``role``."""
    app = create_app(book.settings(directory))
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app, config=fuzz_config(book))
    try:
        return fuzz(schema, lambda: app.state.telltales.store, _LiveKey(book, role))
    finally:
        asgi.shutdown_lifespans()


def fuzz(schema: Any, store: Callable[[], Store], key: _LiveKey) -> FuzzReport:
    """Run every phase of schemathesis's engine with ``key``; what it found, as a report."""

    @schema.auth(refresh_interval=None)
    class Bearer:
        def get(self, case: schemathesis.Case, ctx: Any) -> str:
            return key.token(store())

        def set(self, case: schemathesis.Case, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    report = FuzzReport()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
            _record(report, event.recorder)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            report.errors.append(repr(event))
    report.keys_replaced = key.replaced
    return report


class _LiveKey:
    """The fuzzing key; once the fuzzer revokes it, a new one with the same scopes and groups.

    ``DELETE /v1/keys/{key_id}`` is fuzzed with the ids ``GET /v1/keys`` answers,
    the caller's own among them: without a replacement every later case would be a
    401 and test nothing.
    """

    def __init__(self, book: FuzzBook, role: str) -> None:
        self.key = book.keys[role]
        self.current = book.tokens[role]
        self.replaced = 0

    def token(self, store: Store) -> str:
        if verify_token(store, self.current) is None:
            _, self.current = create_key(
                store, scopes=self.key.scopes, csm_groups=self.key.csm_groups, by="tests"
            )
            self.replaced += 1
        return self.current


def _record(report: FuzzReport, recorder: Any) -> None:
    report.cases += len(recorder.cases)
    for interaction in recorder.interactions.values():
        if interaction.response is not None:
            status = interaction.response.status_code
            report.statuses[status] = report.statuses.get(status, 0) + 1
    for case_id, checks in recorder.checks.items():
        interaction = recorder.interactions.get(case_id)
        answer = interaction.response if interaction is not None else None
        for check in checks:
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            excuse = excused(check.name, answer)
            if excuse is not None:
                report.excused[excuse] = report.excused.get(excuse, 0) + 1
                continue
            info = check.failure_info
            answered = "" if answer is None else f"[{answer.status_code}] {answer.content[:300]!r}"
            report.failures.append(
                f"{recorder.label}: {check.name}: {info.failure.title}\n"
                f"{info.failure.message}\n{info.code_sample}\n{answered}"
            )


def excused(check: str, answer: Any) -> str | None:
    """The reason a failed check is not a defect, or None: see :data:`RELAXED`."""
    if check == "allow_header_conformance" and answer is not None and answer.status_code == 204:
        return "allow-header"
    if (
        check != "positive_data_acceptance"
        or answer is None
        or answer.status_code not in (400, 422)
    ):
        return None
    problem = json.loads(answer.content)
    refusals = [f"{e['field']}: {e['reason']}" for e in problem.get("errors", [])]
    if not refusals:
        refusals = [problem["detail"]]
    names = set()
    for refusal in refusals:
        name = next((n for n, rule in RELAXED.items() if rule.search(refusal)), None)
        if name is None:
            return None
        names.add(name)
    return ", ".join(sorted(names))


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> FuzzBook:
    return build_fuzz_book(tmp_path_factory.mktemp("fuzz-book"))


@pytest.mark.reliability
def test_the_whole_api_survives_fuzzing_with_an_admin_and_a_read_only_key(
    book: FuzzBook,
    tmp_path: Path,
    record_property: Any,
) -> None:
    reports = {}
    for role in ("admin", "read"):
        directory = tmp_path / role
        directory.mkdir()
        reports[role] = fuzz_in_process(book, role, directory)
    total = sum(report.cases for report in reports.values())
    line = f"fuzz cases: {total} (" + ", ".join(f"{r} {reports[r].cases}" for r in reports) + ")"
    record_property("summary", line)
    failures = [f"[{role}] {f}" for role, r in reports.items() for f in r.failures]
    errors = [f"[{role}] {e}" for role, r in reports.items() for e in r.errors]
    assert failures == [], "\n\n".join(failures)
    assert errors == []
    assert total >= LEAST_CASES
    for role, report in reports.items():
        assert sum(n for status, n in report.statuses.items() if status < 300) > 0, role


SERVER_EXAMPLES = 4
"""Per operation against the real server: the fuzzing and stateful phases only."""


@pytest.mark.reliability
def test_a_real_server_survives_fuzzing_too(
    book: FuzzBook,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Any,
) -> None:
    """A few hundred cases over HTTP against ``telltales serve``: the same checks, a real
    socket, granian's own parsing of what the fuzzer sends."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    db = book.settings(tmp_path).db
    server = start_server(db, "--workers", "1", env=environment(TELLTALES_CONFIG=str(CONFIG)))
    registry = load_registry()
    migrations = [entry.obj for entry in registry.migrations.values()]
    try:
        server.wait_ready()
        config = fuzz_config(
            book,
            SERVER_EXAMPLES,
            phases={"examples": {"enabled": False}, "coverage": {"enabled": False}},
        )
        schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json", config=config)
        with open_store(db, migrations) as store:
            report = fuzz(schema, lambda: store, _LiveKey(book, "admin"))
    finally:
        stop_server(server)
    record_property("summary", f"fuzz cases against telltales serve: {report.cases}")
    assert report.failures == [], "\n\n".join(report.failures)
    assert report.errors == []
    assert report.cases >= 200
    assert 500 not in report.statuses


def test_integer_ids_have_a_bound_the_schema_states_exactly(book: FuzzBook, tmp_path: Path) -> None:
    """Found by fuzzing: ``GET /v1/runs/9223372036854775999`` was valid by the schema (its
    bound, 2**63 - 1, written as the double 2**63) and refused with 400."""
    with ApiClient(lambda: create_app(book.settings(tmp_path))) as api:
        schema = api.client.get("/schema/openapi.json").json()
        bounds = [
            parameter["schema"]["maximum"]
            for item in schema["paths"].values()
            for operation in item.values()
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer"
        ]
        assert bounds
        assert all(int(bound) == bound == LARGEST_ID for bound in bounds)
        headers = api.headers(book.tokens["admin"])
        for path in ("/v1/runs/{}", "/v1/tasks/{}"):
            assert api.client.get(path.format(LARGEST_ID), headers=headers).status_code == 404
            too_large = api.client.get(path.format(9223372036854775999), headers=headers)
            assert too_large.status_code == 400


def test_a_pilot_changes_state_without_a_body_as_the_schema_says(
    book: FuzzBook, tmp_path: Path
) -> None:
    """Found by fuzzing: ``POST /v1/pilots/{id}/end`` with no body was answered 200 (as
    documented in words) while the schema declared the body required."""
    with ApiClient(lambda: create_app(book.settings(tmp_path))) as api:
        paths = api.client.get("/schema/openapi.json").json()["paths"]
        for verb in ("enable", "disable", "end"):
            assert (
                paths[f"/v1/pilots/{{pilot_id}}/{verb}"]["post"]["requestBody"]["required"] is False
            )
        ended = api.client.post(
            "/v1/pilots/emea-trial/end", headers=api.headers(book.tokens["admin"])
        )
        assert (ended.status_code, ended.json()["state"]) == (200, "ended")


def test_a_zero_lower_bound_is_in_the_schema(book: FuzzBook, tmp_path: Path) -> None:
    """Found by fuzzing: ``renewal_within_days=-114143`` was valid by the schema (litestar
    drops a bound of 0) and refused with 400."""
    with ApiClient(lambda: create_app(book.settings(tmp_path))) as api:
        paths = api.client.get("/schema/openapi.json").json()["paths"]
        (within,) = [
            p
            for p in paths["/v1/accounts"]["get"]["parameters"]
            if p["name"] == "renewal_within_days"
        ]
        assert (within["schema"]["minimum"], within["schema"]["maximum"]) == (0, 3650)
        refused = api.client.get(
            "/v1/accounts",
            params={"renewal_within_days": -1},
            headers=api.headers(book.tokens["admin"]),
        )
        assert refused.status_code == 400
        assert refused.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_a_count_too_large_for_sqlite_is_refused_by_name_not_a_500(
    book: FuzzBook, tmp_path: Path
) -> None:
    """Found by fuzzing: ``PUT /v1/accounts`` with ``seats_purchased`` past 2**63 reached
    SQLite, which cannot store it (OverflowError: a 500). Counts are bounded where they
    are declared, and the schema says so."""
    with ApiClient(lambda: create_app(book.settings(tmp_path))) as api:
        headers = api.headers(book.tokens["admin"])
        account = {"account_id": "huge", "name": "Huge", "seats_purchased": 2**100}
        refused = api.client.put("/v1/accounts", json={"accounts": [account]}, headers=headers)
        assert refused.status_code in (400, 422), refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [
            "body.accounts[0].seats_purchased"
        ]
        fields = api.client.get("/schema/openapi.json").json()["components"]["schemas"]
        assert fields["Account"]["properties"]["seats_purchased"]["maximum"] == 2**53 - 1
        assert api.client.get("/v1/accounts/huge", headers=headers).status_code == 404


def test_the_schema_states_what_msgspec_refuses(book: FuzzBook, tmp_path: Path) -> None:
    """Found by fuzzing: litestar's schema left out unknown-field refusal, a minimum of 0
    on an optional count and constraints on list items, so schema-valid bodies were
    refused. They are copied from msgspec's own schema of the same types."""
    with ApiClient(lambda: create_app(book.settings(tmp_path))) as api:
        schemas = api.client.get("/schema/openapi.json").json()["components"]["schemas"]
        assert schemas["AccountsUpsert"]["additionalProperties"] is False
        assert schemas["Account"]["additionalProperties"] is False
        options = schemas["Account"]["properties"]["employee_count"]["oneOf"]
        assert {"type": "integer", "minimum": 0, "maximum": 2**53 - 1} in options
        headers = api.headers(book.tokens["admin"])
        extra = {"account_id": "x", "name": "X", "colour": "red"}
        refused = api.client.put("/v1/accounts", json={"accounts": [extra]}, headers=headers)
        assert refused.status_code in (400, 422)
        named = api.client.post(
            "/v1/keys", json={"scopes": ["admin"], "csm_groups": ["emea"]}, headers=headers
        )
        assert named.status_code == 422
        assert [e["field"] for e in named.json()["errors"]] == ["body.csm_groups"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PUT", "/v1/accounts", {"accounts": [{"account_id": "a", "name": "A", "arr": "5"}]},
         "body.accounts[0].arr"),
        ("PUT", "/v1/renewals", {"renewals": [{"account_id": "northwind",
         "renewal_date": "2026-12-01", "arr_before": "5", "arr_after": 5, "outcome": "renewed"}]},
         "body.renewals[0].arr_before"),
        ("POST", "/v1/runs", {"as_of": "2026-11-20", "strict": "true"}, "body.strict"),
        ("POST", "/v1/keys", {"scopes": ["read"], "name": 5}, "body.name"),
        ("POST", "/v1/pilots", {"pilot_id": "p", "csm_groups": ["g"], "rules": ["r"],
         "playbooks": ["b"], "starts_on": "2026-11-01", "holdout_share": "0.3"},
         "body.holdout_share"),
    ],
)  # fmt: skip
def test_a_number_sent_as_text_is_refused_as_the_schema_says(
    book: FuzzBook, tmp_path: Path, method: str, path: str, body: Any, field: str
) -> None:
    """Found by the docs review: litestar converted bodies loosely, so ``"arr": "5"`` was
    stored over HTTP (the schema says number) while ``telltales ingest`` refused it.
    Every body is now decoded strictly, as the CLI decodes it."""
    with ApiClient(lambda: create_app(book.settings(tmp_path))) as api:
        answer = api.client.request(
            method, path, json=body, headers=api.headers(book.tokens["admin"])
        )
        assert answer.status_code == 400, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == [field]
