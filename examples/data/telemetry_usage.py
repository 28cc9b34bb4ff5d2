"""Writes telemetry.usage.jsonl: 90 days of product usage for the six example accounts.

    python3 examples/data/telemetry_usage.py

Deterministic (a fixed seed), so the committed file is exactly what this prints;
tests/examples/test_data.py checks that. Each account follows the story the other
example files tell:

- solstice: thriving, most seats active in every core feature;
- northwind: healthy and steady;
- bluepeak: half its seats deployed, audit barely used, workflows falling lately;
- ferrum: logins hold up while core-feature use decays, reporting dropping fast,
  and one power user doing most of the work;
- quillworks: onboarding, usage started six weeks ago and is growing;
- tidewater: a handful of users, audit never touched.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

AS_OF = date(2026, 11, 20)
DAYS = 90
OUT = Path(__file__).with_name("telemetry.usage.jsonl")

# account: (active users, chance a user is active on a day, features with weights,
#           teams, how usage changes over the 90 days)
STORIES: dict[str, tuple[int, float, dict[str, float], tuple[str, ...], str]] = {
    "solstice": (
        190,
        0.16,
        {"reporting": 3, "workflows": 3, "dashboards": 3, "api": 1, "alerts": 2, "exports": 1},
        ("merchandising", "stores", "finance", "supply", "it"),
        "steady",
    ),
    "northwind": (
        45,
        0.18,
        {"dashboards": 3, "reporting": 3, "alerts": 2, "exports": 1},
        ("dispatch", "finance", "fleet"),
        "steady",
    ),
    "bluepeak": (
        52,
        0.15,
        {"reporting": 4, "workflows": 3, "api": 1, "audit": 0.2, "dashboards": 2},
        ("clinical-ops", "finance", "it"),
        "workflows_falling",
    ),
    "ferrum": (
        24,
        0.2,
        {"workflows": 3, "alerts": 2, "reporting": 3, "exports": 1},
        ("plant", "quality"),
        "decaying",
    ),
    "quillworks": (
        14,
        0.25,
        {"dashboards": 3, "sharing": 2, "templates": 2},
        ("studio",),
        "ramping",
    ),
    "tidewater": (
        7,
        0.2,
        {"dashboards": 3, "alerts": 1, "exports": 1},
        ("member-services",),
        "steady",
    ),
}


def rows() -> list[dict[str, object]]:
    rng = random.Random(20261120)
    made: list[dict[str, object]] = []
    first = AS_OF - timedelta(days=DAYS - 1)
    for account_id, (users, chance, features, teams, shape) in STORIES.items():
        names, weights = list(features), list(features.values())
        for index in range(users):
            user = f"{account_id[:3]}-{index:03d}@{account_id}.example"
            team = teams[index % len(teams)]
            power = shape == "decaying" and index == 0
            for offset in range(DAYS):
                day = first + timedelta(days=offset)
                progress = offset / (DAYS - 1)
                odds = chance * (4 if power else 1)
                if shape == "decaying":  # people still sign in, to look, not to work
                    odds *= 0.9 + 0.25 * progress
                if shape == "ramping":
                    odds = 0 if offset < 48 else chance * (0.5 + (offset - 48) / 42)
                if day.weekday() >= 5 or rng.random() >= odds:
                    continue
                used = {rng.choices(names, weights)[0] for _ in range(1 + (rng.random() < 0.4))}
                logins = 1 + (rng.random() < 0.3)
                for feature in sorted(used):
                    events = rng.randint(2, 15) * (3 if power else 1)
                    if shape == "decaying" and feature != "exports":
                        events = max(1, round(events * (1.2 - progress)))
                        if feature == "reporting" and offset >= DAYS - 14 and rng.random() < 0.7:
                            continue
                    if (
                        shape == "workflows_falling"
                        and feature == "workflows"
                        and offset >= DAYS - 14
                        and rng.random() < 0.6
                    ):
                        continue
                    record: dict[str, object] = {
                        "account_id": account_id,
                        "user_id": user,
                        "team": team,
                        "feature": feature,
                        "day": day.isoformat(),
                        "events": events,
                    }
                    if logins:
                        record["logins"], logins = logins, 0
                    made.append(record)
                if logins:  # every feature skipped: the sign-in still happened
                    made.append(
                        {
                            "account_id": account_id,
                            "user_id": user,
                            "team": team,
                            "feature": "home",
                            "day": day.isoformat(),
                            "logins": logins,
                        }
                    )
    return made


def render() -> str:
    return "".join(json.dumps(record) + "\n" for record in rows())


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
