"""``telltales demo``: the synthetic book, its replay, the summary, and the API it serves.

Small books (tens to a few hundred accounts) keep this quick; the default size and its
build time are measured by hand (docs/demo.md), never in a timed test.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from support.demo_book import DEMO_CONFIG, build_book
from support.server import (
    TELLTALES,
    environment,
    free_port,
    launch,
    other_program_listening,
    start_server,
    stop_server,
    telltales,
)
from telltales.config import load_config
from telltales.demo import report_card, summary
from telltales.demo.replay import PILOT_GROUP, DemoOptions, DemoResult
from telltales.signals.scorecards import load_scoring
from telltales.store import open_store

END = date(2026, 11, 20)


def _build(path: Path, options: DemoOptions) -> DemoResult:
    return build_book(path, options)


def _fingerprint(path: Path) -> dict[str, object]:
    with sqlite3.connect(path) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
            for table in ("telemetry_usage", "support_tickets", "contacts_people")
        } | {
            "accounts": conn.execute(
                "SELECT account_id, name, owner, csm_group, segment, arr, seats_purchased, "
                "renewal_date, core_features FROM accounts ORDER BY 1"
            ).fetchall(),
            "renewals": conn.execute(
                "SELECT account_id, renewal_date, arr_before, arr_after, outcome, "
                "discount_percent, cohort FROM renewals ORDER BY 1, 2"
            ).fetchall(),
            "transitions": conn.execute(
                "SELECT account_id, as_of, from_status, to_status, rules FROM transitions "
                "ORDER BY 1, 2, 4"
            ).fetchall(),
        }


def test_the_same_seed_gives_the_same_book_and_another_seed_another(tmp_path: Path) -> None:
    options = DemoOptions(accounts=40, days=126, seed=3, end=END)
    first = _build(tmp_path / "a.db", options)
    _build(tmp_path / "b.db", options)
    _build(tmp_path / "c.db", DemoOptions(accounts=40, days=126, seed=4, end=END))
    a, b, c = (_fingerprint(tmp_path / f"{name}.db") for name in "abc")
    assert a == b
    assert a["telemetry_usage"] != c["telemetry_usage"]
    assert first.runs == 6  # 18 weeks: 13 of warm-up, then one run per week
    assert first.first_day == date(2026, 7, 18)
    assert first.first_run == date(2026, 10, 16)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DemoResult]]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    return path, _build(path, DemoOptions(accounts=300, days=280, seed=7, end=END))


def test_every_source_has_data_and_every_metric_has_numbers(book: tuple[Path, DemoResult]) -> None:
    path, result = book
    with sqlite3.connect(path) as conn:
        for table in (
            "telemetry_usage",
            "contacts_people",
            "contacts_meetings",
            "support_tickets",
            "news_items",
            "engagement_activities",
            "engagement_outcomes",
            "firmographics_snapshots",
            "renewals",
        ):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
        groups = conn.execute("SELECT count(DISTINCT csm_group) FROM accounts").fetchone()[0]
        segments = conn.execute("SELECT count(DISTINCT segment) FROM accounts").fetchone()[0]
        runs = conn.execute("SELECT count(*), min(status), max(status) FROM runs").fetchone()
        usage_days = conn.execute("SELECT max(day) - min(day) + 1 FROM telemetry_usage").fetchone()
        modes = dict(conn.execute("SELECT mode, count(*) FROM playbook_runs GROUP BY mode"))
        cohorts = dict(conn.execute("SELECT cohort, count(*) FROM playbook_runs GROUP BY cohort"))
        tasks = dict(conn.execute("SELECT state, count(*) FROM tasks GROUP BY state"))
    assert (groups, segments) == (8, 3)
    assert runs == (result.runs, "ok", "ok")
    assert usage_days == (280,)
    assert modes["live"] > 0
    assert modes["shadow"] > modes["live"]
    assert set(cohorts) == {"pilot", "control", "none"}
    assert tasks["done"] == result.tasks_completed
    assert tasks["dismissed"] == result.tasks_dismissed
    with open_store(path, []) as store:
        found = summary.headlines(store, result.first_run, result.end)
    ack = found.acknowledgement.overall
    assert ack.acknowledged > 0
    assert ack.median_hours is not None
    assert ack.median_hours > 0
    assert found.completion.overall.with_tasks > 0
    assert found.retention.overall.renewals == result.renewals
    assert found.retention.overall.churned == result.churned > 0


def test_signals_predict_churn_and_the_pilot_beats_its_hold_out(
    book: tuple[Path, DemoResult],
) -> None:
    """The data is honest to the domain: flagged renewals churn more, and the pilot's
    live playbooks (worked by the simulated CSMs) keep more than its hold-out."""
    path, result = book
    with open_store(path, []) as store:
        found = summary.headlines(store, result.first_run, result.end)
    by_risk = {row.risk_cohort: row for row in found.by_risk.overall}
    flagged = [by_risk["flagged_with_playbook"], by_risk["flagged_without_playbook"]]
    flagged_churned = sum(row.churned for row in flagged)
    flagged_renewals = sum(row.renewals for row in flagged)
    calm = by_risk["not_flagged"]
    assert flagged_renewals > 20
    assert calm.renewals > 20
    assert flagged_churned / flagged_renewals > 1.5 * calm.churned / calm.renewals
    # The hidden health behind it: churned accounts were sicker at renewal time.
    retention = {group.group: group for group in found.retention.groups}
    assert retention["pilot"].grr is not None
    assert retention["control"].grr is not None
    # On this small book the GRR gap rests on a handful of renewals (16 and 9 with the
    # calm shipped rules, fewer playbooks started): it is only asserted once both
    # samples are big enough to be shown; the reversal rate below carries the effect.
    if retention["pilot"].sample.enough and retention["control"].sample.enough:
        assert retention["pilot"].grr > retention["control"].grr
    # ... and says how many renewals each figure rests on, and how sure the gap is.
    assert retention["control"].sample.n == retention["control"].renewals
    gap = next(c for c in found.retention.comparisons if c.figure == "grr")
    assert (gap.first, gap.second) == ("pilot", "control")
    assert gap.difference == pytest.approx(retention["pilot"].grr - retention["control"].grr)
    both = retention["pilot"].sample.enough and retention["control"].sample.enough
    assert gap.enough == both
    assert (gap.interval is None) == (not both)
    with open_store(path, []) as store:
        text = summary.render(result, store, [])
    control = retention["control"]
    if not control.sample.enough:
        assert f"too few ({control.renewals})" in text
        grr_line = text.split("gross revenue retention")[1].split("\n")[0]
        assert f"{control.grr:.0%} " not in grr_line
    reversal = {group.group: group for group in found.reversal.groups}
    assert reversal["pilot"].rate is not None
    assert reversal["control"].rate is not None
    assert reversal["pilot"].rate > reversal["control"].rate
    pilot_accounts = [a for a in result.book if a.csm_group == PILOT_GROUP]
    assert len(pilot_accounts) > 20


def test_the_summary_ends_with_the_report_card_of_the_shipped_and_a_fitted_card(
    book: tuple[Path, DemoResult],
) -> None:
    """Item 7 of issue 18: judged on the second half-year, the fitted card learned on the
    first from what was known then; the figures are the observations' own."""
    path, result = book
    scoring = load_scoring(load_config(DEMO_CONFIG), None)
    with open_store(path, []) as store:
        cards = report_card.report_cards(store, scoring, result.first_day, result.end, min_churns=3)
        stored = {
            (account, date.fromisoformat(day)): value
            for account, day, value in store.reader.execute(
                "SELECT account_id, as_of, value FROM scores WHERE scorer = 'health'"
            )
        }
    assert cards.cut == result.first_day + timedelta(days=182)
    # The shipped card's scores are the runs' own; the fit saw nothing from the cut on.
    assert all(stored[o.account_id, o.day] == o.scores["[scoring]"] for o in cards.observations)
    assert cards.fit is not None, cards.problem
    assert cards.fit.through == cards.cut
    assert cards.fit.last_day < cards.cut
    judged = cards.judged()
    assert judged
    assert all(o.day + timedelta(days=90) <= result.end for o in judged)
    assert cards.shipped.observations == len(judged)
    counts = Counter(o.grades["[scoring]"] for o in judged)
    assert {row.grade: row.observations for row in cards.shipped.calibration} == counts
    assert cards.fitted is not None
    assert cards.fitted.scored == sum(1 for o in judged if o.scores["dear_fitted"] is not None)
    lines = report_card.render(cards, scoring)
    assert lines[0].startswith("Report card of the health score, out of time:")
    assert lines[2].startswith("  dear (shipped, live)")
    assert lines[3].startswith("  dear_fitted (first half-year)")


def _read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith(marker):
            return lines
    raise AssertionError(f"the demo ended before printing {marker!r}: {lines}")


def test_the_demo_command_builds_prints_and_serves_what_it_prints(tmp_path: Path) -> None:
    """As a newcomer runs it: every printed URL and example call answers 200."""
    db = tmp_path / "demo.db"
    port = free_port()
    options = ["--accounts", "120", "--days", "154", "--end", END.isoformat()]
    server = launch(
        [TELLTALES, "--db", db, "demo", *options, "--port", str(port), "--workers", "1"], port
    )
    try:
        lines = _read_until(server.process, "The CLI reads the same database")
        text = "\n".join(lines)
        assert "Most at risk now" in text
        assert "      next: " in text
        assert "      why:  " in text
        assert "Headline metrics" in text
        assert "comes from the simulation" in text
        token = re.search(r"A read-only API key \(printed once\): (\S+)", text)
        assert token is not None
        calls = re.findall(r"curl -H 'Authorization: Bearer (\S+)' '(\S+)'", text)
        assert len(calls) == 5
        assert {key for key, _ in calls} == {token.group(1)}
        schema = re.search(r"Schema and a UI to try every route: (\S+)", text)
        assert schema is not None
        pages = re.search(r"The CSM's pages, in a browser \(sign in with the key\): (\S+)", text)
        assert pages is not None
        assert text.index("The CSM's pages") < text.index("Try:"), "the pages come first"
        server.wait_ready()
        assert server.http.get(schema.group(1)).status_code == 200
        front = server.http.get(pages.group(1))
        assert front.status_code == 303
        assert front.headers["location"].startswith("/sign-in")
        signed = server.http.post(
            "/sign-in",
            data={"key": token.group(1), "next": "/accounts"},
            headers={"Origin": server.url},
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/accounts"
        listed = server.http.get("/accounts")  # the client keeps the session's cookie
        assert listed.status_code == 200
        assert "Accounts: At-Risk" in listed.text
        for key, url in calls:
            response = server.http.get(url, headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200, (url, response.text)
            assert response.json()
        # The key is read-only: writing is refused.
        refused = server.http.post(
            "/v1/runs", json={"as_of": END.isoformat()}, headers={"Authorization": f"Bearer {key}"}
        )
        assert refused.status_code == 403
        cli_line = lines[-1].removeprefix("The CLI reads the same database: ")
        # Copied as printed: the environment is not activated, so the program is a path.
        program, *arguments = cli_line.split()
        located = shutil.which(program, path=environment().get("PATH"))
        assert located is not None, program
        assert Path(located).resolve() == TELLTALES.resolve()
        shown = subprocess.run(
            [program, *arguments], capture_output=True, text=True, check=False, env=environment()
        )
        assert shown.returncode == 0, shown.stderr
        assert "At-Risk" in shown.stdout
    finally:
        stop_server(server)


def test_no_serve_builds_and_stops_and_an_existing_database_is_kept(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    args = ("--db", db, "demo", "--accounts", "30", "--days", "126", "--end", "2026-11-20")
    built = telltales(*args, "--no-serve")
    assert built.returncode == 0, built.stderr
    assert "Headline metrics" in built.stdout
    assert (tmp_path / "demo.toml").exists()
    before = db.stat().st_mtime_ns
    again = telltales(*args, "--no-serve")
    assert again.returncode == 1
    assert (
        again.stderr.strip() == f"Error: {db} exists: pass --replace to rebuild it, or choose --db"
    )
    assert db.stat().st_mtime_ns == before
    # A mistake in the configuration stops --replace before the old database goes.
    bad = tmp_path / "bad.toml"
    bad.write_text("[rules.no_such_rule]\nstatus = 'at_risk'\n")
    kept = db.read_bytes()
    refused = telltales("--config", bad, *args, "--no-serve", "--replace")
    assert refused.returncode == 1
    assert str(bad) in refused.stderr
    assert "Traceback" not in refused.stderr
    assert db.read_bytes() == kept
    replaced = telltales(*args, "--no-serve", "--replace", "--seed", "8")
    assert replaced.returncode == 0, replaced.stderr


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--days", "50", "Invalid value for '--days': 50 is not in the range 119<=x<=1095."),
        ("--accounts", "5", "Invalid value for '--accounts': 5 is not in the range 20<=x<=50000."),
        ("--end", "2026-13-01", "Invalid value for '--end'"),
    ],
)
def test_bad_options_are_named_and_nothing_is_written(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    db = tmp_path / "demo.db"
    refused = telltales("--db", db, "demo", "--no-serve", option, value)
    assert refused.returncode == 2
    assert message in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not db.exists()
    assert not (tmp_path / "demo.toml").exists()


def test_the_demo_checks_its_port_before_building(tmp_path: Path) -> None:
    """Issue 16: ``python3 dev.py demo --port 8002`` built the whole book, then crashed."""
    db = tmp_path / "demo.db"
    with other_program_listening() as (port, holder):
        refused = telltales(
            "--db", db, "demo", "--accounts", "20", "--days", "119", "--port", str(port)
        )
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"Error: port {port} on 127.0.0.1 is in use by pid {holder.pid} (")
    assert not db.exists()
    assert not (tmp_path / "demo.toml").exists()


@pytest.mark.parametrize("serving", ["--no-serve", "--port"])
def test_the_demo_refuses_to_rebuild_a_database_being_served(tmp_path: Path, serving: str) -> None:
    """Issue 16: ``python3 dev.py demo`` while a demo was serving rebuilt the database
    under it; the old server kept serving the deleted file and the new key got 401.
    With ``--port`` on the served port, as ``dev.py demo`` runs twice: the database is
    named, not only the port."""
    db = tmp_path / "demo.db"
    args = ("--db", db, "demo", "--accounts", "20", "--days", "119", "--end", END.isoformat())
    assert telltales(*args, "--no-serve").returncode == 0
    server = start_server(
        db, "--workers", "1", env=environment(TELLTALES_CONFIG=str(tmp_path / "demo.toml"))
    )
    try:
        server.wait_ready()
        served = db.stat().st_ino
        again = ["--no-serve"] if serving == "--no-serve" else ["--port", server.url[-5:]]
        refused = telltales(*args, "--replace", *again)
        assert refused.returncode == 1
        assert refused.stderr.splitlines() == [
            f"Error: {db} is being served by telltales serve (pid {server.process.pid}, "
            f"{server.url}, database {db.resolve()}): stop that server before rebuilding "
            "the demo, or choose another --db"
        ]
        assert db.stat().st_ino == served
        assert server.http.get("/readyz").status_code == 200
    finally:
        stop_server(server)
    rebuilt = telltales(*args, "--replace", "--no-serve")
    assert rebuilt.returncode == 0, rebuilt.stderr


def test_no_serve_prints_how_to_serve_and_its_calls_answer_once_served(tmp_path: Path) -> None:
    """Issue 16: ``--no-serve`` printed "Try: curl ..." for a server that was not running."""
    db = tmp_path / "demo.db"
    port = free_port()
    built = telltales(
        *("--db", db, "demo", "--accounts", "20", "--days", "119", "--end", END.isoformat()),
        *("--no-serve", "--port", str(port), "--workers", "1"),
    )
    assert built.returncode == 0, built.stderr
    lines = built.stdout.splitlines()
    assert "Try:" not in lines
    assert "Once served, try:" in lines
    serve_line = re.search(
        r"^Not serving \(--no-serve\)\. To serve the API: (.+)$", built.stdout, re.MULTILINE
    )
    assert serve_line is not None
    program, *arguments = serve_line.group(1).split()
    located = shutil.which(program, path=environment().get("PATH"))
    assert located is not None, program
    server = launch([located, *arguments], port)
    try:
        server.wait_ready()
        calls = re.findall(r"curl -H 'Authorization: Bearer (\S+)' '(\S+)'", built.stdout)
        assert len(calls) == 5
        for key, url in calls:
            response = server.http.get(url, headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200, (url, response.text)
    finally:
        stop_server(server)
