"""An API on a fresh database for tests: the app, a client, and keys of every kind."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from litestar.testing import TestClient
from telltales.keys import create_key
from telltales_api import create_app
from telltales_api.context import ApiContext, ApiSettings


@dataclass
class ApiHarness:
    """A running app (in-process) over ``tmp_path/api.db``."""

    client: TestClient  # type: ignore[type-arg]
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def context(self) -> ApiContext:
        context: ApiContext = self.client.app.state.telltales
        return context

    def key(self, *scopes: str, groups: Sequence[str] | None = None, name: str = "") -> str:
        """A new key's token with these scopes (and CSM groups)."""
        _, token = create_key(
            self.context.store, scopes=scopes, csm_groups=groups, name=name, by="tests"
        )
        return token

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def api_harness(
    tmp_path: Path, config: str | None = None, max_body_bytes: int | None = None
) -> Iterator[ApiHarness]:
    """Yield a harness; ``config`` is TOML text written to ``telltales.toml``."""
    config_file = None
    if config is not None:
        config_file = tmp_path / "telltales.toml"
        config_file.write_text(config)
    settings = ApiSettings(db=tmp_path / "api.db", config=config_file, create_db=True)
    if max_body_bytes is not None:
        settings = ApiSettings(
            db=settings.db, config=config_file, create_db=True, max_body_bytes=max_body_bytes
        )
    with TestClient(app=create_app(settings)) as client:
        yield ApiHarness(client=client)
