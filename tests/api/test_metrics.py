"""``GET /v1/metrics/...`` over HTTP: the numbers, the key's groups, and the mistakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.api import ApiHarness, api_harness
from support.metric_history import MetricHistory
from telltales.metrics import DEFINITIONS

QUARTER = "from=2026-01-01&to=2026-03-31"
ROUTES = [
    "risk-reversal",
    "time-to-acknowledge",
    "playbook-completion",
    "retention",
    "renewal-by-cohort",
    "discounting",
    "alert-load",
    "flap-rate",
]
"""Written out, not read from the code: the API promises these paths."""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    yield from api_harness(tmp_path)


@pytest.fixture
def history(api: ApiHarness) -> MetricHistory:
    """One account in emea, one in amer, each with an episode, a run, a renewal and hits.

    x1 (emea, ann): At-Risk 5 Jan -> Healthy 10 Jan (reversed); its playbook's task done
       12 h after (completed); renewal 1 Mar 100 -> 100 at 10% (flagged, playbook ran);
       1 live firing on 2 Mar.
    y1 (amer, bob): At-Risk 6 Jan, stays (not reversed); its task still open; renewal
       1 Mar 100 -> 0 (churned; flagged, playbook ran); 3 live firings 2 to 4 Mar.
    """
    history = MetricHistory(api.context.store)
    history.account("x1", owner="ann", csm_group="emea")
    history.account("y1", owner="bob", csm_group="amer")
    history.playbook_run(
        history.transition("x1", "2026-01-05", "at_risk"), tasks=[("done", "2026-01-05T21:00Z")]
    )
    history.transition("x1", "2026-01-10", "healthy")
    history.playbook_run(
        history.transition("y1", "2026-01-06", "at_risk"), tasks=[("open", "2026-01-06T09:00Z")]
    )
    history.renewal("x1", "2026-03-01", 100, 100, discount_percent=10)
    history.renewal("y1", "2026-03-01", 100, 0)
    history.rule_hit("x1", "2026-03-02")
    for day in ("2026-03-02", "2026-03-03", "2026-03-04"):
        history.rule_hit("y1", day)
    return history


def _cohort(report: dict[str, Any]) -> tuple[int, int]:
    row = report["overall"][0]
    assert row["risk_cohort"] == "flagged_with_playbook"
    return row["renewals"], row["renewed"]


# Per route: the query, what to read from the report, and its value for a key limited
# to emea and for a key that sees every group (worked out from the history above).
CASES: list[tuple[str, str, Callable[[dict[str, Any]], object], object, object]] = [
    (
        "risk-reversal",
        f"{QUARTER}&as_of=2026-03-31",
        lambda r: (r["overall"]["episodes"], r["overall"]["reversed"], r["overall"]["rate"]),
        (1, 1, 1.0),
        (2, 1, 0.5),
    ),
    (
        "time-to-acknowledge",
        QUARTER,
        lambda r: (
            r["overall"]["episodes"],
            r["overall"]["unacknowledged_open"],
            r["overall"]["median_hours"],
        ),
        (1, 0, 12.0),
        (2, 1, 12.0),
    ),
    (
        "playbook-completion",
        QUARTER,
        lambda r: (r["overall"]["with_tasks"], r["overall"]["completed"], r["overall"]["rate"]),
        (1, 1, 1.0),
        (2, 1, 0.5),
    ),
    (
        "retention",
        QUARTER,
        lambda r: (r["overall"]["arr_before"], r["overall"]["grr"], r["overall"]["nrr"]),
        (100, 1.0, 1.0),
        (200, 0.5, 0.5),
    ),
    ("renewal-by-cohort", QUARTER, _cohort, (1, 1), (2, 1)),
    (
        "discounting",
        QUARTER,
        lambda r: (
            r["overall"]["flagged"]["mean_discount_percent"],
            r["overall"]["churned_left_out"],
        ),
        (10.0, 0),
        (10.0, 1),
    ),
    (
        "alert-load",
        "from=2026-03-02&to=2026-03-29",
        lambda r: (r["overall"]["owners"], r["overall"]["fired_live"], r["weeks"]),
        (1, 1, 4.0),
        (2, 4, 4.0),
    ),
]


@pytest.mark.parametrize(("route", "query", "read", "emea", "every"), CASES)
def test_a_limited_key_gets_its_groups_numbers_only(
    api: ApiHarness,
    history: MetricHistory,
    route: str,
    query: str,
    read: Callable[[dict[str, Any]], object],
    emea: object,
    every: object,
) -> None:
    limited = api.key("read", groups=["emea"])
    response = api.client.get(f"/v1/metrics/{route}?{query}", headers=api.headers(limited))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["metric"] == route
    assert report["filters"]["limited_to"] == ["emea"]
    assert read(report) == emea
    response = api.client.get(f"/v1/metrics/{route}?{query}", headers=api.headers(api.key("read")))
    assert response.status_code == 200, response.text
    assert response.json()["filters"]["limited_to"] is None
    assert read(response.json()) == every


@pytest.mark.parametrize("route", ROUTES)
def test_filters_and_groups(api: ApiHarness, history: MetricHistory, route: str) -> None:
    """A csm_group filter gives that group's numbers; group_by gives one row per group."""
    token = api.key("read")
    query = f"{QUARTER}&csm_group=amer&group_by=csm_group"
    report = api.client.get(f"/v1/metrics/{route}?{query}", headers=api.headers(token)).json()
    assert report["filters"]["csm_group"] == "amer"
    assert report["filters"]["from"] == "2026-01-01"
    assert {row["group"] for row in report["groups"]} == {"amer"}
    assert report["definition"]


@pytest.mark.parametrize("route", ROUTES)
def test_naming_another_group_is_forbidden(api: ApiHarness, route: str) -> None:
    token = api.key("read", groups=["emea"])
    response = api.client.get(f"/v1/metrics/{route}?csm_group=amer", headers=api.headers(token))
    assert response.status_code == 403
    assert response.json()["errors"] == [
        {"field": "query.csm_group", "reason": "outside the key's CSM groups"}
    ]


@pytest.mark.parametrize("route", ROUTES)
def test_needs_a_key_with_the_read_scope(api: ApiHarness, route: str) -> None:
    assert api.client.get(f"/v1/metrics/{route}").status_code == 401
    ingest_only = api.headers(api.key("ingest"))
    response = api.client.get(f"/v1/metrics/{route}", headers=ingest_only)
    assert response.status_code == 403
    assert "read" in response.json()["detail"]


@pytest.mark.parametrize(
    ("route", "query", "field"),
    [
        ("risk-reversal", "window_days=45", "query.window_days"),
        ("risk-reversal", "window_days=thirty", "query.window_days"),
        ("retention", "from=2026-02-01&to=2026-01-31", "query.from"),
        ("retention", "from=2026-02-30", "query.from"),
        ("retention", "to=yesterday", "query.to"),
        ("playbook-completion", "cohort=treated", "query.cohort"),
        ("alert-load", "group_by=owner", "query.group_by"),
        ("renewal-by-cohort", "lookback_days=0", "query.lookback_days"),
        ("discounting", "lookback_days=731", "query.lookback_days"),
        ("risk-reversal", "as_of=soon", "query.as_of"),
    ],
)
def test_invalid_parameters_are_400_naming_the_field(
    api: ApiHarness, route: str, query: str, field: str
) -> None:
    token = api.key("read")
    response = api.client.get(f"/v1/metrics/{route}?{query}", headers=api.headers(token))
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_every_route_is_documented_with_its_errors(api: ApiHarness) -> None:
    schema = api.client.get("/schema/openapi.json").json()
    for route in ROUTES:
        operation = schema["paths"][f"/v1/metrics/{route}"]["get"]
        assert set(operation["responses"]) == {"200", "400", "401", "403"}
        assert operation["description"].startswith(DEFINITIONS[route])
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert {"csm_group", "segment", "cohort", "from", "to", "group_by"} <= names
    risk = schema["paths"]["/v1/metrics/risk-reversal"]["get"]["parameters"]
    window = next(p for p in risk if p["name"] == "window_days")
    assert window["schema"]["enum"] == [30, 60]


def _cohort_history(api: ApiHarness) -> None:
    """Pilot: 3 renewals, 2 kept (100 -> 100); control: 2, 1 kept at half (100 -> 50)."""
    history = MetricHistory(api.context.store)
    for account, cohort, after in [
        ("p1", "pilot", 100),
        ("p2", "pilot", 100),
        ("p3", "pilot", 0),
        ("c1", "control", 50),
        ("c2", "control", 0),
    ]:
        history.account(account)
        history.renewal(account, "2026-02-01", 100, after, cohort=cohort)


def test_a_small_hold_out_is_withheld_with_its_count(api: ApiHarness) -> None:
    _cohort_history(api)
    token = api.headers(api.key("read"))
    report = api.client.get(f"/v1/metrics/retention?{QUARTER}&group_by=cohort", headers=token)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["confidence"] == 0.95
    control = next(row for row in body["groups"] if row["group"] == "control")
    assert control["grr"] == 0.25  # the exact figure stays: it is what happened
    assert control["sample"] == {
        "n": 2,
        "unit": "renewals",
        "minimum": 20,
        "enough": False,
        "withheld": "too few renewals yet (2; 20 needed)",
    }
    assert control["grr_interval"] is None
    grr = next(c for c in body["comparisons"] if c["figure"] == "grr")
    assert (grr["first"], grr["second"], grr["interval"], grr["enough"]) == (
        "pilot",
        "control",
        None,
        False,
    )
    assert grr["difference"] == pytest.approx(2 / 3 - 1 / 4)


def test_the_configured_minimum_and_confidence_are_used(tmp_path: Path) -> None:
    config = "[metrics]\nmin_renewals = 2\nconfidence = 0.9\n"
    for api in api_harness(tmp_path, config=config):
        _cohort_history(api)
        token = api.headers(api.key("read"))
        body = api.client.get(
            f"/v1/metrics/retention?{QUARTER}&group_by=cohort", headers=token
        ).json()
        assert body["confidence"] == 0.9
        control = next(row for row in body["groups"] if row["group"] == "control")
        assert control["sample"]["enough"] is True
        # Control's GRR by hand: retained (50, 0) over (100, 100), R = 0.25, residuals
        # (25, -25): v = 2 * 1250 / 200^2 = 0.0625; z(90%) = 1.644854; 0.25 +- 0.4112,
        # the low end clipped at 0 (no retention is negative).
        half = 1.644854 * 0.0625**0.5
        assert control["grr_interval"] == pytest.approx({"low": 0.0, "high": 0.25 + half})
        logo = next(c for c in body["comparisons"] if c["figure"] == "logo_renewal_rate")
        assert logo["enough"] is True
        assert logo["interval"]["low"] < logo["difference"] < logo["interval"]["high"]
