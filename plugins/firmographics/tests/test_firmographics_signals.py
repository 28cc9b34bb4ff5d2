"""The three signals, with hand-computed values and their exact evidence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from telltales.testing import PluginHarness
from telltales_firmographics import FirmographicsSource

DAY = date(2026, 11, 20)
SnapshotFactory = Callable[..., dict[str, Any]]

ICP = """
[plugins.firmographics]
industries = ["logistics", "retail"]
regions = ["EMEA", "NA"]
required_products = ["api"]
"""


def run(env: PluginHarness, day: date = DAY) -> None:
    assert env.run(day).status == "ok"


def test_the_source_declares_every_key_it_emits() -> None:
    specs = {s.key: (s.dimension, s.higher_is_better) for s in FirmographicsSource.signals}
    assert specs == {
        "firmographics.icp_fit": ("fit", True),
        "firmographics.employee_change_180d": ("current_state", True),
        "firmographics.products_owned": ("fit", True),
    }


def test_icp_fit_is_the_share_of_criteria_met(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.configure_toml(ICP)
    env.ingest(
        "firmographics.snapshots",
        [
            snapshot(),
            snapshot(
                account_id="a2",
                industry="healthcare",
                employee_count=25000,
                region="APAC",
                products=["core", "api"],
            ),
        ],
    )
    run(env)
    # a1: industry, size and region met, product 'api' missing -> 3 of 4 equal weights = 0.75
    assert env.observed("a1", "firmographics.icp_fit", DAY) == (
        0.75,
        "snapshot of 2026-11-02 fits 3 of 4 ICP criteria (75%): "
        "industry logistics is in [logistics, retail]; 1,800 employees within 200..20,000; "
        "region EMEA is in [EMEA, NA]; missing required product 'api'",
    )
    assert env.signal("a1", "firmographics.icp_fit", DAY).dimension == "fit"
    # a2: only the required product is met -> 1 of 4 = 0.25
    assert env.observed("a2", "firmographics.icp_fit", DAY) == (
        0.25,
        "snapshot of 2026-11-02 fits 1 of 4 ICP criteria (25%): "
        "industry healthcare is not in [logistics, retail]; "
        "25,000 employees outside 200..20,000; region APAC is not in [EMEA, NA]; "
        "owns required product 'api'",
    )


def test_icp_fit_weighs_the_criteria(env: PluginHarness, snapshot: SnapshotFactory) -> None:
    env.configure_toml(ICP + "weights = { industry = 2, products = 3 }\n")
    env.ingest("firmographics.snapshots", [snapshot()])
    run(env)
    # met: industry 2 + employees 1 + region 1 = 4; total 2 + 1 + 1 + 3 = 7; 4 / 7 = 0.571428...
    fit = env.signal("a1", "firmographics.icp_fit", DAY)
    assert fit.value == 0.5714
    assert fit.evidence.startswith(
        "snapshot of 2026-11-02 fits 3 of 4 ICP criteria (weighted 57%): "
    )


def test_icp_names_compare_without_regard_to_case(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.configure_toml(ICP.replace('["api"]', '["api", "Reporting"]'))
    env.ingest(
        "firmographics.snapshots",
        [snapshot(industry="Logistics", region="emea", products=["API", "reporting"])],
    )
    run(env)
    # all four criteria met -> 4 of 4 = 1.0
    assert env.observed("a1", "firmographics.icp_fit", DAY) == (
        1.0,
        "snapshot of 2026-11-02 fits 4 of 4 ICP criteria (100%): "
        "industry Logistics is in [logistics, retail]; 1,800 employees within 200..20,000; "
        "region emea is in [EMEA, NA]; owns required products 'api', 'Reporting'",
    )


def test_without_an_icp_only_company_size_counts(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.ingest(
        "firmographics.snapshots",
        [snapshot(), snapshot(account_id="a2", employee_count=None)],
    )
    run(env)
    # empty industries, regions and required products are not counted: 1 of 1 = 1.0
    assert env.observed("a1", "firmographics.icp_fit", DAY) == (
        1.0,
        "snapshot of 2026-11-02 fits 1 of 1 ICP criterion (100%): "
        "1,800 employees within 200..20,000",
    )
    # an unknown size is not a fit: 0 of 1 = 0.0
    assert env.observed("a2", "firmographics.icp_fit", DAY) == (
        0.0,
        "snapshot of 2026-11-02 fits 0 of 1 ICP criterion (0%): "
        "employee count not reported (ICP 200..20,000)",
    )


def test_missing_required_products_are_named(env: PluginHarness, snapshot: SnapshotFactory) -> None:
    env.configure_toml(
        '[plugins.firmographics]\nrequired_products = ["api", "workflows", "core"]\n'
    )
    env.ingest("firmographics.snapshots", [snapshot()])
    run(env)
    # size met, products missed -> 1 of 2 = 0.5
    fit = env.signal("a1", "firmographics.icp_fit", DAY)
    assert fit.value == 0.5
    assert fit.evidence.endswith("missing required products 'api', 'workflows'")


def test_employee_change_against_a_snapshot_180_days_older(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.ingest(
        "firmographics.snapshots",
        [
            snapshot(as_of="2026-05-04", employee_count=3650),
            snapshot(employee_count=3100),
            snapshot(account_id="a2", as_of="2026-05-04", employee_count=1750),
            snapshot(account_id="a2", employee_count=1800),
        ],
    )
    run(env)
    # a1: (3100 - 3650) / 3650 = -550 / 3650 = -0.150684... -> -0.1507; 182 days apart
    assert env.observed("a1", "firmographics.employee_change_180d", DAY) == (
        -0.1507,
        "employee count fell from 3,650 on 2026-05-04 to 3,100 on 2026-11-02 "
        "(-15.1% over 182 days)",
    )
    assert env.signal("a1", "firmographics.employee_change_180d", DAY).dimension == "current_state"
    # a2: (1800 - 1750) / 1750 = 50 / 1750 = 0.028571... -> 0.0286
    assert env.observed("a2", "firmographics.employee_change_180d", DAY) == (
        0.0286,
        "employee count rose from 1,750 on 2026-05-04 to 1,800 on 2026-11-02 (+2.9% over 182 days)",
    )


def test_an_unchanged_headcount_is_a_zero_change(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.ingest("firmographics.snapshots", [snapshot(as_of="2026-05-04"), snapshot()])
    run(env)
    assert env.observed("a1", "firmographics.employee_change_180d", DAY) == (
        0.0,
        "employee count unchanged at 1,800 between 2026-05-04 and 2026-11-02 (182 days apart)",
    )


def test_no_employee_change_without_a_snapshot_old_enough(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    # 2026-06-01 to 2026-11-02 is 154 days, short of 180; a2's earlier count is 0
    env.ingest(
        "firmographics.snapshots",
        [
            snapshot(as_of="2026-06-01", employee_count=3650),
            snapshot(),
            snapshot(account_id="a2", as_of="2026-05-04", employee_count=0),
            snapshot(account_id="a2"),
        ],
    )
    run(env)
    assert "firmographics.employee_change_180d" not in env.signals("a1", DAY)
    assert "firmographics.employee_change_180d" not in env.signals("a2", DAY)


def test_employee_change_uses_the_latest_snapshots_that_report_a_count(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.ingest(
        "firmographics.snapshots",
        [
            snapshot(as_of="2025-11-03", employee_count=4000),
            snapshot(as_of="2026-05-04", employee_count=3650),
            snapshot(employee_count=None),
        ],
    )
    run(env)
    # (3650 - 4000) / 4000 = -0.0875; 2025-11-03 to 2026-05-04 is 182 days
    assert env.observed("a1", "firmographics.employee_change_180d", DAY) == (
        -0.0875,
        "employee count fell from 4,000 on 2025-11-03 to 3,650 on 2026-05-04 (-8.8% over 182 days)",
    )


def test_the_employee_change_window_is_a_setting(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.ingest(
        "firmographics.snapshots",
        [
            snapshot(as_of="2026-01-05", employee_count=4000),
            snapshot(as_of="2026-05-04", employee_count=3650),
            snapshot(employee_count=3100),
        ],
    )
    env.configure_toml("[plugins.firmographics]\nemployee_change_min_days = 200\n")
    run(env)
    # 2026-05-04 is only 182 days back; 2026-01-05 is 26 + 273 + 2 = 301 days back
    # (3100 - 4000) / 4000 = -0.225
    assert env.observed("a1", "firmographics.employee_change_180d", DAY) == (
        -0.225,
        "employee count fell from 4,000 on 2026-01-05 to 3,100 on 2026-11-02 "
        "(-22.5% over 301 days)",
    )


def test_products_owned_counts_and_names_them(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.ingest(
        "firmographics.snapshots",
        [
            snapshot(as_of="2026-05-04", products=["core"]),
            snapshot(products=["core", "reporting"]),
            snapshot(account_id="a2", products=[]),
        ],
    )
    run(env)
    # the latest snapshot lists core and reporting: 2
    assert env.observed("a1", "firmographics.products_owned", DAY) == (
        2,
        "owns 2 of our products per the snapshot of 2026-11-02: core, reporting",
    )
    assert env.signal("a1", "firmographics.products_owned", DAY).dimension == "fit"
    # an empty list is a real observation: 0
    assert env.observed("a2", "firmographics.products_owned", DAY) == (
        0,
        "owns none of our products per the snapshot of 2026-11-02 (its product list is empty)",
    )


def test_an_account_without_snapshots_gets_no_signal(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.ingest("firmographics.snapshots", [snapshot()])
    run(env)
    assert env.signals("a2", DAY, source="firmographics") == {}
    assert len(env.signals("a1", DAY, source="firmographics")) == 2


def test_a_run_never_sees_a_later_snapshot(env: PluginHarness, snapshot: SnapshotFactory) -> None:
    env.ingest(
        "firmographics.snapshots",
        [
            snapshot(as_of="2026-05-04", employee_count=1750, products=["core"]),
            snapshot(),
            snapshot(as_of="2026-12-01", employee_count=100, products=[]),
        ],
    )
    run(env)
    assert env.signal("a1", "firmographics.products_owned", DAY).value == 2
    assert env.signal("a1", "firmographics.icp_fit", DAY).value == 1.0
    earlier = date(2026, 7, 1)
    run(env, earlier)
    signals = env.signals("a1", earlier, source="firmographics")
    assert set(signals) == {"firmographics.icp_fit", "firmographics.products_owned"}
    assert signals["firmographics.products_owned"].value == 1
    assert "1,750 employees" in signals["firmographics.icp_fit"].evidence
    before_any = date(2026, 5, 3)
    run(env, before_any)
    assert env.signals("a1", before_any, source="firmographics") == {}


def test_a_stale_snapshot_gives_no_signal(env: PluginHarness, snapshot: SnapshotFactory) -> None:
    # a1: 2025-11-01 is 384 days before 2026-11-20, past the default 365
    # a2: 2025-11-20 is exactly 365 days before, still in use
    env.ingest(
        "firmographics.snapshots",
        [
            snapshot(as_of="2025-05-01", employee_count=2000),
            snapshot(as_of="2025-11-01"),
            snapshot(account_id="a2", as_of="2025-11-20"),
        ],
    )
    run(env)
    assert env.signals("a1", DAY, source="firmographics") == {}
    assert set(env.signals("a2", DAY, source="firmographics")) == {
        "firmographics.icp_fit",
        "firmographics.products_owned",
    }


def test_how_old_a_snapshot_may_be_is_a_setting(
    env: PluginHarness, snapshot: SnapshotFactory
) -> None:
    env.ingest(
        "firmographics.snapshots",
        [snapshot(as_of="2025-05-01", employee_count=2000), snapshot(as_of="2025-11-01")],
    )
    env.configure_toml("[plugins.firmographics]\nstale_after_days = 400\n")
    run(env)
    # (1800 - 2000) / 2000 = -0.1
    assert env.signal("a1", "firmographics.employee_change_180d", DAY).value == -0.1
    assert env.signal("a1", "firmographics.icp_fit", DAY).evidence.startswith(
        "snapshot of 2025-11-01 fits"
    )
