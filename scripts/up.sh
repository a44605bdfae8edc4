#!/usr/bin/env bash
# The main job: set up, start a local PostgreSQL, point a local Pulumi stack at it and run
# `pulumi up` (extra arguments go to `pulumi up`, e.g. --yes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec venv/bin/python -m pg_tenants.local.quickstart "$@"
