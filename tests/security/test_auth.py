"""OWASP API2 (broken authentication) and API5 (broken function level authorization).

Every operation of the app's own OpenAPI schema is called with every kind of bad
credential: none, an empty or malformed header, another scheme, garbage, a header of
100,000 characters, non-ASCII bytes, a key with a wrong secret, a revoked key. Each
answer is a 401 problem with ``WWW-Authenticate``, and it comes before anything else
is looked at (an unknown id, an invalid body). Then every scope: a key without the
operation's scope gets a 403 problem; read-only keys on every write and keys holding
every scope but ``admin`` on the admin operations included. Keys do not expire (they
are revoked), so there is no expired key to try.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.api import ApiHarness, api_harness
from support.security_routes import PUBLIC, Operation, operations
from telltales.store.keys import SCOPES, create_key, revoke_key
from telltales_api import create_app
from telltales_api.context import ApiSettings

pytestmark = pytest.mark.reliability

ALL_OPERATIONS = operations(create_app(ApiSettings(db=Path("never-opened.db"))))
LOCKED = [op for op in ALL_OPERATIONS if op.scope is not None]
SAMPLES = {
    "account_id": "ferrum",
    "task_id": 1,
    "run_id": 1,
    "backtest_id": 1,
    "delivery_id": 1,
    "pilot_id": "p",
    "key_id": "k",
}
INVALID_BODY = {"unexpected": ["field"] * 3}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiHarness]:
    yield from api_harness(tmp_path_factory.mktemp("auth-sweep"))


@pytest.fixture(scope="module")
def bad_headers(api: ApiHarness) -> list[dict[str, str | bytes]]:
    """Authorization headers that must all be refused, and no header at all."""
    store = api.context.store
    revoked_key, revoked = create_key(store, scopes=["admin"], by="tests")
    revoke_key(store, revoked_key.key_id, by="tests")
    live = api.key("admin")
    live_id = live.split("_")[1]
    values: list[str | bytes] = [
        "",
        "Bearer",
        "Bearer    ",
        f"Basic {live}",
        live,
        f"Bearer{live}",
        f"Bearer {live}x",
        f"Bearer {live} {live}",
        f"Bearer tt_{live_id}_",
        f"Bearer tt_{live_id}_{'A' * 43}",
        f"Bearer tt__{live.rsplit('_', 1)[1]}",
        "Bearer garbage",
        "Bearer " + "tt_" + "a" * 100_000,
        "Bearer tt_ключ_секрет".encode(),
        b"Bearer tt_\xff\xfe_\x80\x81",
        f"Bearer {revoked}",
    ]
    return [{}, *({"Authorization": value} for value in values)]  # type: ignore[dict-item]


def _problem(response: httpx.Response, status: int, what: str) -> None:
    assert response.status_code == status, f"{what}: {response.status_code} {response.text[:200]}"
    assert response.headers["content-type"] == "application/problem+json", what
    assert response.json()["status"] == status, what


def test_only_the_probes_are_public_and_every_other_operation_says_so() -> None:
    public = {(op.method, op.path) for op in ALL_OPERATIONS if op.scope is None}
    assert public == PUBLIC
    assert len(LOCKED) >= 40
    for op in LOCKED:
        assert op.path.startswith("/v1/"), op.name
        assert {401, 403} <= op.responses, f"{op.name}: 401 and 403 are not documented"


def test_every_write_needs_more_than_read() -> None:
    writes = [op for op in LOCKED if op.method != "GET"]
    assert writes
    assert [op.name for op in writes if op.scope == "read"] == []


@pytest.mark.parametrize("op", LOCKED, ids=lambda op: op.name)
def test_every_bad_credential_is_a_401_before_anything_else(
    api: ApiHarness, bad_headers: list[dict[str, str | bytes]], op: Operation
) -> None:
    url = op.url(SAMPLES)
    body = INVALID_BODY if op.takes_body else None
    for headers in bad_headers:
        response = api.client.request(op.method, url, json=body, headers=headers)
        what = f"{op.name} with {str(headers)[:80]}"
        _problem(response, 401, what)
        assert response.headers["www-authenticate"] == 'Bearer realm="telltales"', what


@pytest.mark.parametrize("op", LOCKED, ids=lambda op: op.name)
def test_every_key_without_the_scope_is_a_403(api: ApiHarness, op: Operation) -> None:
    """Each single scope that is not enough, and every scope but admin for admin routes."""
    url = op.url(SAMPLES)
    body = INVALID_BODY if op.takes_body else None
    short = [[scope] for scope in SCOPES if scope not in (op.scope, "admin")]
    if op.scope == "admin":
        short.append([scope for scope in SCOPES if scope != "admin"])
    for scopes in short:
        for groups in (None, ["emea-midmarket"]):
            token = api.key(*scopes, groups=groups)
            response = api.client.request(op.method, url, json=body, headers=api.headers(token))
            _problem(response, 403, f"{op.name} with {scopes} {groups}")
            assert f"lacks the {op.scope!r} scope" in response.json()["detail"]
    enough = api.key(op.scope or "admin")
    allowed = api.client.request(op.method, url, json=body, headers=api.headers(enough))
    assert allowed.status_code not in (401, 403), f"{op.name}: {allowed.text[:200]}"
    assert allowed.status_code < 500, f"{op.name}: {allowed.text[:200]}"


def test_a_revoked_key_is_refused_on_the_next_request_everywhere(api: ApiHarness) -> None:
    """Revocation is not cached: the key checked a moment ago is refused at once."""
    store = api.context.store
    key, token = create_key(store, scopes=["admin"], by="tests")
    headers = api.headers(token)
    reads = [op for op in LOCKED if op.method == "GET" and not op.path_params]
    for op in reads:
        assert api.client.get(op.path, headers=headers).status_code == 200, op.name
    revoke_key(store, key.key_id, by="tests")
    for op in reads:
        _problem(api.client.get(op.path, headers=headers), 401, op.name)
