"""Playbooks started by a run: live, shadow or held back; their steps, approvals and actions.

The example book of business (examples/data, all six plugins) proves the issue's
done-when; a small book whose signals each test sets (the ``probe`` source) pins
every rule of starting a playbook with hand-computed expectations.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from support.book import (
    ACTIONS_PLUGIN,
    ANN,
    BASE_LINES,
    FERRUM_BODY,
    FRIDAY,
    MIA,
    RESPOND,
    Book,
    at,
    build_example,
    counts,
    d,
    example_registry,
    one_day_config,
)
from telltales.contracts import RenewalFlag
from telltales.engine.pipeline import run
from telltales.errors import ConfigError, InputError
from telltales.models import RunActions, RunFailure
from telltales.playbooks.outbox import deliver_due, retry_failed
from telltales.playbooks.pilots import NewPilot, create_pilot
from telltales.playbooks.plan import load_plan
from telltales.playbooks.runs import list_runs
from telltales.playbooks.tasks import add_business_days, approve_task, complete_task, dismiss_task
from telltales.store import open_store

# The small book: a source the tests steer, and actions registered by a test plugin.


# The shipped playbooks and the health-score rule are switched off so that only the
# probe's rules and each test's playbooks act. A test's own tables follow BASE.


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    opened = Book(tmp_path)
    yield opened
    opened.store.close()


# The done-when, on the example data with every plugin installed.


@pytest.fixture(scope="module")
def example_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example database, built once for the module; tests work on copies."""
    path = tmp_path_factory.mktemp("example") / "example.db"
    build_example(path)
    return path


def test_example_data_a_pilot_for_one_group_acts_there_only_and_a_rerun_adds_nothing(
    example_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "example.db"
    shutil.copy(example_template, path)
    registry = example_registry()
    plan = load_plan(one_day_config(tmp_path), registry)
    migrations = [entry.obj for entry in registry.migrations.values()]
    with open_store(path, migrations) as store:
        new = NewPilot(
            pilot_id="apac",
            csm_groups=["apac-midmarket"],
            rules=["core_feature_drop", "sponsor_left"],
            playbooks=["at_risk_response"],
            starts_on=d(1),
        )
        create_pilot(store, plan, new, by="ops@vendor.example")
        first = run(store, registry, FRIDAY, plan=plan, now=at(FRIDAY))

        # ferrum (apac-midmarket): reporting users 18 -> 10 (-44%) and its sponsor left,
        # both At-Risk rules the pilot enables; it also had 6 high-priority tickets
        # (a Concern rule, not in the pilot). bluepeak (na-enterprise, in no pilot):
        # workflows users 18 -> 11 (-39%). The other four hold no rule: Healthy.
        assert first.status == "ok"
        assert first.actions == RunActions(
            evaluated=6,
            rules_fired=4,
            rules_fired_live=2,
            transitions=6,
            playbooks_live=1,
            playbooks_shadow=1,
            tasks=1,
            deliveries=2,
        )
        db = store.db
        assert db.execute(
            "SELECT account_id, from_status, to_status, cohort, pilot_id, rules "
            "FROM transitions ORDER BY account_id"
        ).fetchall() == [
            ("bluepeak", None, "at_risk", "none", None, '["core_feature_drop"]'),
            ("ferrum", None, "at_risk", "pilot", "apac", '["core_feature_drop","sponsor_left"]'),
            ("northwind", None, "healthy", "none", None, "[]"),
            ("quillworks", None, "healthy", "none", None, "[]"),
            ("solstice", None, "healthy", "none", None, "[]"),
            ("tidewater", None, "healthy", "none", None, "[]"),
        ]
        assert db.execute(
            "SELECT account_id, playbook, mode, state, cohort, csm_group, note "
            "FROM playbook_runs ORDER BY account_id"
        ).fetchall() == [
            (
                "bluepeak",
                "at_risk_response",
                "shadow",
                "shadow",
                "none",
                "na-enterprise",
                "CSM group 'na-enterprise' is in no pilot",
            ),
            (
                "ferrum",
                "at_risk_response",
                "live",
                "open",
                "pilot",
                "apac-midmarket",
                "pilot 'apac'",
            ),
        ]
        assert db.execute(
            "SELECT account_id, kind, assignee, due_on, title, body FROM tasks"
        ).fetchall() == [
            (
                "ferrum",
                "work",
                "li.chen@vendor.example",
                "2026-11-25",  # Friday + 3 business days: Mon, Tue, Wed
                "Ferrum Manufacturing: At-Risk - Active users of a core feature down more than "
                "30% over 14 days",
                FERRUM_BODY,
            )
        ]
        assert db.execute(
            "SELECT r.account_id, d.step, d.action, d.status, d.detail FROM deliveries d "
            "JOIN playbook_runs r USING (playbook_run_id) ORDER BY d.delivery_id"
        ).fetchall() == [
            ("ferrum", 1, "task", "delivered", "task 1 for li.chen@vendor.example, due 2026-11-25"),
            (
                "ferrum",
                2,
                "renewal.flag",
                "pending",
                "renewal of 2026-12-20 flagged 'Renewal At Risk'",
            ),
        ]
        assert db.execute(
            "SELECT account_id, renewal_date, flag FROM renewal_flags"
        ).fetchall() == [("ferrum", "2026-12-20", "Renewal At Risk")]
        # Shadow records for everyone else: every rule hit outside the pilot's rules and
        # group is recorded as "would have fired".
        assert db.execute(
            "SELECT account_id, rule, state, mode, cohort FROM rule_hits "
            "WHERE state = 'fired' ORDER BY account_id, rule"
        ).fetchall() == [
            ("bluepeak", "core_feature_drop", "fired", "shadow", "none"),
            ("ferrum", "core_feature_drop", "fired", "live", "pilot"),
            ("ferrum", "high_priority_tickets", "fired", "shadow", "pilot"),
            ("ferrum", "sponsor_left", "fired", "live", "pilot"),
        ]
        before = counts(store)
        assert before == {
            "transitions": 6,
            "playbook_runs": 2,
            "deliveries": 2,
            "tasks": 1,
            "task_events": 1,
            "renewal_flags": 1,
        }

        again = run(store, registry, FRIDAY, plan=plan, now=at(FRIDAY, 15))
        assert again.status == "ok"
        assert again.actions == RunActions(evaluated=6, rules_fired=4, rules_fired_live=2)
        assert counts(store) == before


# Entering, staying, and the open run.


def test_a_playbook_starts_on_entering_a_status_never_while_the_account_stays(
    book: Book,
) -> None:
    plan = book.plan()
    book.pilot(plan)
    book.signal("a1", drop=-0.5)
    first = book.run(plan, d(20))
    assert first.actions is not None
    assert (first.actions.transitions, first.actions.playbooks_live, first.actions.tasks) == (
        5,
        1,
        1,
    )
    # Still At-Risk the next day: the rule is active, the status unchanged, nothing starts.
    second = book.run(plan, d(21))
    assert second.actions == RunActions(evaluated=5)
    assert book.count("playbook_runs") == 1
    assert book.count("tasks") == 1

    # It leaves and comes back while its run is still open: no second run.
    book.signal("a1", drop=-0.1)
    book.run(plan, d(22))
    book.signal("a1", drop=-0.6)
    back = book.run(plan, d(23))
    assert back.actions is not None
    assert (back.actions.transitions, back.actions.playbooks_live) == (1, 0)
    assert back.actions.playbooks_already_open == 1
    assert book.rows("SELECT playbook_run_id, state, as_of FROM playbook_runs") == [
        (1, "open", "2026-11-20")
    ]

    # Once the run's task is done the run is over, and the next entry starts a new one.
    complete_task(book.store, 1, by=ANN, at=at(d(23), 11))
    book.signal("a1", drop=-0.1)
    book.run(plan, d(24))
    book.signal("a1", drop=-0.7)
    later = book.run(plan, d(25))
    assert later.actions is not None
    assert (later.actions.playbooks_live, later.actions.playbooks_already_open) == (1, 0)
    assert book.rows(
        "SELECT r.playbook_run_id, r.state, r.as_of, t.from_status, t.to_status "
        "FROM playbook_runs r JOIN transitions t USING (transition_id) ORDER BY 1"
    ) == [
        (1, "completed", "2026-11-20", None, "at_risk"),
        (2, "open", "2026-11-25", "healthy", "at_risk"),
    ]


def test_an_open_run_blocks_only_the_same_playbook(book: Book) -> None:
    plan = book.plan(
        RESPOND
        + """
[playbooks.escalate]
on_enter = "at_risk"
steps = [{ action = "task", assignee = "manager" }]
"""
    )
    book.pilot(plan, playbooks=("respond", "escalate"))
    book.signal("a1", drop=-0.5)
    book.run(plan, d(20))
    complete_task(book.store, 2, by=MIA, at=at(d(20), 10))  # escalate's task: run over
    book.signal("a1")
    book.run(plan, d(21))
    book.signal("a1", drop=-0.5)
    result = book.run(plan, d(22))
    assert result.actions is not None
    assert (result.actions.playbooks_live, result.actions.playbooks_already_open) == (1, 1)
    assert book.rows("SELECT playbook, state, as_of FROM playbook_runs ORDER BY 1") == [
        ("escalate", "completed", "2026-11-20"),
        ("escalate", "open", "2026-11-22"),
        ("respond", "open", "2026-11-20"),
    ]


def test_a_playbook_with_rules_starts_only_when_one_of_them_caused_the_entry(book: Book) -> None:
    plan = book.plan(
        RESPOND
        + """
[playbooks.sponsor_call]
on_enter = "at_risk"
rules = ["gone", "slow"]
steps = [{ action = "task", title = "Call about the sponsor" }]

[playbooks.check_in]
on_enter = "concern"
steps = [{ action = "task", due_business_days = 5 }]
"""
    )
    book.pilot(plan, playbooks=("respond", "sponsor_call", "check_in"))
    book.signal("a1", drop=-0.5)  # At-Risk by drop
    book.signal("a2", gone=1)  # At-Risk by gone
    book.signal("a3", tickets=8)  # Concern by tickets
    result = book.run(plan)
    assert result.actions is not None
    assert result.actions.playbooks_live == 4
    assert book.rows(
        "SELECT r.account_id, r.playbook, r.rules, t.title FROM playbook_runs r "
        "JOIN tasks t USING (playbook_run_id) ORDER BY 1, 2"
    ) == [
        ("a1", "respond", '["drop"]', "Alpha Ltd: At-Risk - Probe drop beyond 30%"),
        ("a2", "respond", '["gone"]', "Beta Inc: At-Risk - Probe sponsor gone"),
        ("a2", "sponsor_call", '["gone"]', "Call about the sponsor"),
        ("a3", "check_in", '["tickets"]', "Gamma AG: Concern - More than 5 probe tickets"),
    ]


# Live, shadow, held back.


def test_outside_the_pilot_a_playbook_is_recorded_as_shadow_with_why(book: Book) -> None:
    plan = book.plan(
        RESPOND
        + """
[playbooks.escalate]
on_enter = "at_risk"
steps = [{ action = "task", assignee = "manager" }]
"""
    )
    book.pilot(plan, rules=("drop",), playbooks=("respond",))
    book.signal("a1", drop=-0.5)
    book.signal("a2", mild=1)
    book.signal("b1", drop=-0.5)
    result = book.run(plan)
    assert result.actions is not None
    assert (result.actions.playbooks_live, result.actions.playbooks_shadow) == (1, 5)
    assert book.rows(
        "SELECT account_id, playbook, mode, state, cohort, note FROM playbook_runs ORDER BY 1, 2"
    ) == [
        (
            "a1",
            "escalate",
            "shadow",
            "shadow",
            "pilot",
            "pilot 'p1' does not enable playbook 'escalate'",
        ),
        ("a1", "respond", "live", "open", "pilot", "pilot 'p1'"),
        (
            "a2",
            "escalate",
            "shadow",
            "shadow",
            "pilot",
            "pilot 'p1' does not enable playbook 'escalate'",
        ),
        (
            "a2",
            "respond",
            "shadow",
            "shadow",
            "pilot",
            "pilot 'p1' enables none of the rules behind it (mild)",
        ),
        ("b1", "escalate", "shadow", "shadow", "none", "CSM group 'g2' is in no pilot"),
        ("b1", "respond", "shadow", "shadow", "none", "CSM group 'g2' is in no pilot"),
    ]
    # Nothing is sent and no task is created for a shadow run.
    assert book.rows(
        "SELECT DISTINCT r.account_id, r.mode FROM deliveries JOIN playbook_runs r "
        "USING (playbook_run_id)"
    ) == [("a1", "live")]
    assert book.rows("SELECT account_id FROM tasks") == [("a1",)]


CAP_NOTE = (
    "ann@vendor.example already got {n} new playbook runs in the 7 days to {day} (cap {cap} a week)"
)


@pytest.mark.parametrize(
    ("cap", "live"),
    [(1, ["a2"]), (2, ["a2", "a3"]), (3, ["a1", "a2", "a3"])],
)
def test_the_weekly_cap_per_csm_lets_the_most_severe_then_largest_through(
    book: Book, cap: int, live: list[str]
) -> None:
    plan = book.plan(RESPOND + f"\n[alerts]\nmax_new_runs_per_csm_per_week = {cap}\n")
    book.pilot(plan)
    book.signal("a1", mild=1)  # low severity, ARR 100,000
    book.signal("a2", drop=-0.5)  # high severity, ARR 50,000
    book.signal("a3", mild=1)  # low severity, ARR 300,000
    result = book.run(plan)
    assert result.actions is not None
    assert (result.actions.playbooks_live, result.actions.playbooks_held_back) == (
        len(live),
        3 - len(live),
    )
    runs = book.rows("SELECT account_id, mode, state, note FROM playbook_runs ORDER BY 1")
    note = CAP_NOTE.format(n=cap, day="2026-11-20", cap=cap)
    assert runs == [
        (a, "live", "open", "pilot 'p1'") if a in live else (a, "held_back", "held_back", note)
        for a in ("a1", "a2", "a3")
    ]
    # Held back is recorded, not acted on: no task, no delivery.
    assert sorted(row[0] for row in book.rows("SELECT account_id FROM tasks")) == live
    assert book.count("deliveries") == len(live)
    # ... and visible, with the count that held it back.
    held = list_runs(book.store, mode="held_back")
    assert sorted((r.account_id, r.note) for r in held) == [
        (a, note) for a in ("a1", "a2", "a3") if a not in live
    ]


def test_the_weekly_cap_counts_the_seven_days_up_to_the_run(book: Book) -> None:
    plan = book.plan(RESPOND + "\n[alerts]\nmax_new_runs_per_csm_per_week = 1\n")
    book.pilot(plan)
    book.signal("a2", drop=-0.5)
    book.run(plan, d(20))  # a2: live, Ann's one run of the week
    book.signal("a1", drop=-0.5)
    book.run(plan, d(26))  # 20..26 holds a2's run
    book.signal("a1")
    book.run(plan, d(27))
    book.signal("a1", drop=-0.5)
    book.run(plan, d(28))  # 22..28 holds none
    assert book.rows("SELECT account_id, as_of, mode, note FROM playbook_runs ORDER BY 2") == [
        ("a2", "2026-11-20", "live", "pilot 'p1'"),
        ("a1", "2026-11-26", "held_back", CAP_NOTE.format(n=1, day="2026-11-26", cap=1)),
        ("a1", "2026-11-28", "live", "pilot 'p1'"),
    ]


# Approval.

APPROVAL_STEPS = """
[playbooks.respond]
on_enter = "at_risk"
steps = [
  { action = "task" },
  { action = "mail", template = "check-in" },
  { action = "notice", approval = true },
]
"""
A1_WHY = "rule drop (Probe drop beyond 30%): probe.drop = -0.5 (below -0.3): drop of a1 is -0.5"


def test_steps_that_need_approval_wait_for_a_csm(book: Book) -> None:
    plan = book.plan(APPROVAL_STEPS)
    book.pilot(plan)
    book.signal("a1", drop=-0.5)
    book.run(plan)
    assert book.rows(
        "SELECT delivery_id, step, action, status, needs_approval FROM deliveries ORDER BY 1"
    ) == [
        (1, 1, "task", "delivered", 0),
        (2, 2, "mail", "awaiting_approval", 1),
        (3, 3, "notice", "awaiting_approval", 1),
    ]
    assert book.rows(
        "SELECT task_id, delivery_id, step, kind, assignee, due_on, title, body FROM tasks "
        "WHERE kind = 'approval' ORDER BY 1"
    ) == [
        (
            2,
            2,
            2,
            "approval",
            ANN,
            "2026-11-24",  # Friday + 2 business days
            "Approve: mail for Alpha Ltd (playbook respond)",
            'Playbook respond would run action \'mail\' with {"template":"check-in"}. It reaches '
            "the customer, so it waits for your approval; dismiss it with a reason to cancel it.\n"
            f"Why: {A1_WHY}\nAccount: http://127.0.0.1:8000/v1/accounts/a1/health",
        ),
        (
            3,
            3,
            3,
            "approval",
            ANN,
            "2026-11-24",
            "Approve: notice for Alpha Ltd (playbook respond)",
            "Playbook respond would run action 'notice' with {}. The playbook asks for approval "
            "before it runs; dismiss it with a reason to cancel it.\n"
            f"Why: {A1_WHY}\nAccount: http://127.0.0.1:8000/v1/accounts/a1/health",
        ),
    ]
    # Nothing waiting for approval is delivered.
    assert deliver_due(book.store, book.registry, plan).attempts == 0

    approve_task(book.store, 2, by=ANN, at=at(FRIDAY, 10))
    dismiss_task(book.store, 3, by=ANN, reason="customer already called", at=at(FRIDAY, 11))
    assert book.rows("SELECT delivery_id, status, detail FROM deliveries WHERE step > 1") == [
        (2, "pending", ""),
        (3, "cancelled", "not approved: dismissed by ann@vendor.example: customer already called"),
    ]
    assert deliver_due(book.store, book.registry, plan).delivered == 1
    ((key,),) = book.rows("SELECT idempotency_key FROM deliveries WHERE delivery_id = 2")
    assert [(r.idempotency_key, r.params, r.account.account_id) for r in book.mail.sent] == [
        (key, {"template": "check-in"}, "a1")
    ]
    assert book.notice.sent == []
    assert book.rows("SELECT status FROM deliveries WHERE delivery_id = 2") == [("delivered",)]


# Configuration that is refused.


@pytest.mark.parametrize(
    ("tables", "line", "message"),
    [
        (
            '[playbooks.x]\non_enter = "at_risk"\nsteps = [\n  { action = "task" },\n'
            '  { action = "emial" },\n]\n',
            BASE_LINES + 5,
            "[playbooks.x] step 2: no action named 'emial' (installed: mail, notice, "
            "renewal.flag, task)",
        ),
        (
            '[playbooks.x]\non_enter = "at_risk"\nsteps = [{ action = "task", due_business_days '
            "= -1 }]\n",
            BASE_LINES + 3,
            "playbooks.x.steps[0].due_business_days: expected `int` >= 0",
        ),
        (
            '[playbooks.x]\non_enter = "at_risk"\nsteps = [{ action = "task", due = 3 }]\n',
            BASE_LINES + 3,
            "playbooks.x.steps[0]: object contains unknown field `due`",
        ),
        (
            '[playbooks.x]\non_enter = "at_risk"\n'
            'steps = [{ action = "mail", approval = false }]\n',
            BASE_LINES + 3,
            "[playbooks.x] step 1: action 'mail' reaches the customer, so a CSM must approve it; "
            "remove approval = false",
        ),
        (
            '[playbooks.x]\non_enter = "at_risk"\nrules = ["drop", "dorp"]\n'
            'steps = [{ action = "task" }]\n',
            BASE_LINES + 3,
            "[playbooks.x] rules: no enabled rule named 'dorp' (known: core_feature_drop, drop, "
            "gone, high_priority_tickets, low_logins_in_adoption, low_seat_utilization, mild, "
            "slow, sponsor_left, tickets)",
        ),
        (
            '[playbooks.x]\non_enter = "at_risk"\nrules = ["score_red"]\n'
            'steps = [{ action = "task" }]\n',
            BASE_LINES + 3,
            "[playbooks.x] rules: no enabled rule named 'score_red' (known: core_feature_drop, "
            "drop, gone, high_priority_tickets, low_logins_in_adoption, low_seat_utilization, "
            "mild, slow, sponsor_left, tickets)",
        ),
        (
            '[playbooks.x]\non_enter = "at_risk"\nsteps = [{ action = "renewal.flag", '
            "within_days = 0 }]\n",
            BASE_LINES + 3,
            "playbooks.x.steps[0].within_days: expected `int` >= 1",
        ),
        (
            '[playbooks.x]\non_enter = "at_risk"\nsteps = [{ action = "task", assignee = "" }]\n',
            BASE_LINES + 3,
            "playbooks.x.steps[0].assignee: expected `str` of length >= 1",
        ),
        (
            '[playbooks.x]\non_enter = "at_risk"\nsteps = [{ due_business_days = 2 }]\n',
            BASE_LINES + 3,
            '[playbooks.x] step 1: name its action, e.g. action = "task"',
        ),
        (
            '[playbooks.x]\non_enter = "at_risk"\nsteps = [{ action = "task", approval = true }]\n',
            BASE_LINES + 3,
            "[playbooks.x] step 1: action 'task' only writes in telltales (it sends nothing), "
            "so there is nothing to approve; remove approval = true",
        ),
    ],
    ids=[
        "unknown-action",
        "negative-due",
        "unknown-param",
        "approval-false",
        "unknown-rule",
        "disabled-rule",
        "within-zero",
        "empty-assignee",
        "no-action",
        "approval-on-local-action",
    ],
)
def test_a_bad_playbook_is_refused_naming_file_line_and_problem(
    book: Book, tables: str, line: int, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        book.plan(tables)
    assert str(refused.value) == f"{book.config}, line {line}: {message}"


# The task action.


def test_task_text_names_rule_metric_values_comparison_and_link(book: Book) -> None:
    plan = book.plan(
        """
[statuses]
at_risk = "Red alert"

[links]
account_url = "https://crm.example/accounts/{account_id}"

[playbooks.respond]
on_enter = "at_risk"
steps = [
  { action = "task", due_business_days = 3 },
  { action = "task", due_business_days = 5, assignee = "manager", title = "Review Alpha" },
  { action = "task", due_business_days = 1, assignee = "carol@vendor.example" },
  { action = "task", due_business_days = 0 },
]
"""
    )
    book.pilot(plan)
    book.signal("a1", slow=1)
    book.run(plan, d(19))  # slow holds one day of two: no status yet
    book.signal("a1", slow=1, drop=-0.45)
    book.run(plan, d(20))
    body = (
        "Alpha Ltd (a1) entered Red alert as of 2026-11-20 (playbook respond).\n"
        "Rule drop (high): Probe drop beyond 30%; holding since 2026-11-20.\n"
        "- probe.drop = -0.45 (below -0.3): drop of a1 is -0.45\n"
        "Rule slow (medium): Probe slow for two days; holding since 2026-11-19.\n"
        "- probe.slow = 1 (at least 1): slow of a1 is 1\n"
        "Account: https://crm.example/accounts/a1"
    )
    title = "Alpha Ltd: Red alert - Probe drop beyond 30%"
    # Friday the 20th: 3 business days is Wednesday, 5 is the next Friday, 1 is Monday.
    assert book.rows("SELECT step, assignee, due_on, title, body FROM tasks ORDER BY step") == [
        (1, ANN, "2026-11-25", title, body),
        (2, MIA, "2026-11-27", "Review Alpha", body),
        (3, "carol@vendor.example", "2026-11-23", title, body),
        (4, ANN, "2026-11-20", title, body),
    ]
    assert book.rows("SELECT step, detail FROM deliveries ORDER BY step") == [
        (1, f"task 1 for {ANN}, due 2026-11-25"),
        (2, f"task 2 for {MIA}, due 2026-11-27"),
        (3, "task 3 for carol@vendor.example, due 2026-11-23"),
        (4, f"task 4 for {ANN}, due 2026-11-20"),
    ]


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (d(20), 1, d(23)),  # Friday -> Monday
        (d(21), 1, d(23)),  # Saturday -> Monday
        (d(22), 0, d(22)),  # Sunday, no days -> itself
        (d(18), 3, d(23)),  # Wednesday -> Thu, Fri, Mon
        (d(20), 10, date(2026, 12, 4)),
    ],
)
def test_business_days_skip_weekends(start: date, days: int, due: date) -> None:
    assert add_business_days(start, days) == due


def test_an_unknown_assignee_fails_that_step_only(book: Book) -> None:
    plan = book.plan(
        """
[playbooks.respond]
on_enter = "at_risk"
steps = [
  { action = "task" },
  { action = "task", assignee = "manager", title = "Manager: look at it" },
  { action = "mail" },
]
"""
    )
    book.pilot(plan, groups=("g1", "g2"))
    book.signal("a4", drop=-0.5)  # no owner; g1 has a manager
    book.signal("b1", drop=-0.5)  # owned by Bob; g2 has no manager
    result = book.run(plan)
    assert result.status == "degraded"
    # Both are High: b1 (ARR 80,000) is recorded before a4 (ARR 10,000).
    assert result.failures == (
        RunFailure(
            plugin=ACTIONS_PLUGIN,
            component="action:task",
            error="ValueError: task assignee 'manager' is unknown for account 'b1' (set its "
            "owner, or [csm_groups.g2] manager)",
        ),
        RunFailure(
            plugin=ACTIONS_PLUGIN,
            component="action:task",
            error="ValueError: task assignee 'owner' is unknown for account 'a4' (set its owner, "
            "or [csm_groups.g1] manager)",
        ),
    )
    assert book.rows(
        "SELECT r.account_id, d.step, d.status, d.detail FROM deliveries d "
        "JOIN playbook_runs r USING (playbook_run_id) ORDER BY 1, 2"
    ) == [
        (
            "a4",
            1,
            "failed",
            "record failed: ValueError: task assignee 'owner' is unknown for "
            "account 'a4' (set its owner, or [csm_groups.g1] manager)",
        ),
        ("a4", 2, "delivered", f"task 3 for {MIA}, due 2026-11-25"),
        ("a4", 3, "awaiting_approval", ""),
        ("b1", 1, "delivered", "task 1 for bob@vendor.example, due 2026-11-25"),
        (
            "b1",
            2,
            "failed",
            "record failed: ValueError: task assignee 'manager' is unknown for "
            "account 'b1' (set its owner, or [csm_groups.g2] manager)",
        ),
        ("b1", 3, "awaiting_approval", ""),
    ]
    # The unowned account's approval goes to its group's manager.
    assert book.rows("SELECT account_id, step, kind, assignee FROM tasks ORDER BY 1, 2") == [
        ("a4", 2, "work", MIA),
        ("a4", 3, "approval", MIA),
        ("b1", 1, "work", "bob@vendor.example"),
        ("b1", 3, "approval", "bob@vendor.example"),
    ]
    # What failed while the run was recorded is not the worker's to redo.
    (failed_id,) = book.rows(
        "SELECT d.delivery_id FROM deliveries d JOIN playbook_runs r USING (playbook_run_id) "
        "WHERE r.account_id = 'a4' AND d.step = 1"
    )[0]
    with pytest.raises(InputError) as refused:
        retry_failed(book.store, failed_id)
    assert str(refused.value) == (
        f"delivery {failed_id} failed when its run was recorded (record failed: ValueError: task "
        "assignee 'owner' is unknown for account 'a4' (set its owner, or [csm_groups.g1] "
        "manager)); the worker cannot redo that: fix the cause, the next entry starts a new run"
    )
    # Every task of a4's run done, but its first task was never written: closed, not completed.
    complete_task(book.store, 3, by=MIA, at=at(FRIDAY, 10))
    approve_task(book.store, 4, by=MIA, at=at(FRIDAY, 10))
    assert book.rows("SELECT account_id, state FROM playbook_runs ORDER BY 1") == [
        ("a4", "closed"),
        ("b1", "open"),
    ]


# The renewal flag.

FLAG = """
[playbooks.flag]
on_enter = "at_risk"
steps = [{ action = "renewal.flag" }]
"""


def test_renewal_flag_marks_the_open_renewal_locally(book: Book) -> None:
    plan = book.plan(FLAG)
    book.pilot(plan, playbooks=("flag",))
    book.signal("a1", drop=-0.5)  # renews 2026-12-20
    book.signal("a2", drop=-0.5)  # no renewal date
    book.signal("a3", drop=-0.5)  # renewed 2026-11-01, before the run
    book.run(plan)
    assert book.rows(
        "SELECT account_id, renewal_date, flag, playbook_run_id, flagged_at, reason, evidence "
        "FROM renewal_flags"
    ) == [("a1", "2026-12-20", "Renewal At Risk", 2, "2026-11-20T09:00:00+00:00", "drop", A1_WHY)]
    # Runs by ARR: a3 (300,000) is run 1, a1 (100,000) run 2, a2 (50,000) run 3.
    assert book.rows(
        "SELECT r.account_id, d.status, d.detail FROM deliveries d "
        "JOIN playbook_runs r USING (playbook_run_id) ORDER BY 1"
    ) == [
        ("a1", "pending", "renewal of 2026-12-20 flagged 'Renewal At Risk'"),
        ("a2", "pending", "the account has no renewal date"),
        ("a3", "pending", "no open renewal: the renewal date 2026-11-01 has passed"),
    ]
    # A run without tasks has nothing left to do.
    assert book.rows("SELECT DISTINCT state, closed_at FROM playbook_runs") == [
        ("completed", "2026-11-20T09:00:00+00:00")
    ]
    # Without [crm] the worker has nothing to push; the flag stays in telltales.
    assert deliver_due(book.store, book.registry, plan).delivered == 3
    assert book.rows(
        "SELECT r.account_id, d.status, d.detail FROM deliveries d "
        "JOIN playbook_runs r USING (playbook_run_id) ORDER BY 1"
    ) == [
        ("a1", "delivered", "no CRM adapter configured ([crm]); flag kept in telltales"),
        ("a2", "delivered", "nothing to push: the account has no renewal date"),
        (
            "a3",
            "delivered",
            "nothing to push: no open renewal: the renewal date 2026-11-01 has passed",
        ),
    ]
    assert book.crm.pushed == []


@pytest.mark.parametrize(
    ("within", "flagged"), [(30, True), (29, False)], ids=["30-days-away", "beyond-29"]
)
def test_renewal_flag_within_days_and_the_crm_push(book: Book, within: int, flagged: bool) -> None:
    plan = book.plan(
        f"""
[crm]
adapter = "testcrm"

[playbooks.flag]
on_enter = "at_risk"
steps = [{{ action = "renewal.flag", flag = "Churn watch", within_days = {within} }}]
"""
    )
    book.pilot(plan, playbooks=("flag",))
    book.signal("a1", drop=-0.5)  # renews 2026-12-20: 30 days after the 20th
    book.run(plan)
    deliver_due(book.store, book.registry, plan)
    ((key, detail),) = book.rows("SELECT idempotency_key, detail FROM deliveries")
    if not flagged:
        assert book.count("renewal_flags") == 0
        assert detail == "nothing to push: the renewal on 2026-12-20 is more than 29 days away"
        assert book.crm.pushed == []
        return
    assert book.rows("SELECT account_id, flag FROM renewal_flags") == [("a1", "Churn watch")]
    assert detail == "crm flagged a1"
    assert book.crm.pushed == [
        RenewalFlag(
            idempotency_key=key,
            account_id="a1",
            account_name="Alpha Ltd",
            renewal_date=date(2026, 12, 20),
            flag="Churn watch",
            reason="drop",
            evidence=A1_WHY,
            flagged_at=at(FRIDAY),
            account_url="http://127.0.0.1:8000/v1/accounts/a1/health",
            settings={},
        )
    ]


def test_a_run_whose_only_task_could_not_be_written_is_closed_at_once(book: Book) -> None:
    plan = book.plan()  # respond: one task for the owner
    book.pilot(plan)
    book.signal("a4", drop=-0.5)  # no owner
    result = book.run(plan)
    assert result.status == "degraded"
    assert book.count("tasks") == 0
    assert book.rows("SELECT state, closed_at, acknowledged_at FROM playbook_runs") == [
        ("closed", "2026-11-20T09:00:00+00:00", None)
    ]
