"""One small demo book for the backtest tests, built once: each test works on a copy."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from support.demo_book import build_book
from telltales.demo.replay import DemoOptions

OPTIONS = DemoOptions(accounts=80, days=245, seed=11, end=date(2026, 11, 20))


@pytest.fixture(scope="package")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backtest") / "demo.db"
    build_book(path, OPTIONS)
    return path
