#!/usr/bin/env bash
# Use the installed plugin on the example book of business: its table, its records,
# its signal, a rule on that signal and a playbook that runs its action, live for the
# apac-midmarket group.
#
#   pip install examples/vendor-plugin        # into the environment that has telltales
#   examples/vendor-plugin/try.sh [DATABASE]  # default: ./acme-nps.db
#
# The configuration is telltales.toml beside this script unless TELLTALES_CONFIG
# names another file. The database must not exist yet: the pilot can be created
# only once.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ACCOUNTS="$HERE/../data/accounts.json"
DB="${1:-acme-nps.db}"
if [[ -e $DB ]]; then
  echo "error: $DB exists; remove it or name another file" >&2
  exit 1
fi
export TELLTALES_CONFIG="${TELLTALES_CONFIG:-$HERE/telltales.toml}"
export TELLTALES_DB="$DB"

echo "== the plugin is installed"
# [docs:plugins]
telltales plugins
# [/docs:plugins]

echo "== its table, its records"
# [docs:ingest]
telltales init
telltales ingest accounts "$ACCOUNTS"
telltales ingest acme_nps.responses "$HERE/answers.json"
# [/docs:ingest]

echo "== a pilot, and a run"
# [docs:run]
telltales pilots create nps-follow-up --group apac-midmarket --rule nps_detractors \
  --playbook nps_follow_up --starts-on 2026-11-01 --by ops@vendor.example
telltales run --as-of 2026-11-20
# [/docs:run]

echo "== its signal, the status it set, the tasks the playbook opened"
# [docs:look]
telltales signals ferrum
telltales status ferrum --as-of 2026-11-20
telltales tasks list
# [/docs:look]
