"""examples/cli-tour/tour.sh, run as its README says, does what each of its steps promises.

The docs show the tour's commands (docs/cli.md, docs/operations.md, ...), so this is
what keeps them true: the script runs once on a fresh database with .venv/bin on
PATH, and each test reads the output of one step (the text under its ``== step``
line) or the files it left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support.server import environment, free_port

ROOT = Path(__file__).parents[2]
TOUR = ROOT / "examples" / "cli-tour"


class Tour:
    """The finished tour: its database, its work folder and its output by step."""

    def __init__(self, db: Path, work: Path, stdout: str, stderr: str) -> None:
        self.db = db
        self.work = work
        self.stdout = stdout
        self.stderr = stderr

    def step(self, name: str) -> str:
        """What the step printed on standard output, under its ``== name`` line."""
        marker = f"== {name}\n"
        assert marker in self.stdout, f"the tour never reached step {name!r}"
        rest = self.stdout.split(marker, 1)[1]
        end = rest.find("\n== ")
        return rest if end < 0 else rest[: end + 1]


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Tour:
    folder = tmp_path_factory.mktemp("tour")
    db, work = folder / "tour.db", folder / "work"
    env = environment(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        NO_PROXY="127.0.0.1",
    )
    process = subprocess.Popen(
        [str(TOUR / "tour.sh"), str(db), str(work), str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=folder,  # the tour finds the repository from its own path
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=600)
    finally:
        # The tour stops the server it starts; whatever a failed step left running goes.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.returncode is None:
            process.communicate()
    assert process.returncode == 0, stdout[-3000:] + stderr
    return Tour(db, work, stdout, stderr)


def test_init_creates_every_installed_plugins_schema(tour: Tour) -> None:
    out = tour.step("init")
    assert out.startswith(f"Created telltales database {tour.db} (schemas: telltales, ")
    for plugin in ("contacts", "engagement", "firmographics", "news", "support", "telemetry"):
        assert f"\n{plugin} (" in out, plugin
    assert "plugin API" in out
    assert "FAILED" not in out


def test_ingest_stores_every_example_file(tour: Tour) -> None:
    out = tour.step("ingest")
    stored = {
        "accounts": 6,
        "telemetry.usage": 4623,
        "contacts.meetings": 38,
        "contacts.people": 30,
        "engagement.activities": 46,
        "engagement.outcomes": 26,
        "firmographics.snapshots": 12,
        "news.items": 7,
        "support.tickets": 45,
    }
    for ingester, count in stored.items():
        assert f"Stored {count} record(s) through {ingester!r}" in out
    listed = [line.split("\t")[0] for line in out.splitlines() if "\trenews " in line]
    assert listed == ["bluepeak", "ferrum", "northwind", "quillworks", "solstice", "tidewater"]


def test_history_imports_once_and_again_adds_nothing(tour: Tour) -> None:
    assert tour.step("history") == (
        "History from examples/history/history.json:\n"
        "  transitions: 7 imported, 0 already there\n"
        "  playbook runs: 2 imported, 0 already there\n"
        "  tasks: 4 imported, 0 already there\n"
        "  renewals: 3 new, 0 changed, 0 unchanged\n"
    )
    again = json.loads(tour.step("history again"))
    assert again == json.loads((TOUR / "history-again.json").read_text())


def test_the_pilot_records_who_changed_it_and_why(tour: Tour) -> None:
    out = tour.step("pilot")
    assert out.startswith(
        "Pilot apac-pilot enabled: groups apac-midmarket from 2026-11-01, "
        "20% held out as control\nPilot apac-pilot disabled\nPilot apac-pilot enabled\n"
    )
    assert (
        "  rules: core_feature_drop, sponsor_left, score_red; playbooks: at_risk_response\n" in out
    )
    events = [line.split("Z ", 1)[1] for line in out.splitlines() if line.startswith("  20")]
    assert [event.split(":")[0] for event in events] == [
        "created by ops@vendor.example",
        "enabled by ops@vendor.example",
        "disabled by ops@vendor.example",
        "enabled by ops@vendor.example",
    ]
    assert events[2].endswith(": holiday freeze")


def test_rules_show_the_tours_playbook_in_force(tour: Tour) -> None:
    out = tour.step("rules")
    assert (
        "rule core_feature_drop: At-Risk (high) when telemetry.core_feature_drop_14d below -0.3;"
        " hold 1 day(s), cooldown 30 day(s)\n" in out
    )
    # The tour's configuration replaces the shipped playbook: no email step.
    assert "playbook at_risk_response: on entering At-Risk: task, renewal.flag\n" in out
    assert sum(line.startswith("rule ") for line in out.splitlines()) == 6


def test_the_run_starts_the_pilots_playbook_and_shadows_the_rest(tour: Tour) -> None:
    out = tour.step("run")
    assert out.startswith("Run 1 as of 2026-11-20: ok, 6 accounts, 243 signals, 6 scores\n")
    assert "playbooks: 1 started, 1 shadow, 0 held back by the weekly cap" in out
    assert "1 tasks, 2 deliveries" in out
    # docs/cli.md shows this output as it is.
    doc = (ROOT / "docs" / "cli.md").read_text()
    shown = doc.split("what the rules and playbooks did:\n\n```text\n", 1)[1].split("```", 1)[0]
    assert out == shown


def test_reading_an_account_gives_signals_score_and_status_with_evidence(tour: Tour) -> None:
    out = tour.step("read")
    assert "telemetry.core_feature_drop_14d" in out
    assert "reporting: 10 active users in the 14 days to 2026-11-20, 18 in the 14 before" in out
    # ferrum is mid-market: [scoring.segments] sends it to the shipped DEAR card.
    assert "  health: 10.2  At-Risk (red)  coverage 100%  config dear@" in out
    # quillworks is smb: the tour's own card. Utilisation 0.7 (100 points), trend
    # above best (100), 78 days since the sponsor meeting ((120 - 78) / 90 = 46.7
    # points), no tickets (100): 0.3 x 100 + 0.3 x 100 + 0.3 x 46.7 + 0.1 x 100 = 84.0.
    assert "  health: 84.0  Healthy (green)  coverage 100%  config smb_health@" in out
    assert "2026-11-20  ferrum: Healthy -> At-Risk (rules: core_feature_drop, sponsor_left)" in out
    assert "2026-03-02  ferrum: Healthy -> At-Risk (imported)" in out
    live = [line for line in out.splitlines() if "\tat_risk_response\tlive\t" in line]
    assert any("\tferrum\t" in line and "pilot 'apac-pilot'" in line for line in live)


def test_tasks_are_shown_done_and_dismissed(tour: Tour) -> None:
    out = tour.step("tasks")
    assert "Ferrum Manufacturing: At-Risk - Active users of a core feature down" in out
    assert "Rule core_feature_drop (high): Active users of a core feature down" in out
    assert "\topen\twork\tdue 2026-02-02\tli.chen@vendor.example\tPlan a re-onboarding" in out
    assert out.endswith("Task 5 done\nTask 4 dismissed\n")


def test_the_worker_delivers_the_renewal_flag_without_a_crm(tour: Tour) -> None:
    out = tour.step("worker")
    assert "\tpending\trenewal.flag\tferrum\tat_risk_response step 2\tattempts 0\t" in out
    assert out.endswith("Delivered 1, to retry 0, failed 0\n")


def test_renewals_import_and_metrics_count_them(tour: Tour) -> None:
    assert tour.step("renewals") == (
        "Renewals from examples/cli-tour/renewals.json: 3 new, 0 changed, 0 unchanged\n"
    )
    out = tour.step("metrics")
    acknowledged = next(line for line in out.splitlines() if line.startswith("all  "))
    assert acknowledged.split()[-4:] == ["1", "0", "0", "1"]
    # Six renewals: three from the history file, three from renewals.json.
    # Before 160,000 + 400,000 + 15,000 + 90,000 + 580,000 + 9,000 = 1,254,000;
    # after 150,000 + 420,000 + 18,000 + 96,000 + 610,000 + 7,200 = 1,301,200;
    # kept 150,000 + 400,000 + 15,000 + 90,000 + 580,000 + 7,200 = 1,242,200.
    # Six renewals are under the default minimum of 20: no GRR or NRR, the reason.
    retention = next(line for line in out.splitlines() if line.startswith("all  ") and "," in line)
    assert retention.split()[:7] == ["all", "-", "-", "1,254,000", "1,301,200", "1,242,200", "6"]
    assert retention.endswith("too few renewals yet (6; 20 needed)")
    load = json.loads(out.splitlines()[-1])
    assert (load["overall"]["fired_live"], load["overall"]["owners"]) == (2, 2)


def test_the_pilot_ends_and_stays_listed(tour: Tour) -> None:
    out = tour.step("pilot end")
    assert out.startswith("Pilot apac-pilot ended\n")
    assert "apac-pilot" in out.splitlines()[1]
    assert "ended" in out.splitlines()[1]


def test_keys_are_created_listed_and_rotated(tour: Tour) -> None:
    listed = tour.step("keys")
    assert "\tbi-dashboard\tread\tevery CSM group\t" in listed
    assert "\tapac-sync\tact,ingest\tapac-midmarket\t" in listed
    synced = json.loads((tour.work / "apac-sync.json").read_text())
    assert synced["token"].startswith("tt_")
    rotated = tour.step("rotate")
    old = next(line.split("\t")[0] for line in listed.splitlines() if "\tbi-dashboard\t" in line)
    assert rotated == f"Revoked API key {old} (bi-dashboard)\n"
    token = (tour.work / "dashboard.token").read_text().strip()
    assert token.startswith("tt_")
    assert token.split("_")[1] != old


def test_the_server_answers_with_the_new_key_and_stops(tour: Tour) -> None:
    out = tour.step("serve")
    assert (
        "accounts over the API: bluepeak, ferrum, northwind, quillworks, solstice, tidewater\n"
        in out
    )
    assert "Serving telltales on http://127.0.0.1:" in tour.stderr


def test_console_traces_go_to_standard_error(tour: Tour) -> None:
    assert tour.step("telemetry").startswith("Run 2 as of 2026-11-21: ok")
    spans = (tour.work / "spans.txt").read_text()
    assert '"name": "telltales.run"' in spans
    assert '"service.name": "telltales"' in spans


def pragma(path: Path, name: str) -> object:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(f"PRAGMA {name}").fetchone()[0]


def test_both_backups_are_whole_telltales_databases_in_wal_mode(tour: Tour) -> None:
    assert tour.step("compact copy") == "ok\n"
    for name in ("telltales-backup.db", "telltales-compact.db"):
        copy = tour.work / name
        assert pragma(copy, "integrity_check") == "ok"
        assert pragma(copy, "journal_mode") == "wal"
        assert pragma(copy, "application_id") == pragma(tour.db, "application_id")


def test_the_restored_database_is_the_backup(tour: Tour) -> None:
    out = tour.step("restore")
    assert out.startswith(f"Brought up to date telltales database {tour.db} (schemas: ")
    # The key made after the backup is gone; the ones made before are there.
    assert "after-the-backup" not in out
    assert "\tapac-sync\t" in out
