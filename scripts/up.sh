#!/usr/bin/env bash
# usage: scripts/up.sh [pulumi up arguments, e.g. --yes]
#
# The main job: set up (scripts/setup.sh), start a local PostgreSQL under .pg-tenants/, point the
# local Pulumi stack `local` at it and run `pulumi up` (extra arguments go to `pulumi up`).
# It ends with how to reach the stack (`. .pg-tenants/env`) and what to run next.
# Stop the database: venv/bin/python -m pg_tenants.local stop --data-dir .pg-tenants/postgres
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
esac
scripts/setup.sh
exec venv/bin/python -m pg_tenants.local.quickstart "$@"
