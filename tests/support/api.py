"""An API on a fresh database for tests: the app, a client, and keys of every kind.

The same :class:`telltales.testing.ApiClient` that plugin vendors get, over the
installed plugins instead of the ones a test registers.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

from telltales.signals.ingest import convert_records, ingest
from telltales.testing import ApiClient
from telltales_api import create_app
from telltales_api.context import DEFAULT_MAX_BODY, ApiSettings

ApiHarness = ApiClient
"""A running app (in-process) over ``tmp_path/api.db``: ``client``, ``context``,
``key(*scopes, groups=..., name=...)`` and ``headers(token)``."""


def api_settings(
    tmp_path: Path, config: str | None = None, max_body_bytes: int | None = None
) -> ApiSettings:
    """Settings for ``tmp_path/api.db``; ``config`` is TOML text for ``telltales.toml``."""
    config_file = None
    if config is not None:
        config_file = tmp_path / "telltales.toml"
        config_file.write_text(config)
    return ApiSettings(
        db=tmp_path / "api.db",
        config=config_file,
        create_db=True,
        max_body_bytes=max_body_bytes or DEFAULT_MAX_BODY,
    )


def api_harness(
    tmp_path: Path, config: str | None = None, max_body_bytes: int | None = None
) -> Iterator[ApiHarness]:
    """Yield a started harness; ``config`` is TOML text written to ``telltales.toml``."""
    settings = api_settings(tmp_path, config, max_body_bytes)
    with ApiClient(lambda: create_app(settings)) as api:
        api.client  # noqa: B018 - start the app now, as tests expect
        yield api


def api_over_copy(template: Path, tmp_path: Path) -> Iterator[ApiHarness]:
    """Yield a started harness over a copy of the database at ``template``."""
    shutil.copy(template, tmp_path / "api.db")
    yield from api_harness(tmp_path)


def add_accounts(harness: ApiHarness, path: Path) -> None:
    """Store the accounts of a JSON file (``examples/data/accounts.json``) directly."""
    context = harness.context
    records = convert_records(context.registry, "accounts", json.loads(path.read_text()))
    ingest(context.store, context.registry, "accounts", records)
