#!/usr/bin/env bash
# Sets up everything the tests need, then runs all three tiers (extra arguments go to pytest).
# PostgreSQL majors under test: PG_TENANTS_PG_VERSIONS (default 14,15; "all" = 13..18).
# Without arguments the PostgreSQL tier runs one process per major, two at a time: each
# process mostly waits on its own server, so two share the machine's cores well.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
if [ $# -gt 0 ]; then
  exec venv/bin/python -m pytest "$@"
fi
versions=${PG_TENANTS_PG_VERSIONS:-14,15}
[ "$versions" = all ] && versions=13,14,15,16,17,18
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
venv/bin/python -m pytest tests/program tests/engine || status=1
tr ',' '\n' <<< "$versions" | xargs -P 2 -I{} sh -c \
  'PG_TENANTS_PG_VERSIONS={} venv/bin/python -m pytest tests/postgres > "$0/pg{}.log" 2>&1; echo $? > "$0/pg{}.rc"' "$logs"
for major in $(tr ',' ' ' <<< "$versions"); do
  echo "=== PostgreSQL tier, PostgreSQL $major ==="
  cat "$logs/pg$major.log"
  [ "$(cat "$logs/pg$major.rc")" = 0 ] || status=1
done
exit $status
