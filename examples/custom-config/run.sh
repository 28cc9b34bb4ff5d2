#!/usr/bin/env bash
# Try the custom configuration beside this script on the example book of business:
# build a database from examples/data, start a pilot for the enterprise group, run
# 2026-11-20, then show the enterprise scores, the statuses the rules set, the
# playbook runs, and the task the playbook opened.
#
#   examples/custom-config/run.sh [DATABASE]    # default: ./custom-config.db
#
# Needs the telltales command on PATH (. .venv/bin/activate in a checkout). The
# database must not exist yet: the pilot can be created only once.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA="$HERE/../data"
DB="${1:-custom-config.db}"
if [[ -e $DB ]]; then
  echo "error: $DB exists; remove it or name another file" >&2
  exit 1
fi
export TELLTALES_CONFIG="$HERE/telltales.toml"
export TELLTALES_DB="$DB"

echo "== the database, from examples/data"
# [docs:build]
telltales init
telltales ingest accounts "$DATA/accounts.json"
for file in "$DATA"/*.json "$DATA"/*.jsonl; do
  source=$(basename "${file%.*}")
  [[ $source == accounts ]] || telltales ingest "$source" "$file"
done
# [/docs:build]

echo "== the rules and playbooks in force"
# [docs:check]
telltales rules
# [/docs:check]

echo "== a pilot: the enterprise playbook goes live for na-enterprise"
# [docs:pilot]
telltales pilots create enterprise-adoption --group na-enterprise \
  --rule enterprise_seat_shortfall --playbook enterprise_adoption_plan \
  --starts-on 2026-11-01 --by ops@vendor.example
# [/docs:pilot]

echo "== the run"
# [docs:run]
telltales run --as-of 2026-11-20
# [/docs:run]

echo "== enterprise accounts: the enterprise_health card"
# [docs:look]
telltales score bluepeak solstice
# [/docs:look]

echo "== another segment: the shipped dear card"
telltales score ferrum

echo "== statuses, and the rules behind them"
for account in bluepeak solstice ferrum tidewater; do
  telltales status "$account" --as-of 2026-11-20
done

echo "== playbook runs: live in the pilot, shadow elsewhere"
telltales playbooks

echo "== the playbook's task, and its renewal flag"
# [docs:act]
telltales tasks list
telltales tasks show 1
telltales outbox list
# [/docs:act]
