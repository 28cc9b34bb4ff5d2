"""The API package imports as ``telltales_api`` and its app answers its probes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import telltales
from support.api import ApiHarness, api_harness


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    yield from api_harness(tmp_path)


def test_healthz_reports_versions(api: ApiHarness) -> None:
    response = api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": telltales.__version__,
        "plugin_api_version": telltales.PLUGIN_API_VERSION,
        "plugins_left_out": [],
    }


def test_readyz_answers_once_the_database_does(api: ApiHarness) -> None:
    response = api.client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["plugins_left_out"] == []


def test_installed_names_are_distinctive(tmp_path: Path) -> None:
    """Outside the checkout, telltales and telltales_api import; core and api do not."""
    probe = (
        "import importlib.util as u; "
        "print([n for n in ('telltales', 'telltales_api', 'core', 'api') if u.find_spec(n)])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert result.stdout.strip() == "['telltales', 'telltales_api']"
