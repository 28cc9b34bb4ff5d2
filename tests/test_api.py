"""The API package imports as ``telltales_api`` and its app answers its probe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import telltales
from litestar.testing import TestClient
from telltales_api import create_app


def test_healthz_reports_versions() -> None:
    with TestClient(app=create_app()) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": telltales.__version__,
        "plugin_api_version": telltales.PLUGIN_API_VERSION,
    }


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
