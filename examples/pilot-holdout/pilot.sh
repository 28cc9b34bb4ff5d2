#!/usr/bin/env bash
# Set up a pilot for one CSM group with a hold-out, then read a pilot's effect.
#
#   examples/pilot-holdout/pilot.sh WORKDIR
#
# Builds a small demo book (300 accounts, 35 weeks ending 2026-11-20) in WORKDIR; the
# demo ran its own pilot for emea-midmarket with 30% held out. This script sets up a
# second pilot, for na-midmarket, runs the next day, and reads the first pilot's effect
# with `telltales metrics`. Needs `telltales` on PATH (python3 dev.py test sets it up).
set -euo pipefail
work=${1:?usage: pilot.sh WORKDIR}
export TELLTALES_DB="$work/book.db" TELLTALES_CONFIG="$work/book.toml"

# [docs:build]
telltales demo --accounts 300 --days 245 --end 2026-11-20 --no-serve --replace > "$work/demo.txt"
# [/docs:build]

echo "== set up: a pilot for na-midmarket, a quarter of its accounts held out"
# [docs:create]
telltales pilots create na-midmarket-q1 \
  --group na-midmarket \
  --rule core_feature_drop --rule score_red --rule sponsor_left \
  --playbook at_risk_response \
  --starts-on 2026-11-21 --holdout 0.25 \
  --description "At-Risk playbook live for NA mid-market; 25% held out" \
  --by ops@vendor.example
telltales pilots show na-midmarket-q1
# [/docs:create]

echo "== the next day's run: live in the pilot cohort, shadow in the hold-out"
# [docs:run]
telltales run --as-of 2026-11-21
telltales tasks list
# [/docs:run]

echo "== the effect of the pilot that ran all year (emea-midmarket-pilot)"
# [docs:effect]
telltales metrics retention --from 2026-03-20 --to 2026-11-20 --group-by cohort
telltales metrics risk-reversal --from 2026-03-20 --to 2026-11-20 --window-days 60 \
  --as-of 2026-11-20 --group-by cohort
telltales metrics time-to-acknowledge --from 2026-03-20 --to 2026-11-20 --cohort pilot
telltales metrics renewal-by-cohort --from 2026-03-20 --to 2026-11-20
# [/docs:effect]
