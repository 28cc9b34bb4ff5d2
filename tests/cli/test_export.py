"""``--csv`` on the listing commands: a header of the item's fields, one row per item."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner, Result
from support.book import EXAMPLE_PLUGINS, ONE_DAY_DROP, build_example
from telltales.cli import cli
from telltales.models import Account, RunResult, Signal, StatusTransition
from telltales.playbooks.outbox import Delivery
from telltales.playbooks.pilots import Pilot
from telltales.playbooks.runs import PlaybookRun
from telltales.playbooks.tasks import Task
from telltales.store.keys import KeyDescription

ENV = {"TELLTALES_PLUGINS": ",".join(sorted(EXAMPLE_PLUGINS))}


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, env=ENV)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example data, a pilot that makes tasks and deliveries, a run, and a key."""
    folder = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # no ./telltales.toml but this one
        (folder / "telltales.toml").write_text(ONE_DAY_DROP)
        path = folder / "example.db"
        build_example(path)
        pilot = ["pilots", "create", "apac", "--group", "apac-midmarket"]
        pilot += ["--rule", "core_feature_drop", "--playbook", "at_risk_response"]
        pilot += ["--starts-on", "2026-11-01", "--by", "ops@vendor.example"]
        assert invoke("--db", path, *pilot).exit_code == 0
        assert invoke("--db", path, "run", "--as-of", "2026-11-20").exit_code == 0
        assert invoke("--db", path, "keys", "create", "--scope", "read").exit_code == 0
        yield path


def rows(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


def header(result: Result) -> list[str]:
    return next(csv.reader(io.StringIO(result.output)))


def fields(kind: type[msgspec.Struct]) -> list[str]:
    return [field.encode_name for field in msgspec.structs.fields(kind)]


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (["accounts"], Account),
        (["signals", "--all"], Signal),
        (["runs"], RunResult),
        (["status", "ferrum", "--history"], StatusTransition),
        (["playbooks"], PlaybookRun),
        (["tasks", "list", "--state", "all"], Task),
        (["outbox", "list"], Delivery),
        (["pilots", "list"], Pilot),
        (["keys", "list"], KeyDescription),
    ],
)
def test_each_listing_prints_the_items_of_its_json_as_csv(
    ran: Path, command: list[str], kind: type[msgspec.Struct]
) -> None:
    result = invoke("--db", ran, *command, "--csv")
    assert header(result) == fields(kind)
    listed = json.loads(invoke("--db", ran, *command, "--json").output)
    if command[0] == "signals":
        listed = [signal for account in listed for signal in account["signals"]]
    found = rows(result)
    assert len(found) == len(listed) > 0
    first = found[0]
    for name, value in listed[0].items():
        if value is None:
            assert first[name] == ""
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            assert first[name] == ";".join(value)
        elif isinstance(value, dict | list):
            assert json.loads(first[name]) == value
        elif isinstance(value, bool):
            assert first[name] == str(value).lower()
        else:
            assert first[name] == str(value)


def test_accounts_as_csv_can_be_ingested_back(ran: Path, tmp_path: Path) -> None:
    export = tmp_path / "accounts.csv"
    export.write_text(invoke("--db", ran, "accounts", "--csv").output)
    copy = tmp_path / "copy.db"
    assert invoke("--db", copy, "init").exit_code == 0
    assert invoke("--db", copy, "ingest", "accounts", export).exit_code == 0
    original = json.loads(invoke("--db", ran, "accounts", "--json").output)
    assert json.loads(invoke("--db", copy, "accounts", "--json").output) == original


def test_an_empty_listing_still_has_its_header(ran: Path) -> None:
    result = invoke("--db", ran, "tasks", "list", "--assignee", "nobody", "--csv")
    assert result.output == ",".join(fields(Task)) + "\n"


def test_json_and_csv_together_is_a_usage_error(ran: Path) -> None:
    result = invoke("--db", ran, "accounts", "--json", "--csv")
    assert result.exit_code == 2
    assert "--json and --csv: choose one" in result.output
