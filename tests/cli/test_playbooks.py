"""The rules, status, override, worker, outbox, tasks and pilots commands, in process.

Each command's happy path on the example data (all six plugins), and each user
mistake as one ``Error:`` line, exit status 1, with nothing written.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.book import COUNTED, EXAMPLE_PLUGINS, FERRUM_BODY, ONE_DAY_DROP, build_example
from telltales.cli import cli

ENV = {"TELLTALES_PLUGINS": ",".join(sorted(EXAMPLE_PLUGINS))}
FERRUM_TITLE = (
    "Ferrum Manufacturing: At-Risk - Active users of a core feature down more than 30% over 14 days"
)
PILOT = (
    "pilots",
    "create",
    "apac",
    "--group",
    "apac-midmarket",
    "--rule",
    "core_feature_drop",
    "--rule",
    "sponsor_left",
    "--playbook",
    "at_risk_response",
    "--starts-on",
    "2026-11-01",
    "--holdout",
    "0.2",  # ferrum's stable hash under "apac" is 0.436: it stays in the treatment group
    "--description",
    "APAC first",
    "--by",
    "ops@vendor.example",
)
# Tasks and transitions are stamped within the run's day; completing a task or
# overriding a status stamps the clock's time, which must come after it.
after_example_day = pytest.mark.skipif(
    datetime.now(UTC).date() <= date(2026, 11, 20),
    reason="needs the clock past the example day, 2026-11-20",
)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, env=ENV)


def error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "example.db"
    build_example(path)
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no ./telltales.toml but the test's own
    (tmp_path / "telltales.toml").write_text(ONE_DAY_DROP)
    path = tmp_path / "example.db"
    shutil.copy(template, path)
    return path


@pytest.fixture
def ran(db: Path) -> Path:
    """The example database with pilot ``apac`` and a run as of 2026-11-20."""
    assert invoke("--db", db, *PILOT).exit_code == 0
    assert invoke("--db", db, "run", "--as-of", "2026-11-20").exit_code == 0
    return db


@pytest.fixture(scope="module")
def shared(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Like ``ran``, once for the mistakes, each of which must leave it as it was."""
    folder = tmp_path_factory.mktemp("mistakes")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        (folder / "telltales.toml").write_text(ONE_DAY_DROP)
        path = folder / "example.db"
        shutil.copy(template, path)
        assert invoke("--db", path, *PILOT).exit_code == 0
        assert invoke("--db", path, "run", "--as-of", "2026-11-20").exit_code == 0
        yield path


def counts(db: Path) -> dict[str, int]:
    with closing(sqlite3.connect(db)) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (*COUNTED, "pilots", "pilot_events", "overrides", "runs")
        }


def test_rules_lists_the_rules_and_playbooks_in_force(tmp_path: Path) -> None:
    config = tmp_path / "telltales.toml"
    config.write_text(
        '[statuses]\nat_risk = "Red"\n\n'
        '[playbooks.sponsor_call]\non_enter = "at_risk"\nrules = ["sponsor_left"]\n'
        'steps = [{ action = "task" }, { action = "renewal.flag", approval = true }]\n'
    )
    result = invoke("--config", config, "rules")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "rule core_feature_drop: Red (high) when telemetry.core_feature_drop_14d below -0.3, "
        "clears above -0.15 and telemetry.core_use_trend_30d below -0.1, clears above 0; "
        "hold 8 day(s), cooldown 30 day(s), stay 21 day(s)",
        "rule low_seat_utilization: Concern (medium) when telemetry.seat_utilization_30d below "
        "0.5; hold 3 day(s), cooldown 30 day(s)",
        "rule high_priority_tickets: Concern (high) when support.high_priority_30d above 5; "
        "hold 1 day(s), cooldown 14 day(s)",
        "rule sponsor_left: Red (high) when contacts.sponsor_left at least 1; hold 1 day(s), "
        "cooldown 90 day(s)",
        "rule low_logins_in_adoption: Concern (medium) when telemetry.weekly_logins_per_user "
        "below 1 and account.lifecycle_stage equals 'adoption'; hold 7 day(s), cooldown 30 day(s)",
        "rule score_red: Red (high) when score.health below 40, clears above 45; hold 2 "
        "day(s), cooldown 30 day(s), stay 21 day(s)",
        "playbook at_risk_response: on entering Red: task, renewal.flag",
        "playbook concern_check_in: on entering Concern: task",
        "playbook sponsor_call: on entering Red by sponsor_left: task, renewal.flag (approval)",
    ]
    payload = json.loads(invoke("--config", config, "rules", "--json").output)
    assert [r["name"] for r in payload["rules"]][:2] == [
        "core_feature_drop",
        "low_seat_utilization",
    ]
    assert payload["playbooks"][2] == {
        "name": "sponsor_call",
        "on_enter": "at_risk",
        "rules": ["sponsor_left"],
        "steps": [
            {"action": "task", "params": {}, "approval": False},
            {"action": "renewal.flag", "params": {}, "approval": True},
        ],
    }


def test_a_pilot_and_a_run_from_the_command_line(db: Path) -> None:
    created = invoke("--db", db, *PILOT)
    assert created.output == (
        "Pilot apac enabled: groups apac-midmarket from 2026-11-01, 20% held out as control\n"
    )
    listed = invoke("--db", db, "pilots", "list")
    assert listed.output == (
        "apac\tenabled\tgroups apac-midmarket\tfrom 2026-11-01\tcontrol 20%\tplaybooks "
        "at_risk_response\trules core_feature_drop, sponsor_left\n"
    )
    result = invoke("--db", db, "run", "--as-of", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Run 1 as of 2026-11-20: ok, 6 accounts, 243 signals, 6 scores",
        "  rules: 4 fired (2 live); 6 status transitions; playbooks: 1 started, 1 shadow, 0 held "
        "back by the weekly cap, 0 already open; 1 tasks, 2 deliveries",
    ]
    again = invoke("--db", db, "run", "--as-of", "2026-11-20")
    assert again.output.splitlines()[1] == (
        "  rules: 4 fired (2 live); 0 status transitions; playbooks: 0 started, 0 shadow, 0 held "
        "back by the weekly cap, 0 already open; 0 tasks, 0 deliveries"
    )
    assert invoke("--db", db, "tasks", "list").output == (
        f"1\topen\twork\tdue 2026-11-25\tli.chen@vendor.example\t{FERRUM_TITLE}\n"
    )
    shown = invoke("--db", db, "tasks", "show", "1").output.splitlines()
    assert shown[:2] == [
        f"Task 1 (work, open), due 2026-11-25: {FERRUM_TITLE}",
        "Assignee: li.chen@vendor.example; account ferrum",
    ]
    assert "\n".join(shown[2:-1]) == FERRUM_BODY
    assert re.fullmatch(r"  2026-11-20 \d\d:\d\dZ open by telltales", shown[-1])
    payload = json.loads(invoke("--db", db, "tasks", "show", "1", "--json").output)
    assert (payload["task"]["assignee"], payload["events"][0]["by"]) == (
        "li.chen@vendor.example",
        "telltales",
    )


def test_playbooks_lists_live_and_shadow_runs_with_why(ran: Path) -> None:
    lines = invoke("--db", ran, "playbooks").output.splitlines()
    assert [line.split("\t")[2:] for line in lines] == [
        ["ferrum", "at_risk_response", "live", "open", "li.chen@vendor.example", "pilot 'apac'"],
        [
            "bluepeak",
            "at_risk_response",
            "shadow",
            "shadow",
            "sam.okafor@vendor.example",
            "CSM group 'na-enterprise' is in no pilot",
        ],
    ]
    assert invoke("--db", ran, "playbooks", "--mode", "held_back").output == ""
    payload = json.loads(invoke("--db", ran, "playbooks", "--mode", "shadow", "--json").output)
    assert [(r["account_id"], r["cohort"], r["rules"]) for r in payload] == [
        ("bluepeak", "none", ["core_feature_drop"])
    ]


def test_status_shows_the_transition_and_why(ran: Path) -> None:
    result = invoke("--db", ran, "status", "ferrum", "--as-of", "2026-11-20")
    lines = result.output.splitlines()
    assert lines[0] == (
        "2026-11-20  ferrum: none -> At-Risk (rules: core_feature_drop, sponsor_left)"
    )
    assert lines[1].startswith(
        "  rule core_feature_drop (Active users of a core feature down more than 30% over 14 "
        "days): telemetry.core_feature_drop_14d = -0.4444 (below -0.3)"
    )
    assert invoke("--db", ran, "status", "ferrum", "--as-of", "2026-11-19").output == (
        "ferrum: no status yet as of 2026-11-19; run `telltales run`\n"
    )
    payload = json.loads(invoke("--db", ran, "status", "northwind", "--json").output)
    assert (payload["to_status"], payload["cohort"], payload["rules"]) == ("healthy", "none", [])


@after_example_day
def test_override_pins_a_status_until_a_day(ran: Path) -> None:
    today = datetime.now(UTC).date()
    until = today + timedelta(days=30)
    result = invoke(
        "--db",
        ran,
        "override",
        "ferrum",
        "--status",
        "concern",
        "--reason",
        "renewal agreed verbally",
        "--until",
        until.isoformat(),
        "--by",
        "manager@vendor.example",
    )
    assert result.output == f"ferrum is Concern until the end of {until} (transition 7)\n"
    history = invoke("--db", ran, "status", "ferrum", "--history").output.splitlines()
    assert history[2] == f"{today}  ferrum: At-Risk -> Concern (override)"
    assert history[3] == (
        f"  overridden by manager@vendor.example until {until + timedelta(days=1)} 00:00Z: "
        "renewal agreed verbally"
    )


def test_an_override_with_a_bad_configuration_records_nothing(ran: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[statuses]\nhealthy = 5\n")
    before = invoke("--db", ran, "status", "ferrum", "--history").output
    result = invoke(
        "--db", ran, "--config", bad, "override", "ferrum", "--status", "concern",
        "--reason", "renewal agreed verbally", "--until", "2099-01-01", "--by", "m@vendor.example",
    )  # fmt: skip
    assert result.exit_code == 1
    assert str(bad) in result.output
    assert invoke("--db", ran, "status", "ferrum", "--history").output == before


def test_the_worker_delivers_the_outbox(ran: Path) -> None:
    assert invoke("--db", ran, "outbox", "list", "--status", "pending").output == (
        "2\tpending\trenewal.flag\tferrum\tat_risk_response step 2\tattempts 0\t"
        "renewal of 2026-12-20 flagged 'Renewal At Risk'\n"
    )
    assert invoke("--db", ran, "worker", "--once").output == ("Delivered 1, to retry 0, failed 0\n")
    assert invoke("--db", ran, "outbox", "list").output.splitlines() == [
        "1\tdelivered\ttask\tferrum\tat_risk_response step 1\tattempts 0\t"
        "task 1 for li.chen@vendor.example, due 2026-11-25",
        "2\tdelivered\trenewal.flag\tferrum\tat_risk_response step 2\tattempts 1\t"
        "no CRM adapter configured ([crm]); flag kept in telltales",
    ]
    assert invoke("--db", ran, "worker", "--once").output == "Delivered 0, to retry 0, failed 0\n"
    deliveries = json.loads(invoke("--db", ran, "outbox", "list", "--json").output)
    assert [d["status"] for d in deliveries] == ["delivered", "delivered"]


def test_outbox_retry_requeues_a_failed_delivery(ran: Path) -> None:
    with closing(sqlite3.connect(ran)) as conn, conn:  # as if the CRM refused it for good
        conn.execute(
            "UPDATE deliveries SET status = 'failed', attempts = 1, detail = 'HTTP 400' "
            "WHERE step = 2"
        )
    assert invoke("--db", ran, "outbox", "list", "--status", "failed").output.startswith("2\t")
    assert invoke("--db", ran, "outbox", "retry", "2").output == "Delivery 2 queued again\n"
    assert invoke("--db", ran, "outbox", "list", "--status", "pending").output == (
        "2\tpending\trenewal.flag\tferrum\tat_risk_response step 2\tattempts 0\tretry requested\n"
    )
    line = error_line(invoke("--db", ran, "outbox", "retry", "2"))
    assert line == "Error: delivery 2 is pending; only a failed one is retried"


@after_example_day
def test_tasks_done_dismiss_and_approve(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "telltales.toml"
    config.write_text(
        ONE_DAY_DROP + '[playbooks.at_risk_response]\non_enter = "at_risk"\nsteps = [\n'
        '  { action = "task" },\n  { action = "task", assignee = "ops@vendor.example" },\n'
        '  { action = "renewal.flag", approval = true },\n]\n'
    )
    assert invoke("--db", db, *PILOT).exit_code == 0
    assert invoke("--db", db, "run", "--as-of", "2026-11-20").exit_code == 0
    assert invoke("--db", db, "tasks", "list", "--assignee", "li.chen@vendor.example").output == (
        f"3\topen\tapproval\tdue 2026-11-24\tli.chen@vendor.example\tApprove: renewal.flag for "
        "Ferrum Manufacturing (playbook at_risk_response)\n"
        f"1\topen\twork\tdue 2026-11-25\tli.chen@vendor.example\t{FERRUM_TITLE}\n"
    )
    assert invoke("--db", db, "tasks", "done", "1", "--by", "li.chen").output == "Task 1 done\n"
    dismissed = invoke(
        "--db", db, "tasks", "dismiss", "2", "--reason", "ops already knows", "--by", "ops"
    )
    assert dismissed.output == "Task 2 dismissed\n"
    approved = invoke("--db", db, "tasks", "approve", "3", "--by", "li.chen")
    assert approved.output == "Task 3 approved; its delivery is queued\n"
    assert invoke("--db", db, "tasks", "list").output == ""
    assert [
        line.split("\t")[:2]
        for line in invoke("--db", db, "tasks", "list", "--state", "all").output.splitlines()
    ] == [["3", "done"], ["1", "done"], ["2", "dismissed"]]
    shown = invoke("--db", db, "tasks", "show", "2").output.splitlines()
    assert re.fullmatch(
        r"  \d{4}-\d\d-\d\d \d\d:\d\dZ dismissed by ops: ops already knows", shown[-1]
    )
    assert invoke("--db", db, "outbox", "list", "--status", "pending").output.startswith(
        "3\tpending\trenewal.flag\tferrum"
    )
    line = error_line(invoke("--db", db, "tasks", "done", "1", "--by", "li.chen"))
    assert line == "Error: task 1 is already done"


def test_pilots_disable_enable_end_and_show(ran: Path) -> None:
    def state(*args: str) -> str:
        return invoke("--db", ran, "pilots", *args, "apac", "--by", "ops@vendor.example").output

    assert state("disable", "--reason", "holiday freeze") == "Pilot apac disabled\n"
    assert state("enable") == "Pilot apac enabled\n"
    assert state("end") == "Pilot apac ended\n"
    line = error_line(invoke("--db", ran, "pilots", "enable", "apac", "--by", "ops"))
    assert line == "Error: pilot 'apac' has ended; create a new pilot instead"
    shown = invoke("--db", ran, "pilots", "show", "apac").output.splitlines()
    assert shown[:4] == [
        "Pilot apac (ended): APAC first",
        "  groups: apac-midmarket; from 2026-11-01",
        "  rules: core_feature_drop, sponsor_left; playbooks: at_risk_response",
        "  control group: 20% of accounts, by stable hash",
    ]
    stamp = r"  \d{4}-\d\d-\d\d \d\d:\d\dZ "
    expected = [
        "created by ops@vendor.example: groups apac-midmarket; rules core_feature_drop, "
        "sponsor_left; playbooks at_risk_response; from 2026-11-01; control 20%",
        "enabled by ops@vendor.example",
        "disabled by ops@vendor.example: holiday freeze",
        "enabled by ops@vendor.example",
        "ended by ops@vendor.example",
    ]
    assert len(shown) == 4 + len(expected)
    for line, event in zip(shown[4:], expected, strict=True):
        assert re.fullmatch(stamp + re.escape(event), line), line
    payload = json.loads(invoke("--db", ran, "pilots", "show", "apac", "--json").output)
    assert [e["event"] for e in payload["events"]] == [
        "created",
        "enabled",
        "disabled",
        "enabled",
        "ended",
    ]
    assert payload["pilot"]["state"] == "ended"


KNOWN_RULES = (
    "core_feature_drop, high_priority_tickets, low_logins_in_adoption, low_seat_utilization, "
    "score_red, sponsor_left"
)
HOLDOUT = (
    "holdout_share: 1 is not a share of accounts: give at least 0 and less than 1 (0.2 holds a "
    "fifth of the accounts out as control)"
)
ONE = ("--group", "g", "--rule", "sponsor_left", "--playbook", "at_risk_response", "--by", "y")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tasks", "done", "999", "--by", "x"), "unknown task 999"),
        (("tasks", "show", "999"), "unknown task 999"),
        (
            ("tasks", "dismiss", "1", "--reason", " ", "--by", "x"),
            "reason: say why the task is dismissed",
        ),
        (("tasks", "approve", "1", "--by", "x"), "task 1 is a work task: complete or dismiss it"),
        (("tasks", "done", "1", "--by", " "), "by: say who changes the task"),
        (
            ("pilots", "create", "x", "--by", "y"),
            "csm_groups: a pilot names at least one CSM group (and no empty name)",
        ),
        (
            (
                "pilots",
                "create",
                "x",
                "--group",
                "g",
                "--rule",
                "nope",
                "--playbook",
                "at_risk_response",
                "--by",
                "y",
            ),
            f"rules: no enabled rule named 'nope' (known: {KNOWN_RULES})",
        ),
        (
            (
                "pilots",
                "create",
                "x",
                "--group",
                "g",
                "--rule",
                "sponsor_left",
                "--playbook",
                "nope",
                "--by",
                "y",
            ),
            "playbooks: no enabled playbook named 'nope' (known: at_risk_response, "
            "concern_check_in)",
        ),
        (("pilots", "create", "x", *ONE[:-2], "--holdout", "1", "--by", "y"), HOLDOUT),
        (("pilots", "create", "apac", *ONE), "pilot_id: a pilot named 'apac' already exists"),
        (
            ("pilots", "create", "x", *ONE[:1], "apac-midmarket", *ONE[2:]),
            "csm_groups: 'apac-midmarket' is already in enabled pilot 'apac'; one pilot per CSM "
            "group at a time (disable or end it first)",
        ),
        (
            ("pilots", "create", "x", *ONE[:1], "na-enterprize", *ONE[2:]),
            "csm_groups: no CSM group named 'na-enterprize' (known: apac-midmarket, "
            "emea-midmarket, emea-smb, na-enterprise, na-smb)",
        ),
        (("pilots", "enable", "apac", "--by", "y"), "pilot 'apac' is already enabled"),
        (("pilots", "disable", "nope", "--by", "y"), "unknown pilot 'nope'"),
        (("pilots", "show", "nope"), "unknown pilot 'nope'"),
        (("outbox", "retry", "999"), "unknown delivery 999"),
        (("outbox", "retry", "1"), "delivery 1 is delivered; only a failed one is retried"),
        (("status", "nope"), "unknown account 'nope'"),
        (
            (
                "override",
                "ferrum",
                "--status",
                "healthy",
                "--reason",
                "x",
                "--until",
                "2020-01-01",
                "--by",
                "y",
            ),
            "until: 2020-01-02 00:00Z is not in the future",
        ),
        (
            (
                "override",
                "ferrum",
                "--status",
                "healthy",
                "--reason",
                " ",
                "--until",
                "2099-01-01",
                "--by",
                "y",
            ),
            "reason: say why the status is overridden",
        ),
        (
            ("pilots", "disable", "apac", "--by", " "),
            "by: say who makes the change (every change to a pilot is recorded)",
        ),
        (
            ("pilots", "create", "x", *ONE[:-1], ""),
            "by: say who makes the change (every change to a pilot is recorded)",
        ),
    ],
)
def test_a_mistake_is_one_error_line_and_writes_nothing(
    shared: Path, args: tuple[str, ...], message: str
) -> None:
    before = counts(shared)
    assert error_line(invoke("--db", shared, *args)) == f"Error: {message}"
    assert counts(shared) == before


def test_a_missing_option_is_a_usage_error(ran: Path) -> None:
    result = invoke("--db", ran, "tasks", "done", "1")
    assert result.exit_code == 2
    assert "Missing option '--by'" in result.output
    result = invoke("--db", ran, "tasks", "dismiss", "1", "--by", "x")
    assert result.exit_code == 2
    assert "Missing option '--reason'" in result.output


def test_a_bad_playbook_stops_the_run_before_anything_is_written(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "telltales.toml"
    config.write_text('[playbooks.x]\non_enter = "at_risk"\nsteps = [{ action = "emial" }]\n')
    line = error_line(invoke("--db", db, "--config", config, "run", "--as-of", "2026-11-20"))
    assert line == (
        f"Error: {config}, line 3: [playbooks.x] step 1: no action named 'emial' "
        "(installed: renewal.flag, task)"
    )
    assert set(counts(db).values()) == {0}
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM signals").fetchone() == (0,)


@pytest.mark.parametrize(
    "args",
    [
        ("tasks", "done", "99999999999999999999", "--by", "x"),
        ("outbox", "retry", "0"),
        ("worker", "--poll", "-1"),
    ],
)
def test_out_of_range_numbers_are_usage_errors_not_tracebacks(
    shared: Path, args: tuple[str, ...]
) -> None:
    result = invoke("--db", shared, *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "is not in the range" in result.output


def test_a_run_past_the_data_says_which_sources_are_stale(db: Path) -> None:
    result = invoke("--db", db, "run", "--as-of", "2026-12-07")
    lines = result.output.splitlines()
    assert lines[0].startswith("Run 1 as of 2026-12-07: stale, 6 accounts")
    assert lines[2] == (
        "  stale: telemetry's latest data is from 2026-11-20, 17 days before 2026-12-07 (its "
        "limit is 3 days): its signals are missing, not read as silence; ingest newer data, "
        "or run --as-of 2026-11-20"
    )
    listed = invoke("--db", db, "runs").output.splitlines()
    assert listed[1:3] == lines[1:3]


def test_a_mistaken_run_is_undone_on_confirmation_and_the_day_runs_again(db: Path) -> None:
    """The issue's quickstart: run on a day past the data, then the right day."""
    assert invoke("--db", db, "run", "--as-of", "2026-12-07").exit_code == 0
    skipped = invoke("--db", db, "run", "--as-of", "2026-11-20").output
    assert (
        "6 accounts skipped (status history past this day; to run the day for them, undo "
        "the later runs first: telltales undo --from 2026-11-20)"
    ) in skipped
    before = counts(db)
    declined = CliRunner().invoke(
        cli, ["--db", str(db), "undo", "--from", "2026-11-21"], input="n\n", env=ENV
    )
    assert declined.exit_code == 1
    assert declined.output.startswith(
        "Undoing the runs from 2026-11-21 on removes 1 runs' 114 signals, 6 scores, "
    )
    assert counts(db) == before
    done = invoke("--db", db, "undo", "--from", "2026-11-21", "--yes", "--by", "ops@vendor.example")
    lines = done.output.splitlines()
    assert lines[1].startswith("Correction 1: removed 1 runs' 114 signals")
    assert lines[1].endswith(", by ops@vendor.example.")
    assert lines[2] == "Run the days again: telltales run --as-of 2026-11-21 --through 2026-12-07"
    again = invoke("--db", db, "run", "--as-of", "2026-11-20").output
    assert "skipped" not in again
    status = invoke("--db", db, "status", "ferrum", "--as-of", "2026-11-20").output
    assert status.startswith("2026-11-20  ferrum: none -> At-Risk (rules: core_feature_drop")
