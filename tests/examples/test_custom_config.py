"""examples/custom-config: its run.sh, run as its README says, on the example book.

The script builds a database from examples/data with the example's telltales.toml,
starts a pilot for na-enterprise and runs 2026-11-20. The expectations below are
worked out by hand from the configuration and the example accounts' signals (see
``telltales signals`` on the same database), not read back from a previous run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.server import environment

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "custom-config"
SCRIPT = EXAMPLE / "run.sh"
ENTERPRISE = {"bluepeak", "solstice"}
OTHERS = {"northwind", "quillworks", "ferrum", "tidewater"}

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="run.sh needs bash")


@dataclass(frozen=True)
class Tried:
    output: str
    db: sqlite3.Connection


def run_script(db: Path) -> subprocess.CompletedProcess[str]:
    """run.sh with the checkout's telltales first on PATH, as after activating the venv."""
    bin_dir = str(Path(sys.executable).parent)
    env = environment(PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]))
    return subprocess.run(
        [str(SCRIPT), str(db)], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def tried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tried]:
    db = tmp_path_factory.mktemp("custom-config") / "custom-config.db"
    result = run_script(db)
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    connection = sqlite3.connect(db)
    yield Tried(output=result.stdout, db=connection)
    connection.close()


def test_enterprise_accounts_get_the_custom_card_and_the_others_dear(tried: Tried) -> None:
    cards = dict(tried.db.execute("SELECT account_id, config_id FROM scores"))
    assert set(cards) == ENTERPRISE | OTHERS
    for account in ENTERPRISE:
        assert cards[account].startswith("enterprise_health@")
    for account in OTHERS:
        assert cards[account].startswith("dear@")


def test_bluepeak_scores_what_the_weights_give(tried: Tried) -> None:
    # bluepeak's signals on 2026-11-20 and the points the card gives them:
    # relationship: sponsor met 79 days ago -> 60 (at most 90), champion left -> 0,
    #   cadence ratio 0.62 -> 40 (at least 0.5): 0.5*60 + 0.25*0 + 0.25*40 = 40
    # adoption: 33% of seats active -> 30 (at least 0.3), audit used by no seat -> 0,
    #   3 active teams -> 50 (at least 2): 0.5*30 + 0.3*0 + 0.2*50 = 25
    # value: 2 of 4 outcomes verified (0.5) -> 70
    relationship = 0.5 * 60 + 0.25 * 0 + 0.25 * 40
    adoption = 0.5 * 30 + 0.3 * 0 + 0.2 * 50
    value = 70
    expected = 0.4 * relationship + 0.4 * adoption + 0.2 * value
    assert expected == pytest.approx(40.0)
    score, grade, label = tried.db.execute(
        "SELECT value, grade, label FROM scores WHERE account_id = 'bluepeak'"
    ).fetchone()
    assert score == pytest.approx(expected)
    # 40 would be amber on the shipped bands; the enterprise card's red ends at 50.
    assert (grade, label) == ("red", "At-Risk")
    assert "health: 40.0  At-Risk (red)  coverage 100%  config enterprise_health@" in tried.output


def test_solstice_scores_what_the_weights_give(tried: Tried) -> None:
    # relationship 100 (every measure at full points); adoption: 75% of seats -> 100,
    # api used by 22% of seats -> 20, 5 teams -> 100: 50 + 6 + 20 = 76; value 100.
    expected = 0.4 * 100 + 0.4 * (0.5 * 100 + 0.3 * 20 + 0.2 * 100) + 0.2 * 100
    score, grade = tried.db.execute(
        "SELECT value, grade FROM scores WHERE account_id = 'solstice'"
    ).fetchone()
    assert score == pytest.approx(expected) == pytest.approx(90.4)
    assert grade == "green"


def fired(tried: Tried, rule: str) -> set[str]:
    rows = tried.db.execute(
        "SELECT account_id FROM rule_hits WHERE rule = ? AND state = 'fired'", [rule]
    )
    return {account for (account,) in rows}


def test_the_enterprise_rule_fires_only_for_the_enterprise_account_short_of_seats(
    tried: Tried,
) -> None:
    # bluepeak: 50 of 150 seats (33%) and enterprise. solstice: 75%. ferrum (30%) and
    # tidewater (18%) are short of seats too, but they are not enterprise accounts.
    assert fired(tried, "enterprise_seat_shortfall") == {"bluepeak"}
    # The shipped core_feature_drop waits for its hold days on this one-day run.
    assert "bluepeak: none -> At-Risk (rules: enterprise_seat_shortfall)" in tried.output


def test_the_value_review_rule_fires_where_the_last_review_is_over_90_days_old(
    tried: Tried,
) -> None:
    # Last value reviews: bluepeak 108 days, ferrum 155, tidewater 277 ago; northwind
    # 87, quillworks 46, solstice 23. Only tidewater has no worse rule holding, so
    # only its status shows it.
    assert fired(tried, "value_review_overdue") == {"bluepeak", "ferrum", "tidewater"}
    assert "tidewater: none -> Concern (rules: value_review_overdue)" in tried.output
    assert "solstice: none -> Healthy (rules)" in tried.output


def test_the_playbook_runs_live_in_the_pilot_and_opens_its_task(tried: Tried) -> None:
    runs = tried.db.execute(
        "SELECT account_id, mode, pilot_id FROM playbook_runs "
        "WHERE playbook = 'enterprise_adoption_plan'"
    ).fetchall()
    assert runs == [("bluepeak", "live", "enterprise-adoption")]
    # The shipped At-Risk playbook is not in the pilot: it is recorded as shadow only.
    shipped = dict(
        tried.db.execute(
            "SELECT account_id, mode FROM playbook_runs WHERE playbook = 'at_risk_response'"
        )
    )
    assert shipped == {"bluepeak": "shadow", "ferrum": "shadow"}

    tasks = tried.db.execute("SELECT account_id, title, assignee, due_on, state FROM tasks")
    # Five business days from Friday 2026-11-20 is Friday 2026-11-27.
    assert tasks.fetchall() == [
        (
            "bluepeak",
            "Agree an adoption plan for the unused seats",
            "sam.okafor@vendor.example",
            "2026-11-27",
            "open",
        )
    ]
    assert "- telemetry.seat_utilization_30d = 0.3333 (below 0.4)" in tried.output


def test_the_playbook_flags_the_renewal_due_within_90_days(tried: Tried) -> None:
    # bluepeak renews on 2027-01-15, 56 days after the run: within the step's 90 days.
    flags = tried.db.execute("SELECT account_id, renewal_date, flag FROM renewal_flags")
    assert flags.fetchall() == [("bluepeak", "2027-01-15", "Renewal At Risk")]
    assert "renewal of 2027-01-15 flagged 'Renewal At Risk'" in tried.output


def test_the_script_refuses_a_database_that_exists(tmp_path: Path) -> None:
    db = tmp_path / "taken.db"
    db.write_bytes(b"")
    result = run_script(db)
    assert result.returncode == 1
    assert f"error: {db} exists; remove it or name another file" in result.stderr
    assert db.read_bytes() == b""


def test_the_readme_shows_its_sources() -> None:
    spec = importlib.util.spec_from_file_location("docs_snippets", ROOT / "docs" / "snippets.py")
    assert spec is not None
    assert spec.loader is not None
    snippets = importlib.util.module_from_spec(spec)
    sys.modules["docs_snippets"] = snippets
    spec.loader.exec_module(snippets)
    problems, _ = snippets.check_document(EXAMPLE / "README.md", ROOT, snippets.Sources(ROOT))
    assert not problems, "\n".join(str(problem) for problem in problems)
