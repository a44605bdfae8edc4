#!/usr/bin/env bash
# Sets up everything the tests need, then runs all three tiers (extra arguments go to pytest).
# PostgreSQL majors under test: PG_TENANTS_PG_VERSIONS (default 14,15; "all" = 13..18).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec venv/bin/python -m pytest "$@"
