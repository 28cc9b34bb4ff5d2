"""The telltales REST API (litestar). For now: the application factory and probes."""

from .app import create_app

__all__ = ["create_app"]
