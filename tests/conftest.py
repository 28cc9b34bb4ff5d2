"""Fixtures for the core's tests; plugin authors get theirs from telltales.testing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.outbox_receivers import HttpReceiver, SmtpReceiver
from telltales.plugins import Registry, load_registry
from telltales.store import Store, open_store

EXAMPLE_ACCOUNTS = Path(__file__).parents[1] / "examples" / "data" / "accounts.json"


SUMMARY_LINES: list[str] = []
"""What tests recorded with ``record_property("summary", line)``, for the terminal summary."""


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Reports carry their user properties from pytest-xdist's workers, so this runs
    # where the summary is written, with or without workers.
    if report.when == "call":
        SUMMARY_LINES.extend(str(v) for name, v in report.user_properties if name == "summary")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in SUMMARY_LINES:
        terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _clean_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start with no plugin or database environment variables set."""
    for name in (
        "TELLTALES_PLUGINS",
        "TELLTALES_STRICT_PLUGINS",
        "TELLTALES_DB",
        "TELLTALES_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def registry() -> Registry:
    """The core's default plugins only."""
    return load_registry(use_entry_points=False)


@pytest.fixture
def store(tmp_path: Path, registry: Registry) -> Iterator[Store]:
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(tmp_path / "t.db", migrations, create=True) as opened:
        yield opened


@pytest.fixture
def example_accounts() -> list[dict[str, object]]:
    data: list[dict[str, object]] = json.loads(EXAMPLE_ACCOUNTS.read_text())
    return data


def _receiver_delay(request: pytest.FixtureRequest) -> tuple[float, float]:
    """A test module's ``RECEIVER_DELAY``: how long its receivers take to answer.

    Kill tests slow the receivers down so that kills land while a delivery is in hand.
    """
    delay: tuple[float, float] = getattr(request.module, "RECEIVER_DELAY", (0.0, 0.0))
    return delay


@pytest.fixture
def smtp(request: pytest.FixtureRequest) -> Iterator[SmtpReceiver]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it is sent."""
    receiver = SmtpReceiver(delay=_receiver_delay(request)).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def http(request: pytest.FixtureRequest) -> Iterator[HttpReceiver]:
    """A real HTTP server on 127.0.0.1 that records the webhooks it is sent."""
    receiver = HttpReceiver(delay=_receiver_delay(request)).start()
    yield receiver
    receiver.stop()
