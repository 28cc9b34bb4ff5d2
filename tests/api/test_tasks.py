"""Tasks over HTTP: filters and pages, events, complete / approve / dismiss, groups, conflicts.

The example data run as of 2026-11-20 with a pilot for apac-midmarket and
na-enterprise, and an At-Risk playbook whose second step emails the customer (so it
waits for approval), gives four tasks:

    id  account    group           kind      assignee                   due
    1   bluepeak   na-enterprise   work      sam.okafor@vendor.example  2026-11-25
    2   bluepeak   na-enterprise   approval  sam.okafor@vendor.example  2026-11-24
    3   ferrum     apac-midmarket  work      li.chen@vendor.example     2026-11-25
    4   ferrum     apac-midmarket  approval  li.chen@vendor.example     2026-11-24

Work tasks are due in 3 business days (Mon, Tue, Wed), approvals in 1 (Tuesday).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support.api import ApiHarness, api_harness
from support.api_example import CONFIG, build_example
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales_api.paging import encode_cursor

APAC = "apac-midmarket"
NA = "na-enterprise"


@pytest.fixture(scope="module")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("example") / "api.db"
    build_example(path)
    return path


@pytest.fixture
def api(example_db: Path, tmp_path: Path) -> Iterator[ApiHarness]:
    shutil.copy(example_db, tmp_path / "api.db")
    for harness in api_harness(tmp_path, config=CONFIG):
        context = harness.context
        pilot = NewPilot(
            pilot_id="p1",
            csm_groups=[APAC, NA],
            rules=["core_feature_drop", "sponsor_left"],
            playbooks=["at_risk_response"],
            starts_on=date(2026, 11, 1),
        )
        create_pilot(context.store, context.plan, pilot, by="ops@vendor.example")
        ran = harness.client.post(
            "/v1/runs",
            json={"as_of": "2026-11-20"},
            headers=harness.headers(harness.key("admin")),
        )
        assert ran.json()["runs"][0]["actions"]["tasks"] == 4
        yield harness


def get(api: ApiHarness, path: str, token: str, **params: Any) -> Any:
    return api.client.get(path, params=params, headers=api.headers(token))


def act(api: ApiHarness, task_id: int, verb: str, token: str, body: Any = None) -> Any:
    return api.client.post(f"/v1/tasks/{task_id}/{verb}", json=body, headers=api.headers(token))


def ids(answer: Any) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [task["task_id"] for task in answer.json()["items"]]


def db_rows(api: ApiHarness, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in api.context.store.db.execute(sql).fetchall()]


def test_tasks_come_most_urgent_first_and_every_filter_narrows_them(api: ApiHarness) -> None:
    token = api.key("read")
    everything = get(api, "/v1/tasks", token)
    assert ids(everything) == [2, 4, 1, 3]
    assert everything.json()["next_cursor"] is None
    first = everything.json()["items"][2]
    assert {k: first[k] for k in ("account_id", "kind", "assignee", "due_on", "state")} == {
        "account_id": "bluepeak",
        "kind": "work",
        "assignee": "sam.okafor@vendor.example",
        "due_on": "2026-11-25",
        "state": "open",
    }
    assert ids(get(api, "/v1/tasks", token, kind="work")) == [1, 3]
    assert ids(get(api, "/v1/tasks", token, assignee="li.chen@vendor.example")) == [4, 3]
    assert ids(get(api, "/v1/tasks", token, account_id="bluepeak")) == [2, 1]
    assert ids(get(api, "/v1/tasks", token, csm_group=APAC)) == [4, 3]
    assert ids(get(api, "/v1/tasks", token, due_before="2026-11-25")) == [2, 4]
    assert ids(get(api, "/v1/tasks", token, state="done")) == []
    assert ids(get(api, "/v1/tasks", token, csm_group=NA, kind="approval", state="open")) == [2]


def test_pages_follow_the_cursor_and_a_task_closed_meanwhile_shifts_nothing(
    api: ApiHarness,
) -> None:
    token = api.key("read")
    first = get(api, "/v1/tasks", token, limit=2, state="open")
    assert ids(first) == [2, 4]
    assert first.json()["next_cursor"] == encode_cursor(["2026-11-24", 4])
    # Closing a task already served does not make the next page skip one.
    assert act(api, 2, "dismiss", api.key("act"), {"reason": "sent by hand"}).status_code == 200
    second = get(api, "/v1/tasks", token, limit=2, state="open", cursor=first.json()["next_cursor"])
    assert ids(second) == [1, 3]
    assert second.json()["next_cursor"] is None


def test_a_task_reads_with_its_events_and_completing_it_acknowledges_the_risk(
    api: ApiHarness,
) -> None:
    reader = api.key("read")
    before = get(api, "/v1/tasks/3", reader)
    assert before.status_code == 200
    assert before.json()["title"] == (
        "Ferrum Manufacturing: At-Risk - Active users of a core feature down more than 30% "
        "over 14 days"
    )
    assert [(e["state"], e["by"]) for e in before.json()["events"]] == [("open", "telltales")]

    worker = api.key("act", name="crm-sync")
    key_id = worker.split("_")[1]
    done = act(api, 3, "complete", worker)
    assert done.status_code == 200
    assert done.json()["state"] == "done"
    after = get(api, "/v1/tasks/3", reader).json()
    assert [(e["state"], e["by"]) for e in after["events"]] == [
        ("open", "telltales"),
        ("done", f"api-key:{key_id} (crm-sync)"),
    ]
    assert after["events"][1]["at"] == after["updated_at"] == done.json()["updated_at"]
    # The first task of ferrum's playbook run is done: the risk is acknowledged.
    assert db_rows(
        api, "SELECT account_id, acknowledged_at IS NOT NULL, state FROM playbook_runs"
    ) == [("bluepeak", 0, "open"), ("ferrum", 1, "open")]


def test_approving_releases_the_delivery_and_dismissing_cancels_it(api: ApiHarness) -> None:
    token = api.key("act")
    approved = act(api, 4, "approve", token)
    assert (approved.status_code, approved.json()["state"]) == (200, "done")
    dismissed = act(api, 2, "dismiss", token, {"reason": "customer already called"})
    assert (dismissed.status_code, dismissed.json()["state"]) == (200, "dismissed")
    assert db_rows(
        api, "SELECT t.task_id, d.status FROM tasks t JOIN deliveries d USING (delivery_id)"
    ) == [(2, "cancelled"), (4, "pending")]
    events = get(api, "/v1/tasks/2", api.key("read")).json()["events"]
    assert (events[-1]["state"], events[-1]["reason"]) == ("dismissed", "customer already called")


@pytest.mark.parametrize("body", [None, {}, {"reason": "   "}])
def test_dismissing_needs_a_reason(api: ApiHarness, body: Any) -> None:
    answer = act(api, 1, "dismiss", api.key("act"), body)
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "body.reason", "reason": "required, and not blank"}
    ]
    assert db_rows(api, "SELECT state FROM tasks WHERE task_id = 1") == [("open",)]


def test_a_change_the_state_does_not_allow_is_a_409_and_changes_nothing(api: ApiHarness) -> None:
    token = api.key("act")
    assert act(api, 3, "complete", token).status_code == 200
    cases = [
        (3, "complete", None, "task 3 is already done: only an open task changes"),
        (3, "dismiss", {"reason": "late"}, "task 3 is already done: only an open task changes"),
        (1, "approve", None, "task 1 is a work task: complete or dismiss it"),
        (2, "complete", None, "task 2 is an approval task: approve or dismiss it"),
    ]
    for task_id, verb, body, detail in cases:
        answer = act(api, task_id, verb, token, body)
        assert (answer.status_code, answer.json()["detail"]) == (409, detail)
    assert db_rows(api, "SELECT task_id, state FROM tasks ORDER BY 1") == [
        (1, "open"),
        (2, "open"),
        (3, "done"),
        (4, "open"),
    ]
    assert db_rows(api, "SELECT count(*) FROM task_events") == [(5,)]


def test_a_group_limited_key_sees_and_changes_its_groups_tasks_only(api: ApiHarness) -> None:
    reader = api.key("read", groups=[APAC])
    assert ids(get(api, "/v1/tasks", reader)) == [4, 3]
    assert ids(get(api, "/v1/tasks", reader, account_id="bluepeak")) == []
    refused = get(api, "/v1/tasks", reader, csm_group=NA)
    assert refused.status_code == 403
    assert refused.json()["errors"] == [
        {"field": "query.csm_group", "reason": "outside the key's CSM groups"}
    ]
    other = get(api, "/v1/tasks/1", reader)
    missing = get(api, "/v1/tasks/99", reader)
    assert (other.status_code, other.json()["detail"]) == (404, "no task 1")
    assert (missing.status_code, missing.json()["detail"]) == (404, "no task 99")

    worker = api.key("act", groups=[APAC])
    assert act(api, 1, "complete", worker).status_code == 404
    assert act(api, 2, "dismiss", worker, {"reason": "x"}).status_code == 404
    assert act(api, 3, "complete", worker).status_code == 200
    assert db_rows(api, "SELECT task_id, state FROM tasks ORDER BY 1") == [
        (1, "open"),
        (2, "open"),
        (3, "done"),
        (4, "open"),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "closed"}, "query.state"),
        ({"kind": "chore"}, "query.kind"),
        ({"due_before": "next week"}, "query.due_before"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 501}, "query.limit"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"cursor": encode_cursor(["soon", 4])}, "query.cursor"),
        ({"cursor": encode_cursor(["2026-11-24", "4"])}, "query.cursor"),
    ],
)
def test_bad_query_parameters_are_a_400_naming_them(
    api: ApiHarness, params: dict[str, Any], field: str
) -> None:
    answer = get(api, "/v1/tasks", api.key("read"), **params)
    assert answer.status_code == 400
    assert [error["field"] for error in answer.json()["errors"]] == [field]


@pytest.mark.parametrize("task_id", [0, 2**63])
def test_a_task_id_out_of_range_is_a_400(api: ApiHarness, task_id: int) -> None:
    for answer in (
        get(api, f"/v1/tasks/{task_id}", api.key("read")),
        act(api, task_id, "complete", api.key("act")),
    ):
        assert answer.status_code == 400
        assert answer.json()["errors"][0]["field"] == "path.task_id"


def test_reading_needs_read_and_changing_needs_act(api: ApiHarness) -> None:
    assert api.client.get("/v1/tasks").status_code == 401
    assert api.client.get("/v1/tasks/1").status_code == 401
    for verb in ("complete", "approve", "dismiss"):
        assert api.client.post(f"/v1/tasks/1/{verb}").status_code == 401
        assert act(api, 1, verb, api.key("read"), {"reason": "x"}).status_code == 403
    assert get(api, "/v1/tasks", api.key("ingest")).status_code == 403
    assert db_rows(api, "SELECT count(*) FROM task_events") == [(4,)]
