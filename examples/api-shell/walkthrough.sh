#!/usr/bin/env bash
# Call a running telltales API from the shell with curl: upsert the example accounts,
# ingest every example plugin's records, set up a pilot for the APAC mid-market group,
# run 2026-11-20, read ferrum's health, complete the task the pilot's playbook opened,
# record two renewals and read two metrics for November.
#
#   TELLTALES_URL=http://127.0.0.1:8000 TELLTALES_TOKEN=tt_... ./walkthrough.sh
#
# The token must be an admin key (pilots and runs need it). Needs curl 7.76 or later
# (--fail-with-body) and python3, which only picks values out of the JSON answers.
set -euo pipefail

: "${TELLTALES_URL:?set TELLTALES_URL, e.g. http://127.0.0.1:8000}"
: "${TELLTALES_TOKEN:?set TELLTALES_TOKEN to an admin key token (see README.md)}"
DATA="$(cd "$(dirname "${BASH_SOURCE[0]}")/../data" && pwd)"
FROM=2026-11-01
TO=2026-11-30

# [docs:call]
# api METHOD PATH [curl options]: the answer's JSON on stdout; on an HTTP error the
# problem detail on stderr and the script stops.
api() {
  local method=$1 path=$2 answer status=0
  shift 2
  answer=$(curl --silent --show-error --fail-with-body --request "$method" \
    --header "Authorization: Bearer $TELLTALES_TOKEN" "$@" "$TELLTALES_URL$path") || status=$?
  if ((status != 0)); then
    printf 'error: %s %s failed (curl exit %d)\n%s\n' "$method" "$path" "$status" "$answer" >&2
    exit 1
  fi
  printf '%s\n' "$answer"
}

# send METHOD PATH: api with the JSON body read from stdin.
send() {
  api "$1" "$2" --header "Content-Type: application/json" --data-binary @- "${@:3}"
}
# [/docs:call]

# pick PATH: one value of the JSON on stdin, by dotted path (items.0.task_id); nothing
# on stdin (the call before it failed and said why) fails quietly.
pick() {
  python3 -c '
import json, sys
text = sys.stdin.read()
if not text:
    sys.exit(1)
value = json.loads(text)
for key in sys.argv[1].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value if isinstance(value, str) else json.dumps(value, indent=2))
' "$1"
}

echo "== accounts (PUT /v1/accounts)"
{ printf '{"accounts": '; cat "$DATA/accounts.json"; printf '}'; } | send PUT /v1/accounts

echo "== records (POST /v1/ingest/{source}: the file's name is the source)"
for file in "$DATA"/*.json "$DATA"/*.jsonl; do
  source=$(basename "${file%.*}")
  [[ $source == accounts ]] && continue
  if [[ $file == *.jsonl ]]; then
    # One JSON object a line: join the lines with commas into one array.
    { printf '{"records": ['; grep -v '^[[:space:]]*$' "$file" | paste -sd, -; printf ']}'; } |
      send POST "/v1/ingest/$source"
  else
    { printf '{"records": '; cat "$file"; printf '}'; } | send POST "/v1/ingest/$source"
  fi
done

echo "== pilot (POST /v1/pilots)"
send POST /v1/pilots <<'JSON' | pick state
{"pilot_id": "apac-pilot", "csm_groups": ["apac-midmarket"],
 "rules": ["core_feature_drop", "sponsor_left", "score_red"],
 "playbooks": ["at_risk_response"], "starts_on": "2026-11-01"}
JSON

echo "== run 2026-11-20 (POST /v1/runs; a retry with the same Idempotency-Key is not run twice)"
# [docs:run]
echo '{"as_of": "2026-11-20"}' |
  send POST /v1/runs --header "Idempotency-Key: walkthrough-sh-run-2026-11-20" | pick runs.0.actions
# [/docs:run]

echo "== ferrum's health (GET /v1/accounts/ferrum/health)"
health=$(api GET /v1/accounts/ferrum/health)
echo "status:      $(pick status.label <<<"$health")"
echo "top reason:  $(pick rules.0.evidence <<<"$health")"
echo "next action: $(pick next_action.action <<<"$health")"

echo "== the open task, completed (GET /v1/tasks?state=open, POST /v1/tasks/{id}/complete)"
task_id=$(api GET "/v1/tasks?state=open" | pick items.0.task_id)
api POST "/v1/tasks/$task_id/complete"

echo "== renewals (PUT /v1/renewals): ferrum churned, bluepeak expanded"
send PUT /v1/renewals <<'JSON'
{"renewals": [
  {"account_id": "ferrum", "renewal_date": "2026-11-25", "arr_before": 150000,
   "arr_after": 0, "discount_percent": 0, "outcome": "churned"},
  {"account_id": "bluepeak", "renewal_date": "2026-11-26", "arr_before": 420000,
   "arr_after": 462000, "discount_percent": 5, "outcome": "renewed"}
]}
JSON

echo "== time to acknowledge, $FROM to $TO (GET /v1/metrics/time-to-acknowledge)"
api GET "/v1/metrics/time-to-acknowledge?from=$FROM&to=$TO" | pick overall

echo "== retention, $FROM to $TO (GET /v1/metrics/retention)"
api GET "/v1/metrics/retention?from=$FROM&to=$TO" | pick overall
