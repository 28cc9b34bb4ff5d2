#!/usr/bin/env bash
# A tour of the telltales command line on the example book of business
# (examples/data): the commands docs/cli.md and docs/operations.md show, in the order
# a new user runs them. Each step prints a "== step" line before its output.
#
#   examples/cli-tour/tour.sh DATABASE WORKDIR [PORT]
#
# DATABASE must not exist yet. WORKDIR receives the backups, an API token and the
# exported spans. PORT (default 8000) is where the API is served for a moment, on
# 127.0.0.1. Needs telltales on PATH (.venv/bin) and python3; runs from any directory.
set -euo pipefail

if (($# < 2)); then
  echo "usage: $0 DATABASE WORKDIR [PORT]" >&2
  exit 2
fi
mkdir -p "$2"
db="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work="$(cd "$2" && pwd)"
port=${3:-8000}
cd "$(dirname "${BASH_SOURCE[0]}")/../.." # the repository root: the paths below start there

echo "== init"
# [docs:init]
export TELLTALES_DB="$db"
export TELLTALES_CONFIG=examples/cli-tour/telltales.toml
telltales init
telltales plugins
# [/docs:init]

echo "== ingest"
# [docs:ingest]
telltales ingest accounts examples/data/accounts.json
telltales ingest telemetry.usage examples/data/telemetry.usage.jsonl
for file in examples/data/{contacts,engagement,firmographics,news,support}.*.json; do
  telltales ingest "$(basename "$file" .json)" "$file" # the file's name is the ingester's
done
telltales accounts
# [/docs:ingest]

echo "== history"
# [docs:history]
telltales history import examples/history/history.json --by ops@vendor.example
# [/docs:history]

echo "== history again"
# [docs:history-again]
telltales history import examples/history/history.json --by ops@vendor.example --json
# [/docs:history-again]

echo "== pilot"
# [docs:pilot]
telltales pilots create apac-pilot --group apac-midmarket \
  --rule core_feature_drop --rule sponsor_left --rule score_red \
  --playbook at_risk_response --starts-on 2026-11-01 --holdout 0.2 \
  --description "At-Risk playbook for the APAC mid-market team" --by ops@vendor.example
telltales pilots disable apac-pilot --by ops@vendor.example --reason "holiday freeze"
telltales pilots enable apac-pilot --by ops@vendor.example
telltales pilots show apac-pilot
# [/docs:pilot]

echo "== rules"
# [docs:rules]
telltales rules
# [/docs:rules]

echo "== run"
# [docs:run]
telltales run --as-of 2026-11-20
# [/docs:run]

echo "== read"
# [docs:read]
telltales signals ferrum
telltales score ferrum quillworks
telltales status ferrum --as-of 2026-11-20
telltales status ferrum --history
telltales playbooks --mode live
# [/docs:read]

echo "== tasks"
# [docs:tasks]
telltales tasks list
# The ids, picked out of the JSON listings: the new task for ferrum, and the task
# imported with tidewater's history.
first_open() {
  telltales tasks list --account "$1" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["task_id"])'
}
ferrum_task=$(first_open ferrum)
tidewater_task=$(first_open tidewater)
telltales tasks show "$ferrum_task"
telltales tasks done "$ferrum_task" --by li.chen@vendor.example
telltales tasks dismiss "$tidewater_task" --reason "Re-onboarding done in the spring" \
  --by li.chen@vendor.example
# [/docs:tasks]

echo "== worker"
# [docs:worker]
telltales outbox list
telltales worker --once
telltales outbox list --status failed
# [/docs:worker]

echo "== renewals"
# [docs:renewals]
telltales renewals import examples/cli-tour/renewals.json --by revops@vendor.example
# [/docs:renewals]

echo "== metrics"
# [docs:metrics]
telltales metrics time-to-acknowledge --from 2026-11-01 --to 2026-11-30
telltales metrics retention --from 2025-12-01 --to 2026-11-30 --group-by csm_group
telltales metrics alert-load --from 2026-11-01 --to 2026-11-30 --json
# [/docs:metrics]

echo "== pilot end"
# [docs:pilot-end]
telltales pilots end apac-pilot --by ops@vendor.example --reason "rolled out to every group"
telltales pilots list
# [/docs:pilot-end]

echo "== keys"
# [docs:keys]
telltales keys create --scope read --name bi-dashboard >"$work/dashboard.token"
telltales keys create --scope ingest --scope act --csm-group apac-midmarket --name apac-sync \
  --json >"$work/apac-sync.json"
telltales keys list
# [/docs:keys]

echo "== rotate"
# [docs:rotate]
old=$(cut -d_ -f2 "$work/dashboard.token") # a token is tt_<key id>_<secret>
telltales keys create --scope read --name bi-dashboard >"$work/dashboard.token"
telltales keys revoke "$old" --by ops@vendor.example
# [/docs:rotate]

echo "== serve"
# [docs:serve]
telltales serve --host 127.0.0.1 --port "$port" --workers 1 &
server=$!
# [/docs:serve]
trap 'kill "$server" 2>/dev/null || true' EXIT
# Wait for /readyz, then read the accounts with the new token, as a tool would.
python3 - "$port" "$work/dashboard.token" <<'PY'
import json, sys, time, urllib.request

port, token_file = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
deadline = time.monotonic() + 60
while True:
    try:
        opener.open(f"{base}/readyz", timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the server did not become ready")
        time.sleep(0.2)
token = open(token_file).read().strip()
request = urllib.request.Request(f"{base}/v1/accounts", headers={"Authorization": f"Bearer {token}"})
accounts = json.load(opener.open(request, timeout=10))["items"]
print("accounts over the API:", ", ".join(a["account"]["account_id"] for a in accounts))
PY
# [docs:stop]
kill -TERM "$server" # the requests in hand are answered, then the workers stop
wait "$server"
# [/docs:stop]
trap - EXIT

echo "== telemetry"
# [docs:otel]
OTEL_TRACES_EXPORTER=console telltales run --as-of 2026-11-21 2>"$work/spans.txt"
# [/docs:otel]

echo "== backup"
# [docs:backup]
python3 - "$TELLTALES_DB" "$work/telltales-backup.db" <<'PY'
import sqlite3, sys

source, target = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
source.backup(target)  # a consistent copy, while servers and workers go on writing
target.close()
PY
# [/docs:backup]

echo "== compact copy"
# [docs:vacuum]
python3 - "$TELLTALES_DB" "$work/telltales-compact.db" <<'PY'
import sqlite3, sys

sqlite3.connect(sys.argv[1]).execute("VACUUM INTO ?", [sys.argv[2]])
copy = sqlite3.connect(sys.argv[2])
copy.execute("PRAGMA journal_mode = WAL")  # VACUUM INTO writes a rollback-journal file
print(copy.execute("PRAGMA integrity_check").fetchone()[0])
PY
# [/docs:vacuum]

echo "== restore"
telltales keys create --scope read --name after-the-backup >/dev/null
# [docs:restore]
rm -f "$TELLTALES_DB-wal" "$TELLTALES_DB-shm" # stale WAL must never meet the restored file
cp "$work/telltales-backup.db" "$TELLTALES_DB"
telltales init
telltales keys list
# [/docs:restore]
