"""Every route of the app is locked: 401 without a live key, 403 without the route's scope.

The routes are read from the app itself, so a route added later is covered without
touching this file. Also here: the key routes (``/v1/keys``) and the helpers that
limit a key to its CSM groups.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.api import ApiHarness, api_harness
from support.routes import LOCKED, OPEN_PATHS, ROUTES, SCHEMA_PREFIX, route_id
from telltales.store.keys import SCOPES, ApiKey, create_key, revoke_key
from telltales_api.auth import actor, check_groups, group_clause
from telltales_api.problems import ProblemError


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHarness]:
    """One app for the many route checks (each makes its own keys)."""
    yield from api_harness(tmp_path_factory.mktemp("auth"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[ApiHarness]:
    """An app of its own, for tests that count keys (two CSM groups declared, no account)."""
    yield from api_harness(tmp_path, "[csm_groups.emea]\n[csm_groups.apac]\n")


def test_every_route_but_probes_and_schema_declares_a_scope() -> None:
    unlocked = {
        route_id(route)
        for route in ROUTES
        if route[2] is None and route[1] not in OPEN_PATHS
        if not route[1].startswith(SCHEMA_PREFIX)
    }
    assert unlocked == set()
    assert {route[2] for route in LOCKED} <= set(SCOPES)
    assert all(path.startswith("/v1/") for _, path, _ in LOCKED)
    assert len(LOCKED) >= 4  # the keys and plugins routes at least


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/schema", "/schema/openapi.json"])
def test_probes_and_the_schema_are_open(api: ApiHarness, path: str) -> None:
    assert api.client.get(path).status_code == 200


def _assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == 'Bearer realm="telltales"'
    assert response.json()["status"] == 401


@pytest.mark.parametrize("route", LOCKED, ids=route_id)
def test_without_a_key_is_401(api: ApiHarness, route: tuple[str, str, str]) -> None:
    method, path, _ = route
    response = api.client.request(method, path)
    _assert_unauthorized(response)
    assert "send an API key" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Bearer   ", "tt_abc_def"])
@pytest.mark.parametrize("route", LOCKED, ids=route_id)
def test_a_malformed_header_is_401(
    api: ApiHarness, route: tuple[str, str, str], header: str
) -> None:
    method, path, _ = route
    response = api.client.request(method, path, headers={"Authorization": header})
    _assert_unauthorized(response)
    assert "must be 'Bearer <key>'" in response.json()["detail"]


@pytest.mark.parametrize("route", LOCKED, ids=route_id)
def test_an_unknown_or_revoked_key_is_401(api: ApiHarness, route: tuple[str, str, str]) -> None:
    method, path, scope = route
    store = api.context.store
    key, token = create_key(store, scopes=[scope], by="tests")
    revoke_key(store, key.key_id, by="tests")
    secret = token.split("_", 2)[2]
    for candidate in (token, "tt_000000000000_" + secret, token[:-1] + "A", "x" * 300):
        response = api.client.request(method, path, headers=api.headers(candidate))
        _assert_unauthorized(response)
        assert response.json()["detail"] == "this API key is unknown or revoked"


@pytest.mark.parametrize("route", LOCKED, ids=route_id)
def test_a_key_without_the_scope_is_403_and_with_it_passes(
    api: ApiHarness, route: tuple[str, str, str]
) -> None:
    method, path, scope = route
    other = "ingest" if scope == "read" else "read"
    response = api.client.request(method, path, headers=api.headers(api.key(other)))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert f"lacks the {scope!r} scope" in response.json()["detail"]
    allowed = api.client.request(method, path, headers=api.headers(api.key(scope)))
    assert allowed.status_code not in (401, 403), allowed.text
    assert allowed.status_code < 500, allowed.text


def test_admin_implies_every_scope(api: ApiHarness) -> None:
    admin = api.headers(api.key("admin"))
    for method, path, _ in LOCKED:
        response = api.client.request(method, path, headers=admin)
        assert response.status_code not in (401, 403), f"{method} {path}: {response.text}"


def test_revocation_over_the_api_takes_effect_on_the_next_request(api: ApiHarness) -> None:
    admin = api.headers(api.key("admin"))
    created = api.client.post("/v1/keys", headers=admin, json={"scopes": ["read"]})
    assert created.status_code == 201
    token = created.json()["token"]
    key_id = created.json()["key"]["key_id"]
    assert api.client.get("/v1/plugins", headers=api.headers(token)).status_code == 200
    revoked = api.client.delete(f"/v1/keys/{key_id}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    _assert_unauthorized(api.client.get("/v1/plugins", headers=api.headers(token)))


def test_creating_a_key_over_the_api_shows_its_token_once(fresh: ApiHarness) -> None:
    api = fresh
    admin_token = api.key("admin", name="ops")
    admin = api.headers(admin_token)
    created = api.client.post(
        "/v1/keys",
        headers=admin,
        json={"scopes": ["read", "act"], "csm_groups": ["emea", "apac"], "name": "slack-bot"},
    )
    assert created.status_code == 201
    body = created.json()
    assert body["key"]["scopes"] == ["act", "read"]
    assert body["key"]["csm_groups"] == ["apac", "emea"]
    admin_id = admin_token.split("_")[1]
    assert body["key"]["created_by"] == f"api-key:{admin_id} (ops)"
    secret = body["token"].split("_", 2)[2]
    listed = api.client.get("/v1/keys", headers=admin)
    assert listed.status_code == 200
    assert secret not in listed.text
    assert body["key"]["key_id"] in {item["key_id"] for item in listed.json()["items"]}
    assert all("token" not in item for item in listed.json()["items"])


def test_the_key_list_pages(fresh: ApiHarness) -> None:
    admin = fresh.headers(fresh.key("admin"))
    for n in range(4):
        fresh.key("read", name=f"k{n}")
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = fresh.client.get("/v1/keys", headers=admin, params=params).json()
        pages += 1
        assert len(page["items"]) <= 2
        seen.extend(item["name"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == ["", "k0", "k1", "k2", "k3"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"scopes": []}, 400, "body.scopes"),
        ({"scopes": ["owner"]}, 400, "body.scopes[0]"),
        ({"scopes": ["read"], "csm_groups": [""]}, 400, "body.csm_groups[0]"),
        ({"scopes": ["read"], "secret": "x"}, 400, "body.secret"),
        ({"scopes": ["admin"], "csm_groups": ["emea"]}, 422, None),
        ({"scopes": ["read"], "csm_groups": ["emea", "emae"]}, 422, "body.csm_groups"),
    ],
)
def test_a_bad_new_key_is_refused_by_field(
    fresh: ApiHarness, body: dict[str, object], status: int, field: str | None
) -> None:
    admin = fresh.headers(fresh.key("admin"))
    response = fresh.client.post("/v1/keys", headers=admin, json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert [e["field"] for e in response.json()["errors"]] == [field]
    assert len(fresh.client.get("/v1/keys", headers=admin).json()["items"]) == 1


def test_a_misspelled_csm_group_is_refused_listing_the_known_ones(fresh: ApiHarness) -> None:
    admin = fresh.headers(fresh.key("admin"))
    body = {"scopes": ["read"], "csm_groups": ["emea", "emae"]}
    response = fresh.client.post("/v1/keys", headers=admin, json=body)
    assert response.status_code == 422
    reason = "no CSM group named 'emae' (known: apac, emea)"
    assert response.json()["errors"] == [{"field": "body.csm_groups", "reason": reason}]
    assert len(fresh.client.get("/v1/keys", headers=admin).json()["items"]) == 1


def test_revoking_an_unknown_key_is_404_and_twice_is_409(api: ApiHarness) -> None:
    admin = api.headers(api.key("admin"))
    assert api.client.delete("/v1/keys/nosuchkey", headers=admin).status_code == 404
    key, _ = create_key(api.context.store, scopes=["read"], by="tests")
    assert api.client.delete(f"/v1/keys/{key.key_id}", headers=admin).status_code == 200
    again = api.client.delete(f"/v1/keys/{key.key_id}", headers=admin)
    assert again.status_code == 409
    assert "already revoked" in again.json()["detail"]


def test_the_last_live_admin_key_is_not_revoked_over_http(fresh: ApiHarness) -> None:
    """Found by outside testers: an admin key could revoke every admin key, its own
    included, and then only the host's command could make another."""
    own = fresh.key("admin", name="ops")
    other = fresh.key("admin", name="backup")
    reader = fresh.key("read")
    headers = fresh.headers(own)

    def revoke(token: str) -> httpx.Response:
        return fresh.client.delete(f"/v1/keys/{token.split('_')[1]}", headers=headers)

    assert revoke(reader).status_code == 200
    assert revoke(other).status_code == 200
    last = revoke(own)
    assert last.status_code == 409
    assert last.headers["content-type"] == "application/problem+json"
    assert "is the last live admin key" in last.json()["detail"]
    assert fresh.client.get("/v1/keys", headers=headers).status_code == 200  # still live
    # Once another admin key exists, the first may go.
    newer = fresh.client.post("/v1/keys", json={"scopes": ["admin"]}, headers=headers)
    assert revoke(own).status_code == 200
    assert fresh.client.get("/v1/keys", headers=headers).status_code == 401
    assert newer.json()["key"]["revoked_at"] is None


def _key(groups: list[str] | None) -> ApiKey:
    return ApiKey(
        key_id="k1",
        name="",
        scopes=frozenset({"read"}),
        csm_groups=None if groups is None else frozenset(groups),
        created_by="tests",
        created_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )


def test_a_group_limited_key_sees_only_its_groups() -> None:
    limited = _key(["emea", "apac"])
    assert limited.sees("emea")
    assert not limited.sees("amer")
    assert _key(None).sees("amer")
    check_groups(limited, ["emea"])
    with pytest.raises(ProblemError) as refused:
        check_groups(limited, ["emea", "amer"], field="query.csm_group")
    assert refused.value.status == 403
    assert refused.value.errors[0].field == "query.csm_group"
    assert "'amer'" in refused.value.detail


def test_the_group_clause_limits_rows_to_the_keys_groups(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "g.db")
    conn.execute("CREATE TABLE a (id TEXT, csm_group TEXT)")
    conn.executemany(
        "INSERT INTO a VALUES (?, ?)", [("1", "emea"), ("2", "apac"), ("3", "amer"), ("4", None)]
    )
    for key, expected in ((_key(["emea", "apac"]), ["1", "2"]), (_key(None), ["1", "2", "3", "4"])):
        clause, params = group_clause(key, "csm_group")
        rows = conn.execute(f"SELECT id FROM a WHERE {clause} ORDER BY id", params).fetchall()
        assert [r[0] for r in rows] == expected
    conn.close()


def test_actions_are_recorded_with_the_key_and_its_name() -> None:
    assert actor(_key(None)) == "api-key:k1"
    named = ApiKey(
        key_id="k2",
        name="crm-sync",
        scopes=frozenset({"act"}),
        csm_groups=None,
        created_by="tests",
        created_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    )
    assert actor(named) == "api-key:k2 (crm-sync)"
