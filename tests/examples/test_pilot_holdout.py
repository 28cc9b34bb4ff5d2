"""examples/pilot-holdout/pilot.sh: set up a pilot with a hold-out and read a pilot's effect."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "examples" / "pilot-holdout" / "pilot.sh"


def test_the_pilot_example_sets_up_a_pilot_and_reads_its_effect_by_cohort(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELLTALES_", "OTEL_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path)], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Pilot na-midmarket-q1 enabled: groups na-midmarket from 2026-11-21, 25% held out" in out
    assert "control group: 25% of accounts, by stable hash" in out
    # The next day's run: tasks only for the two pilots' groups (pilot cohorts).
    tasks = [line.split("\t") for line in out.splitlines() if "\topen\twork\t" in line]
    assert tasks
    assert {row[4].split("@")[0].split(".", 1)[1] for row in tasks} <= {
        "na-midmarket",
        "emea-midmarket",
    }
    # Every cohort has its own row in the retention report, with renewals behind it.
    rows = {
        match.group(1): int(match.group(2))
        for match in re.finditer(
            r"^(pilot|control|none)\s.*?\s(\d+)\s+\d+(?:\s+too few renewals yet .*)?$",
            out,
            re.MULTILINE,
        )
    }
    assert set(rows) >= {"pilot", "control", "none"}
    # The hold-out is small (README: nine renewals): its figures are withheld with its
    # count, and the pilot-minus-control gap says why it has no interval.
    assert rows["control"] < 20
    assert f"too few renewals yet ({rows['control']}; 20 needed)" in out
    gap = re.search(r"^pilot - control, grr: (.*)$", out, re.MULTILINE)
    assert gap is not None
    assert f"control: too few renewals yet ({rows['control']}; 20 needed)" in gap.group(1)
    assert "flagged_with_playbook" in out
    assert "not_flagged" in out
    assert re.search(r"^all\s+[\d.]+ h\s+[\d.]+ h\s+\d+", out, re.MULTILINE)
