"""The docs show what the code does: code blocks come from tested files, links resolve.

docs/snippets.py holds the rule (see its docstring); these tests run it over the
repository, check the checker itself on small made-up trees, and compare the
defaults documented in docs/configuration.md with the code's.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import re
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import msgspec
import pytest
from click.testing import CliRunner, Result
from telltales import observability
from telltales.cli import cli
from telltales.config import Config, LoadedConfig, load_config
from telltales.default_plugins.actions import FlagParams, TaskParams
from telltales.errors import ConfigError
from telltales.playbooks.plan import (
    AlertsSpec,
    CrmSpec,
    EngineSpec,
    GroupSpec,
    LabelsSpec,
    LinksSpec,
    OutboxSpec,
    load_plan,
)
from telltales.playbooks.rules import ConditionSpec, RuleSpec
from telltales.playbooks.steps import PlaybookSpec
from telltales.plugins import load_registry
from telltales.signals.scorecards import load_scoring
from telltales.signals.scorecards.definition import MeasureSpec, ScoringSpec
from telltales.signals.settings import scorer_settings, source_settings
from telltales.store import DEFAULT_DB
from telltales_api.context import DEFAULT_MAX_BODY
from telltales_api.health_cache import DEFAULT_MAX_BYTES as DEFAULT_HEALTH_CACHE

ROOT = Path(__file__).parents[2]


def _load_snippets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("snippets", ROOT / "docs" / "snippets.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["snippets"] = module
    spec.loader.exec_module(module)
    return module


snippets = _load_snippets()


def listed(problems: list[object]) -> str:
    return "\n".join(str(problem) for problem in problems)


# The repository


def test_every_code_block_in_the_docs_is_its_source() -> None:
    problems = snippets.check_snippets(ROOT)
    assert not problems, (
        "code blocks in the docs must come from tested files "
        "(python3 docs/snippets.py --write refreshes stale ones):\n" + listed(problems)
    )


def test_every_relative_link_in_the_docs_resolves() -> None:
    problems = snippets.check_links(ROOT)
    assert not problems, listed(problems)


# The checker, on made-up trees

SOURCE = """\
import os

def main() -> None:
    # [docs:body]
    print("hello")
    # [docs:inner]
    print("world")
    # [/docs:inner]
    # [/docs:body]
"""


def tree(tmp_path: Path, doc: str, files: dict[str, str] | None = None) -> Path:
    """A repository with docs/guide.md holding ``doc``, and ``files`` by relative path."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text(doc)
    for name, text in (files or {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_region_is_dedented_without_its_marker_lines(tmp_path: Path) -> None:
    doc = (
        "Intro.\n\n<!-- snippet: src/app.py#body -->\n"
        + '```python\nprint("hello")\nprint("world")\n```\n\n'
        + '<!-- snippet: src/app.py#inner -->\n```py\nprint("world")\n```\n'
    )
    root = tree(tmp_path, doc, {"src/app.py": SOURCE})
    assert snippets.check_snippets(root) == []


def test_a_whole_file_is_shown_without_region_markers(tmp_path: Path) -> None:
    shown = SOURCE.replace("    # [docs:body]\n", "").replace("    # [/docs:body]\n", "")
    shown = shown.replace("    # [docs:inner]\n", "").replace("    # [/docs:inner]\n", "")
    doc = f"<!-- snippet: app.py -->\n```python\n{shown}```\n"
    root = tree(tmp_path, doc, {"app.py": SOURCE})
    assert snippets.check_snippets(root) == []


def test_unmarked_code_is_refused_and_output_is_not(tmp_path: Path) -> None:
    doc = (
        "# Guide\n\n```toml\nx = 1\n```\n\n```text\n$ telltales run\nRun 1\n```\n\n"
        "```\na diagram\n```\n\n```console\n$ ls\n```\n\n~~~bash\nls\n~~~\n"
    )
    root = tree(tmp_path, doc)
    problems = [str(p) for p in snippets.check_snippets(root)]
    assert problems == [
        "docs/guide.md:3: toml block has no <!-- snippet: path#region --> marker above it",
        "docs/guide.md:20: bash block has no <!-- snippet: path#region --> marker above it",
    ]


def test_readme_is_checked_too(tmp_path: Path) -> None:
    root = tree(tmp_path, "Nothing here.\n")
    (root / "README.md").write_text("```sh\npython3 dev.py demo\n```\n")
    problems = [str(p) for p in snippets.check_snippets(root)]
    assert problems == [
        "README.md:1: sh block has no <!-- snippet: path#region --> marker above it"
    ]


def test_missing_sources_and_regions_are_named(tmp_path: Path) -> None:
    doc = (
        "<!-- snippet: nowhere.py -->\n```python\nx\n```\n"
        "<!-- snippet: app.py#absent -->\n```python\nx\n```\n"
        "<!-- snippet: open.py#half -->\n```python\nx\n```\n"
        "<!-- snippet: ../outside.py -->\n```python\nx\n```\n"
        "<!-- snippet: app.py#body -->\n\n```python\nx\n```\n"
    )
    root = tree(tmp_path, doc, {"app.py": SOURCE, "open.py": "# [docs:half]\nx = 1\n"})
    problems = [str(p) for p in snippets.check_snippets(root)]
    assert problems == [
        "docs/guide.md:2: snippet source nowhere.py does not exist",
        "docs/guide.md:6: app.py has no region [docs:absent]",
        "docs/guide.md:10: open.py: region [docs:half] has no [/docs:half] after it",
        "docs/guide.md:14: snippet source '../outside.py' is outside the repository",
        "docs/guide.md:17: snippet marker is not right above a code fence",
        "docs/guide.md:19: python block has no <!-- snippet: path#region --> marker above it",
    ]


def test_a_stale_block_is_reported_and_rewritten(tmp_path: Path) -> None:
    doc = (
        "1. Install:\n\n"
        "   <!-- snippet: app.py#inner -->\n"
        "   ```python\n"
        '   print("old")\n'
        "   ```\n\n"
        "Done.\n"
    )
    root = tree(tmp_path, doc, {"app.py": SOURCE})
    (problem,) = [str(p) for p in snippets.check_snippets(root)]
    assert problem == (
        "docs/guide.md:4: block differs from app.py#inner at its line 1: "
        "shows 'print(\"old\")', the source has 'print(\"world\")'"
    )

    assert snippets.check_snippets(root, write=True) == []
    assert (root / "docs" / "guide.md").read_text() == doc.replace("old", "world")
    assert snippets.check_snippets(root) == []


def test_the_command_exits_1_listing_problems_and_0_when_clean(tmp_path: Path) -> None:
    root = tree(
        tmp_path, "<!-- snippet: app.py -->\n```python\nx = 2\n```\n", {"app.py": "x = 1\n"}
    )
    command = [sys.executable, str(ROOT / "docs" / "snippets.py"), "--root", str(root)]

    stale = subprocess.run(command, capture_output=True, text=True, check=False)
    assert stale.returncode == 1
    assert stale.stdout == (
        "docs/guide.md:2: block differs from app.py at its line 1: "
        "shows 'x = 2', the source has 'x = 1'\n"
    )

    written = subprocess.run([*command, "--write"], capture_output=True, text=True, check=False)
    assert (written.returncode, written.stdout) == (
        0,
        "docs/guide.md:2: rewrote the block from app.py\n",
    )
    clean = subprocess.run(command, capture_output=True, text=True, check=False)
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", "")


def test_the_command_checks_only_the_documents_it_is_given(tmp_path: Path) -> None:
    root = tree(
        tmp_path, "<!-- snippet: app.py -->\n```python\nx = 1\n```\n", {"app.py": "x = 1\n"}
    )
    (root / "README.md").write_text("```sh\nls\n```\n[gone](nowhere.md)\n")
    script = str(ROOT / "docs" / "snippets.py")
    command = [sys.executable, script, "--root", str(root)]

    everything = subprocess.run(command, capture_output=True, text=True, check=False)
    assert everything.returncode == 1
    assert everything.stdout.count("README.md:") == 2
    one = subprocess.run(
        [*command, str(root / "docs" / "guide.md")], capture_output=True, text=True, check=False
    )
    assert (one.returncode, one.stdout) == (0, "")
    other = subprocess.run(
        [*command, str(root / "app.py")], capture_output=True, text=True, check=False
    )
    assert other.returncode == 2
    assert "not README.md or docs/*.md" in other.stderr


def test_broken_links_are_named_and_good_ones_pass(tmp_path: Path) -> None:
    doc = (
        "# Guide\n\n## Two words\n\n"
        "[ok](other.md#the-other-page) [dir](../src) [self](#two-words) "
        "[web](https://example.com/x) [mail](mailto:a@b.c)\n"
        "[gone](missing.md) [anchor](other.md#nope) `[code](nowhere.md)`\n\n"
        "```text\n[in a block](nowhere.md)\n```\n\n"
        "[ref]: ../src/absent.py\n"
    )
    root = tree(tmp_path, doc, {"docs/other.md": "# The other page\n", "src/keep": ""})
    problems = [str(p) for p in snippets.check_links(root)]
    assert problems == [
        "docs/guide.md:6: link 'missing.md': missing.md does not exist",
        "docs/guide.md:6: link 'other.md#nope': docs/other.md has no heading #nope",
        "docs/guide.md:12: link '../src/absent.py': ../src/absent.py does not exist",
    ]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("## Keys and scopes", "keys-and-scopes"),
        ("### `register_signal_sources(register)`", "register_signal_sourcesregister"),
        ("## Risk status reversal rate (W days)", "risk-status-reversal-rate-w-days"),
        ("## [Linked](x.md) heading", "linked-heading"),
    ],
)
def test_anchors_are_made_as_github_makes_them(tmp_path: Path, heading: str, anchor: str) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"{heading}\n\n{heading}\n")
    assert snippets.anchors(page) == {anchor, f"{anchor}-1"}


# docs/configuration.md: every core key with the code's default

CONFIG_DOC = ROOT / "docs" / "configuration.md"
REFERENCE = ROOT / "examples" / "cli-tour" / "reference.toml"
REQUIRED = "required"
BUILT_IN = frozenset(
    {"contacts", "engagement", "firmographics", "news", "notify", "support", "telemetry"}
)


def documented_tables(doc: Path) -> dict[str, list[dict[str, str]]]:
    """The first table under each heading of ``doc`` (code blocks left out): its rows,
    each by column name."""
    lines = doc.read_text().splitlines()
    blocks, _ = snippets.parse_blocks(lines)
    fenced = {n for block in blocks for n in range(block.start, block.end + 1)}
    tables: dict[str, list[dict[str, str]]] = {}
    heading, table = "", []
    for number, line in enumerate([*lines, ""]):
        if number not in fenced and line.startswith("|"):
            table.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
            continue
        if table and heading not in tables:
            columns, _separator, *rows = table
            tables[heading] = [dict(zip(columns, row, strict=True)) for row in rows]
        table = []
        if number not in fenced and line.startswith("#"):
            heading = line.lstrip("#").strip()
    return tables


def parsed_default(cell: str) -> object:
    """A documented default: ``required``, ``none``, or a TOML value in backticks."""
    if cell in (REQUIRED, "none"):
        return None if cell == "none" else REQUIRED
    assert cell.startswith("`"), f"default {cell!r} is not `toml`"
    assert cell.endswith("`"), f"default {cell!r} is not `toml`"
    return tomllib.loads(f"value = {cell.strip('`')}")["value"]


def struct_defaults(struct: type[msgspec.Struct]) -> dict[str, object]:
    """Each field's default by its TOML name; REQUIRED when it has none."""
    found: dict[str, object] = {}
    for field in msgspec.structs.fields(struct):
        if field.default is not msgspec.NODEFAULT:
            found[field.encode_name] = msgspec.to_builtins(field.default)
        elif field.default_factory is not msgspec.NODEFAULT:
            found[field.encode_name] = msgspec.to_builtins(field.default_factory())
        else:
            found[field.encode_name] = REQUIRED
    return found


def card_defaults() -> dict[str, object]:
    """A scorecard's defaults, read off a card compiled from its required keys only."""
    table = {
        "components": {"all": 1},
        "measures": [
            {"component": "all", "signal": "account.seat_deployment", "weight": 1.0}
            | {"linear": {"worst": 0, "best": 1}}
        ],
    }
    values = msgspec.convert({"scorecards": {"probe": table}}, Config)
    card = load_scoring(LoadedConfig(values=values), None).cards["probe"]
    bands = {
        f"grades.{band.grade}": {"from": band.low, "to": band.high, "label": band.label}
        for band in card.bands
    }
    return {
        "min_coverage": card.min_coverage,
        "insufficient_data_label": card.insufficient_label,
        "components": REQUIRED,
        **bands,
        "measures": REQUIRED,
    }


def code_defaults() -> dict[str, dict[str, object]]:
    """What the code says, keyed by the heading of its table in configuration.md."""
    measure = struct_defaults(MeasureSpec)
    return {
        "`[scoring]`": struct_defaults(ScoringSpec),
        "`[scorecards.<name>]`": card_defaults(),
        "`[[scorecards.<name>.measures]]`": measure,
        "`[statuses]`": struct_defaults(LabelsSpec),
        "`[rules.<name>]`": struct_defaults(RuleSpec),
        "Conditions": struct_defaults(ConditionSpec),
        "`[playbooks.<name>]`": struct_defaults(PlaybookSpec),
        "Step parameters of `task`": struct_defaults(TaskParams),
        "Step parameters of `renewal.flag`": struct_defaults(FlagParams),
        "`[crm]`": struct_defaults(CrmSpec),
        "`[csm_groups.<group>]`": struct_defaults(GroupSpec),
        "`[alerts]`": struct_defaults(AlertsSpec),
        "`[outbox]`": struct_defaults(OutboxSpec),
        "`[engine]`": struct_defaults(EngineSpec),
        "`[links]`": struct_defaults(LinksSpec),
    }


@pytest.mark.parametrize("heading", list(code_defaults()))
def test_configuration_md_states_every_core_key_with_its_default(heading: str) -> None:
    rows = documented_tables(CONFIG_DOC).get(heading)
    assert rows, f"docs/configuration.md has no table under {heading!r}"
    expected = code_defaults()[heading]
    documented = {row["key"].strip("`"): row for row in rows}
    assert sorted(documented) == sorted(expected)
    if "default" not in rows[0]:
        return
    for key, row in documented.items():
        assert parsed_default(row["default"]) == expected[key], f"{heading} {key}"


def test_configuration_md_covers_every_top_level_table() -> None:
    rows = documented_tables(CONFIG_DOC)["The tables"]
    tables = {row["table"].strip("`[]").split(".")[0] for row in rows}
    assert tables == {field.encode_name for field in msgspec.structs.fields(Config)}


def test_configuration_md_states_the_environment_the_code_reads() -> None:
    rows = {
        row["variable"].strip("`"): row
        for row in documented_tables(CONFIG_DOC)["Environment variables"]
    }
    read = set()
    for folder in (ROOT / "core", ROOT / "api"):
        for path in folder.rglob("*.py"):
            read |= set(re.findall(r"\"((?:TELLTALES|OTEL)_[A-Z_]+)\"", path.read_text()))
    assert read <= set(rows), read - set(rows)
    defaults = {name: row["default"].strip("`") for name, row in rows.items()}
    assert defaults["TELLTALES_DB"] == DEFAULT_DB
    assert int(defaults["TELLTALES_API_MAX_BODY"]) == DEFAULT_MAX_BODY
    assert int(defaults["TELLTALES_API_HEALTH_CACHE"]) == DEFAULT_HEALTH_CACHE
    assert observability.exporters({}, observability.TRACES_ENV) == []
    assert observability.exporters({}, observability.METRICS_ENV) == []
    assert defaults["OTEL_TRACES_EXPORTER"] == defaults["OTEL_METRICS_EXPORTER"] == "none"


def test_the_plugin_readmes_name_every_setting() -> None:
    """configuration.md links to each built-in plugin's README for its settings."""
    for name in sorted(BUILT_IN):
        settings = importlib.import_module(f"telltales_{name}.settings")
        readme = (ROOT / "plugins" / name / "README.md").read_text()
        structs = [
            value
            for value in vars(settings).values()
            if isinstance(value, type)
            and issubclass(value, msgspec.Struct)
            and value.__module__ == settings.__name__
        ]
        assert structs, name
        for struct in structs:
            for field in msgspec.structs.fields(struct):
                mentions = (
                    f"`{field.encode_name}`",
                    f"`{field.encode_name}.",
                    f"\n{field.encode_name} =",
                )
                assert any(mention in readme for mention in mentions), (
                    f"plugins/{name}/README.md does not mention {struct.__name__}.{field.name}"
                )


def test_the_reference_configuration_loads_and_sets_every_part() -> None:
    registry = load_registry(allow=BUILT_IN)
    config = load_config(REFERENCE)
    plan = load_plan(config, registry)
    assert source_settings(config, registry)["support"].high_priorities == ["urgent"]
    scoring = scorer_settings(config, registry)["health"]
    assert scoring.default.name == "lean"
    assert scoring.card_for("enterprise").name == "fit_current_interest"
    assert [band.label for band in scoring.default.bands] == ["On track", "Watch", "Act now"]
    assert plan.labels == {
        "healthy": "Green",
        "concern": "Amber",
        "at_risk": "Red",
        "inactive": "Gone",
    }
    assert "low_logins_in_adoption" not in plan.rules
    assert plan.rules["ticket_storm"].severity == "critical"
    assert "concern_check_in" not in plan.playbooks
    steps = plan.playbooks["ticket_storm_review"].steps
    assert [step.action for step in steps] == ["task", "renewal.flag", "email", "webhook"]
    assert plan.action_settings["email"].internal_domains == ["vendor.example"]
    assert plan.crm is not None
    assert plan.crm.settings.token_env == "CRM_BRIDGE_TOKEN"
    assert plan.managers == {"apac-midmarket": "priya.raman@vendor.example"}
    assert plan.alerts.max_new_runs_per_csm_per_week == 6
    assert (plan.outbox.max_attempts, plan.outbox.lease_seconds) == (10, 300)
    assert plan.account_url("ferrum") == "https://telltales.vendor.example/accounts/ferrum"


# docs/scorecards.md: the mistakes it lists are the messages the example gets

SCORECARD = ROOT / "examples" / "cli-tour" / "telltales.toml"
MISTAKES: list[tuple[int, str, str]] = [
    (32, "seat_utilization", "seat_utilisation"),
    (19, "0.4", "0.3"),
    (46, "0.5", "0.6"),
    (26, "to = 70", "to = 75"),
    (63, "at_most = 1,", "at_most = 5,"),
    (59, '"support.high_priority_30d"', '"nps.score"'),
    (54, "weight", "wieght"),
    (60, "0.25", '"0.25"'),
]
"""(line, text, replacement) for each error scorecards.md lists, in its order."""


def scorecard_example() -> list[str]:
    """The scorecard region of the tour's configuration, as scorecards.md shows it."""
    lines = SCORECARD.read_text().splitlines()
    start, end = lines.index("# [docs:scorecard]"), lines.index("# [/docs:scorecard]")
    return lines[start + 1 : end]


def test_scorecards_md_lists_the_errors_the_example_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = (ROOT / "docs" / "scorecards.md").read_text()
    listed = doc.split("and compare):\n\n```text\n", 1)[1].split("```", 1)[0]
    registry = load_registry(allow=BUILT_IN)
    monkeypatch.chdir(tmp_path)
    got = []
    for line, text, replacement in MISTAKES:
        lines = scorecard_example()
        if line == 63:  # thresholds out of order: swap the two lines
            lines[62], lines[63] = lines[63], lines[62]
            lines[63] = lines[63].replace("at_most = 5", "at_most = 1")
            lines[62] = lines[62].replace("at_most = 1", "at_most = 5")
        else:
            assert text in lines[line - 1], (line, lines[line - 1])
            lines[line - 1] = lines[line - 1].replace(text, replacement, 1)
        Path("telltales.toml").write_text("\n".join(lines) + "\n")
        with pytest.raises(ConfigError) as error:
            scorer_settings(load_config(Path("telltales.toml")), registry)
        got.append(f"Error: {error.value}")
    assert listed.splitlines() == got


# docs/operations.md: what `telltales init` says about the schema

OPERATIONS = ROOT / "docs" / "operations.md"


def text_block_after(doc: Path, words: str) -> str:
    """The body of the ```text block that follows ``words`` in ``doc``."""
    after = doc.read_text().split(words, 1)[1]
    return after.split("```text\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def built_in_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A working folder; the CLI loads the built-in plugins only, whatever else is installed."""
    monkeypatch.setenv("TELLTALES_PLUGINS", ",".join(sorted(BUILT_IN)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def telltales_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_operations_md_shows_what_init_says_on_an_existing_database(built_in_only: Path) -> None:
    shown = text_block_after(OPERATIONS, "`telltales init` does only that, and says so:")
    shown_path = "/srv/telltales/telltales.db"
    assert telltales_cli("--db", "telltales.db", "init").exit_code == 0
    result = telltales_cli("--db", "telltales.db", "init")
    assert result.exit_code == 0
    assert result.output == shown.replace(shown_path, "telltales.db")


def test_operations_md_shows_the_refusal_of_a_newer_database(built_in_only: Path) -> None:
    shown = text_block_after(OPERATIONS, "anything is written:")
    assert telltales_cli("--db", "telltales.db", "init").exit_code == 0
    with contextlib.closing(sqlite3.connect("telltales.db")) as db, db:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('telltales', 'm999_from_the_future', '2030-01-01')"
        )
    before = Path("telltales.db").read_bytes()
    result = CliRunner().invoke(cli, ["--db", "telltales.db", "accounts"])
    assert result.exit_code == 1
    assert result.output == shown
    assert Path("telltales.db").read_bytes() == before


def test_configuration_md_quotes_an_error_scorecards_md_checks() -> None:
    quoted = text_block_after(CONFIG_DOC, "example with `people = 0.3`:")
    listed = (ROOT / "docs" / "scorecards.md").read_text()
    checked = listed.split("and compare):\n\n```text\n", 1)[1].split("```", 1)[0]
    assert quoted.splitlines()[0] in checked.splitlines()
