"""Routes for history (being built under issue 5)."""

from __future__ import annotations

from litestar import Router

router = Router(path="/v1", route_handlers=[])
